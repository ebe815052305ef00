"""The scenario suite end to end: the scenarios pass in-process (and scenarios 1 and 2 behind real HTTPS servers),
deliberately injected bugs fail them with the invariant named, the same seed gives a byte-identical vendor end
state, and the pytest plugin's fixtures work."""

from __future__ import annotations

import dataclasses
import json

import pytest

from q2c_harness.harness.runner import run_scenario
from q2c_harness.harness.scenario import load_scenario

pytest_plugins = ["pytester"]

PASSING = ["multi_entity_tm", "fixed_fee_change_order", "month_end_storm", "duplicates_and_replay", "retainer_drawdown",
           "exceptions_and_resolution", "credit_and_rebill", "managed_services", "usage_billing",
           "tax_service_outage", "partial_payment_then_rest", "payment_disruption", "disputed_invoice_refunded"]


@pytest.mark.parametrize("name", PASSING)
def test_scenario_passes_in_process(name: str) -> None:
    result = run_scenario(load_scenario(name))
    assert result.ok, result.explain()
    assert result.facts is not None and result.facts.facts.invoices, "the scenario issued no invoice"


@pytest.mark.parametrize("name", ["multi_entity_tm", "fixed_fee_change_order", "tax_service_outage",
                                  "partial_payment_then_rest"])
def test_scenario_passes_against_https_servers(name: str, tmp_path) -> None:
    result = run_scenario(load_scenario(name), mode="servers", tls_dir=tmp_path / "tls")
    assert result.ok, result.explain()
    assert result.mode == "servers"


def test_double_billing_bug_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inject a bug: the T&M rating bills its first entry twice on the same invoice."""
    from q2c_harness.flows import time_to_invoice

    real = time_to_invoice.bill_time_and_materials

    def bill_first_entry_twice(*args, **kwargs):
        tm = real(*args, **kwargs)
        if not tm.lines:
            return tm
        dup = tm.lines[0].model_copy(update={"line_id": tm.lines[0].line_id + "-dup"})
        return dataclasses.replace(tm, lines=[*tm.lines, dup], billed_total=tm.billed_total + dup.amount)

    monkeypatch.setattr(time_to_invoice, "bill_time_and_materials", bill_first_entry_twice)
    result = run_scenario(load_scenario("multi_entity_tm"))
    assert not result.ok
    names = {v.invariant for v in result.violations}
    assert "2.eligibility_traceability" in names, result.explain()
    explained = result.explain()
    assert "invariant 2.eligibility_traceability" in explained
    v = next(v for v in result.violations if v.invariant == "2.eligibility_traceability")
    assert "expected:" in explained and "actual:" in explained
    print(explained)  # shown with -s: the explanation a person would read
    assert v.refs, "the violation names the records involved"


def test_dropped_change_order_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inject a bug: the change-order flow does nothing with a signed amendment."""
    from q2c_harness.flows import change_order

    monkeypatch.setattr(change_order, "read_amendment", lambda ctx, quote_id: {})
    result = run_scenario(load_scenario("fixed_fee_change_order"))
    assert not result.ok
    names = {v.invariant for v in result.violations}
    explained = result.explain()
    assert "7.change_orders" in names or "7.change_orders" in explained, explained
    assert "invariant 7.change_orders" in explained, explained


def _business_state(snapshot: object) -> object:
    """A simulator's admin snapshot without credentials (bearer tokens are random by design, like the vendors'):
    everything else must match."""
    if isinstance(snapshot, dict):
        return {k: _business_state(v) for k, v in snapshot.items()
                if not (isinstance(k, str) and k.endswith("tokens"))}
    if isinstance(snapshot, list):
        return [_business_state(v) for v in snapshot]
    return snapshot


def test_same_seed_gives_byte_identical_vendor_state() -> None:
    sc = load_scenario("fixed_fee_change_order")
    a = run_scenario(sc, keep_snapshots=True)
    b = run_scenario(sc, keep_snapshots=True)
    assert a.ok and b.ok, a.explain() + "\n" + b.explain()
    assert set(a.snapshots) >= {"salesforce", "netsuite", "psa"}
    for system in a.snapshots:
        sa = json.dumps(_business_state(a.snapshots[system]), sort_keys=True, default=str)
        sb = json.dumps(_business_state(b.snapshots[system]), sort_keys=True, default=str)
        assert sa == sb, f"{system}: the end state differs between two runs with seed {sc.seed}"


def test_plugin_fixture_in_a_plain_test(q2c_stack) -> None:
    result = q2c_stack.run("duplicates_and_replay")
    assert result.ok, result.explain()


def test_plugin_fixtures_in_a_pytester_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_x(q2c_stack):
            result = q2c_stack.run("duplicates_and_replay")
            assert result.ok, result.explain()

        def test_named(run_scenario):
            assert run_scenario("duplicates_and_replay").ok

        def test_sims(q2c_sims):
            assert set(q2c_sims) >= {"salesforce", "netsuite", "psa"}
    """)
    res = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=3)
