"""A verdict the team can trust: the checker is independent of the core, every invariant says how much it checked,
and checking nothing is a failure unless the scenario says why nothing applies."""

from __future__ import annotations

import json
import subprocess
import sys

from q2c_harness.harness.invariants import InvariantResult, Tally, Violation, evaluate, Facts
from q2c_harness.harness.reports import summary
from q2c_harness.harness.runner import run_scenario
from q2c_harness.harness.scenario import INVARIANT_NAMES, load_scenario

CORE = ("q2c_harness.flows", "q2c_harness.connectors", "q2c_harness.billing")


def test_the_checker_imports_nothing_of_the_core() -> None:
    code = ("import sys, json; import q2c_harness.harness.invariants, q2c_harness.harness.facts, "
            "q2c_harness.harness.expected; print(json.dumps(sorted(m for m in sys.modules if m.startswith("
            f"{CORE!r}))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                       check=True).stdout)
    assert loaded == [], f"the checker would mirror the core: it imports {loaded}"


def test_status_follows_what_was_checked() -> None:
    t = Tally("1.tm_rating")
    assert InvariantResult(t.invariant, t.checked, t.violations).status == "not evaluated"
    assert InvariantResult(t.invariant, 0, [], "no time billed").status == "not applicable"
    t.same(1, 1, "holds")
    assert InvariantResult(t.invariant, t.checked, t.violations).status == "held"
    t.same(1, 2, "differs", "REF-1")
    r = InvariantResult(t.invariant, t.checked, t.violations)
    assert (r.status, r.checked, r.ok) == ("violated", 2, False)
    assert r.violations == [Violation("1.tm_rating", "differs", 1, 2, ["REF-1"])]


def test_empty_facts_evaluate_nothing() -> None:
    results = evaluate(Facts())
    assert {r.status for r in results.values()} == {"not evaluated"}
    assert len(results) == 13


def test_an_invariant_that_checked_nothing_fails_the_scenario_unless_declared_not_applicable() -> None:
    declared = load_scenario("duplicates_and_replay")
    undeclared = declared.model_copy(update={"not_applicable": {k: v for k, v in declared.not_applicable.items()
                                                                if k != "4.fixed_fee"}})
    result = run_scenario(undeclared)
    assert not result.ok
    assert result.not_evaluated == ["4.fixed_fee"]
    assert "invariant 4.fixed_fee: not evaluated" in result.explain()
    ok = run_scenario(declared)
    assert ok.ok, ok.explain()
    by_name = {i.invariant: i for i in ok.invariants}
    assert set(by_name) == set(INVARIANT_NAMES)
    assert by_name["4.fixed_fee"].status == "not applicable"
    assert by_name["1.tm_rating"].checked == 12
    assert by_name["14.replay_idempotent"].checked >= 2 * 4  # two replays: the records, and no write per vendor
    reported = {i["invariant"]: i for i in summary([ok])[0]["invariants"]}
    assert reported["1.tm_rating"] == {"invariant": "1.tm_rating", "status": "held", "checked": 12, "violated": 0,
                                       "not_applicable": None}


def test_every_invariant_is_evaluated_somewhere_in_the_suite() -> None:
    """Declared 'not applicable' everywhere would hide an invariant: each one must check facts in some built-in
    scenario."""
    from q2c_harness.harness.scenario import available_scenarios

    declared_everywhere = set(INVARIANT_NAMES)
    for name in available_scenarios():
        declared_everywhere &= set(load_scenario(name).not_applicable)
    assert not declared_everywhere, f"no scenario evaluates {sorted(declared_everywhere)}"


def test_a_fault_scenario_whose_faults_never_fired_fails() -> None:
    sc = load_scenario("duplicates_and_replay")
    quiet = sc.model_copy(update={"faults": sc.faults.model_copy(update={"profile": None}),
                                  "expect": sc.expect.model_copy(update={"faults_injected_at_least": 1})})
    result = run_scenario(quiet)
    assert not result.ok
    assert any("they injected 0" in f for f in result.expectation_failures), result.expectation_failures


def test_revenue_inputs_are_checked_against_what_the_vendors_hold() -> None:
    from decimal import Decimal as D

    from q2c_harness.harness.invariants import RevenueFact

    row = dict(sow_id="E2", currency="GBP", price=D("175000.00"), cost_to_date=D("34800.00"),
               estimate_at_completion=D("175000.00"), prior_cumulative=D("0"), cumulative=D("34800.00"),
               period=D("34800.00"), billed_to_date=D("65000.00"), contract_asset=D("0"),
               contract_liability=D("30200.00"), vendor_price=D("175000.00"), vendor_cost_to_date=D("34800.00"),
               vendor_estimate_at_completion=D("175000.00"), vendor_billed_to_date=D("65000.00"), closed="2026-11")
    held = evaluate(Facts(revenue=[RevenueFact(**row)]), only=["8.revenue_inputs"])["8.revenue_inputs"]
    assert (held.status, held.checked) == ("held", 9)
    # consistent with itself, but on the signed price: the ERP's contract says 175,000.00
    stale = {**row, "price": D("150000.00"), "cumulative": D("29828.57"), "period": D("29828.57"),
             "contract_liability": D("35171.43")}
    r = evaluate(Facts(revenue=[RevenueFact(**stale)]), only=["8.revenue_inputs"])["8.revenue_inputs"]
    assert [v.message for v in r.violations] == [
        "SOW E2: the revenue inputs state price (the ERP contract's value) 150000.00, the vendors hold 175000.00"]


def test_a_core_that_cannot_be_imported_is_an_error_not_a_stand_in(monkeypatch):
    """A missing dependency once made the harness swap in a do-nothing core; its scenarios then failed with
    misleading reasons (a missing Salesforce field). Now the run stops and names the import that failed."""
    import pytest

    from q2c_harness.harness import core
    from q2c_harness.usage import UsageError

    monkeypatch.setattr(core, "FLOWS_ADAPTER", "q2c_harness.no_such_flows:Adapter")
    with pytest.raises(UsageError, match="integration core cannot be imported: No module named"):
        core.default_core_factory(scenario=None, sims={}, vendors=None, mode="in-process", endpoints=None,
                                  workdir=None)
