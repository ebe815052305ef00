"""The mutation campaign: the catalogue follows the core, mutants patch and witness what they change, and the
campaign tells a killed mutant from a survivor and from one the suite never reached."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from q2c_harness.harness.mutants import BUILTIN, Mutant, activate, catalogue, load_file, resolve
from q2c_harness.harness.prove import KILLED, NOT_REACHED, SURVIVED, prove
from q2c_harness.harness.scenario import INVARIANT_NAMES


def test_the_catalogue_covers_every_flow_and_invariant_and_follows_the_core() -> None:
    assert len(BUILTIN) >= 25
    assert len({m.id for m in BUILTIN}) == len(BUILTIN)
    for m in BUILTIN:
        for target in m.targets:
            resolve(target)  # raises when the core moved the function: update the mutant with it
    modules = {t.split(":")[0] for m in BUILTIN for t in m.targets}
    for flow in ("time_to_invoice", "milestone_to_invoice", "quote_to_project", "change_order", "intake"):
        assert f"q2c_harness.flows.{flow}" in modules, f"no mutant in the {flow} flow"
    guarded = {g for m in BUILTIN for g in m.guards}
    pending = {"3.billing_splits", "8.revenue_inputs", "12.credit_memos", "14.audit_chain"}
    assert set(INVARIANT_NAMES) - pending <= guarded, sorted(set(INVARIANT_NAMES) - pending - guarded)


def test_a_mutant_patches_its_target_and_witnesses_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    from q2c_harness.billing import rating

    monkeypatch.setattr(rating, "round_money", rating.round_money)  # undone after the test
    mutant = next(m for m in BUILTIN if m.id == "rating.rounded_down")
    witness = activate(mutant)
    assert rating.round_money(Decimal("1.005"), "USD") == Decimal("1.00")
    assert rating.round_money(Decimal("2.50"), "USD") == Decimal("2.50")
    assert (witness.calls, witness.changes) == (2, 1)


def test_exactly_one_way_to_mutate() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Mutant("x.y", "bug", ("m:f",))
    with pytest.raises(ValueError, match="exactly one"):
        Mutant("x.y", "bug", ("m:f",), result=lambda o: o, args=lambda a, k: (a, k))


USER_MUTANTS = '''
from decimal import Decimal
from q2c_harness.harness.mutants import Mutant

MUTANTS = [
    # never called by any flow: not reached
    Mutant("user.unused", "a rule no scenario exercises", ("q2c_harness.billing.fx:realized_fx_gain_loss",),
           result=lambda out, *a, **k: out + 1),
    # runs, but gives back what the real code gives: reached, never changed anything
    Mutant("user.harmless", "a no-op", ("q2c_harness.flows.time_to_invoice:invoice_prefix",),
           result=lambda out, *a, **k: out),
    # changes what the client sees nowhere that matters to the checks: it survives
    Mutant("user.cosmetic", "invoice numbers spelled INVOICE-", ("q2c_harness.flows.time_to_invoice:invoice_prefix",),
           result=lambda out, *a, **k: out.replace("INV-", "INVOICE-")),
    Mutant("user.tax", "VAT doubled", ("q2c_harness.flows.time_to_invoice:determine_tax",),
           result=lambda out, *a, **k: type(out)(out.tax_code, out.rate_percent * 2, out.note)),
]
'''


def test_user_mutants_are_killed_survive_or_are_not_reached(tmp_path: Path) -> None:
    path = tmp_path / "my_mutants.py"
    path.write_text(USER_MUTANTS)
    ids = ["user.unused", "user.harmless", "user.cosmetic", "user.tax"]
    assert [m.id for m in load_file(path)] == ids
    assert [m.id for m in catalogue([path])][-4:] == ids
    outcomes, baseline = prove(mutant_files=[str(path)], only=ids, scenarios=["fixed_fee_change_order"], jobs=2)
    assert "error" not in baseline and baseline["failed"] == [], baseline
    by_id = {o.mutant: o for o in outcomes}
    assert by_id["user.unused"].verdict == NOT_REACHED and by_id["user.unused"].calls == 0
    assert "never ran" in by_id["user.unused"].line()
    # invoice_prefix runs but returns what it got: reached, never changed anything
    assert by_id["user.harmless"].verdict == NOT_REACHED and by_id["user.harmless"].calls > 0
    assert "never changed" in by_id["user.harmless"].line()
    tax = by_id["user.tax"]
    assert tax.verdict == KILLED and tax.scenario == "fixed_fee_change_order"
    assert any(c.startswith("11.tax") for c in tax.caught_by), tax.caught_by
    cosmetic = by_id["user.cosmetic"]
    assert cosmetic.verdict == SURVIVED and cosmetic.changes > 0 and cosmetic.scenarios_run == ["fixed_fee_change_order"]


def test_a_missing_target_is_named_before_anything_runs(tmp_path: Path) -> None:
    path = tmp_path / "moved.py"
    path.write_text("from q2c_harness.harness.mutants import Mutant\n"
                    "MUTANTS = [Mutant('user.moved', 'b', ('q2c_harness.flows.time_to_invoice:gone',), "
                    "result=lambda o, *a, **k: o)]\n")
    with pytest.raises(ValueError, match="user.moved: target q2c_harness.flows.time_to_invoice:gone does not exist"):
        prove(mutant_files=[str(path)], only=["user.moved"])
