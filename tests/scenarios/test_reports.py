"""The scenario report: invoices and payments with money formatted, duplicate and reorder faults counted from the
simulators' own counters, timelines in scenario time, failures first, step labels never cut mid-word, and a
result whose repr is its explanation (so `assert result.ok` in pytest says why)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from q2c_harness.harness.reports import failures_first, invoice_rows, money, payment_rows, timelines, write_reports
from q2c_harness.harness.runner import ScenarioResult, run_scenario, step_line
from q2c_harness.harness.scenario import load_scenario


@pytest.fixture(scope="module")
def dupes() -> ScenarioResult:
    result = run_scenario(load_scenario("duplicates_and_replay"))
    assert result.ok, result.explain()
    return result


@pytest.fixture(scope="module")
def paid() -> ScenarioResult:
    result = run_scenario(load_scenario("multi_entity_tm"))
    assert result.ok, result.explain()
    return result


def test_money_is_formatted_with_its_currency() -> None:
    assert money("9765.0", "USD") == "USD 9,765.00"
    assert money("0.005", "EUR") == "EUR 0.01"  # half up, to the currency's minor unit
    assert money("1234.5", "JPY") == "JPY 1,235"
    assert money("-12", "GBP") == "GBP -12.00"


def test_duplicate_and_reorder_faults_are_counted(dupes: ScenarioResult, tmp_path: Path) -> None:
    psa = dupes.faults["psa"]
    assert psa.get("duplicate:psa-dup", 0) > 0 and psa.get("reorder:psa-reorder", 0) > 0, dupes.faults
    html = write_reports([dupes], tmp_path)["html"].read_text()
    assert f"<td>psa</td><td>duplicate</td><td>psa-dup</td><td class=num>{psa['duplicate:psa-dup']}</td>" in html


def test_http_faults_and_quotas_come_from_the_metrics() -> None:
    result = run_scenario(load_scenario("month_end_storm"))
    ns = result.faults["netsuite"]
    assert any(k.startswith("error:ns-") and n > 0 for k, n in ns.items()), result.faults


def test_invoice_table(dupes: ScenarioResult, tmp_path: Path) -> None:
    [row] = invoice_rows(dupes)
    assert row["engagement"] == "E4" and row["invoice"] and row["currency"] == "USD"
    assert row["period"] == "2026-11-09 to 2026-11-10" and row["status"] == "posted"
    html = write_reports([dupes], tmp_path)["html"].read_text()
    assert "<td class=num>USD 9,765.00</td>" in html and "<td class=num>USD 0.00</td>" in html
    doc = json.loads((tmp_path / "scenarios.json").read_text())
    assert doc[0]["invoices"][0]["gross"] == row["gross"]


def test_payment_table(paid: ScenarioResult, tmp_path: Path) -> None:
    rows = payment_rows(paid)
    assert rows and all(r["applied_to"] for r in rows)
    invoice = invoice_rows(paid)[0]
    assert any(a.startswith(invoice["invoice"] + " USD ") for r in rows for a in r["applied_to"])
    assert "<h3>Payments (" in write_reports([paid], tmp_path)["html"].read_text()


def test_timelines_are_in_scenario_time(dupes: ScenarioResult) -> None:
    lines = timelines(dupes)
    assert lines
    for _cid, events in lines:
        for e in events:
            assert e["scenario_time"].startswith("2026-11-"), e
            assert e["step"], e
    billed = [e for _cid, events in lines for e in events if e["step"].endswith("billing_run")]
    assert billed and all(e["scenario_time"].startswith("2026-11-30T23:55") for e in billed)


def test_failures_first_and_the_explanation_as_repr(dupes: ScenarioResult) -> None:
    failed = ScenarioResult("broken", "", 1, "in-process", None, error="step 3 sync: boom")
    assert [r.name for r in failures_first([dupes, failed])] == ["broken", dupes.name]
    assert repr(failed) == "<ScenarioResult scenario broken (seed 1, in-process): FAIL\n  error: step 3 sync: boom>"
    assert len(repr(dupes)) < 200  # not the facts


def test_step_labels_are_shortened_at_a_word() -> None:
    label = "close_quote(engagement=E1, client=C1, entity=US, billing=time_and_materials, currency=USD)"
    line = step_line(1, label, 0.5, True)
    assert "close_quote(engagement=E1, client=C1, ..." in line
    shown = line.split("] ", 1)[1].split("  ")[0]
    assert shown == "close_quote(engagement=E1, client=C1, ..." and len(shown) <= 44


def test_a_run_that_evaluated_nothing_fails_with_a_one_line_reason() -> None:
    from q2c_harness.harness.invariants import InvariantResult
    from q2c_harness.harness.reports import reason

    nothing = ScenarioResult("empty", "", 1, "in-process", None)
    assert not nothing.ok and reason(nothing) == "no invariant evaluated"
    idle = ScenarioResult("idle", "", 1, "in-process", None, invariants=[InvariantResult("4.fixed_fee", 0, [])])
    assert not idle.ok and reason(idle) == "invariant 4.fixed_fee: not evaluated (it checked nothing)"
