"""One test per invariant (integration-core.md section 4, 1-13): the check passes a world built by
the billing engine, and catches a deliberately wrong variant of it with expected/actual/refs."""

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

from billing_factories import (
    CID, change_order, client, entity, ff_plan, fx_policy, milestone, rate_card, rc_version, time_entry,
)
from q2c_harness.billing import (
    FxRateTable,
    HeldAmount,

    apply_cash,
    apply_change_order,
    assemble_invoice,
    bill_milestone,
    bill_time_and_materials,
    cross_charge,
    determine_tax,
    eliminate,
    rate_time_entry,
)
from q2c_harness.canonical import (
    ContractVersion,
    Payment,
    CreditMemo,
    Engagement,
    StatementOfWork,
    TimeAndMaterialsPlan,
)
from q2c_harness.harness import invariants as inv
from q2c_harness.harness.invariants import (
    Facts,
    FxSettlementFact,
    RetainerEvent,
    RetainerFact,
    RevenueFact,
    SplitFact,
    check_all,
)

RATES = {"DE": D("19"), "FR": D("20"), "GB": D("20")}
DE, UK = entity("LE-DE", "DE", partners=["LE-UK"]), entity("LE-UK", "GB", partners=["LE-DE"])
FR_CLIENT = client("FR", vat_id="FR12345678901")
CARD = rate_card(rc_version(1, date(2026, 1, 1), None, D("150.00")))
FX_TABLE = FxRateTable({("corporate", "GBP", "EUR", date(2026, 3, 10)): D("1.15"),
                        ("corporate", "GBP", "EUR", date(2026, 3, 11)): D("1.16"),
                        ("spot", "EUR", "USD", date(2026, 3, 31)): D("1.40")})


def _contract(value: D) -> ContractVersion:
    return ContractVersion(version=1, value=value, budget=value)


def build_world() -> Facts:
    """A small, correct month: a capped T&M SOW, a fixed-fee SOW with one approved change order,
    a credit memo, a payment, a retainer, revenue, FX settlement, IC cross-charge, a split."""
    tm_sow = StatementOfWork(
        correlation_id=CID, sow_id="SOW-1", engagement_id="ENG-1", currency="EUR",
        baseline=_contract(D("2000.00")), current=_contract(D("2000.00")),
        billing_plan=TimeAndMaterialsPlan(correlation_id=CID, billing_plan_id="BP-1", rate_card_id="RC-1",
                                          fx_policy=fx_policy(), not_to_exceed=D("2000.00")),
    )
    ms = [milestone("M1", D("4000.00")), milestone("M2", D("6000.00"), status="planned")]
    ff_sow = StatementOfWork(
        correlation_id=CID, sow_id="SOW-2", engagement_id="ENG-1", currency="EUR",
        baseline=_contract(D("10000.00")), current=_contract(D("10000.00")), billing_plan=ff_plan(D("10000.00"), ms),
    )
    co = change_order("CO-1", 1, D("1000.00"), sow_id="SOW-2")
    ff_sow = apply_change_order(ff_sow, co)
    entries = [time_entry("T-1", D("8"), date(2026, 3, 10)), time_entry("T-2", D("8"), date(2026, 3, 11)),
               time_entry("T-3", D("8"), date(2026, 3, 12), approval_state="submitted")]
    rated = [rate_time_entry(e, rate_card=CARD, fx_policy=fx_policy(), fx_rates=FX_TABLE, contract_currency="EUR",
                             invoice_date=date(2026, 3, 31)) for e in entries[:2]]
    tm = bill_time_and_materials(rated, invoice_id="INV-1", contract_version=1, currency="EUR",
                                 not_to_exceed=D("2000.00"))
    tax = determine_tax(DE, FR_CLIENT, RATES)
    common = dict(correlation_id=CID, engagement_id="ENG-1", client_id="C-FR", contracting_entity_id="LE-DE",
                  invoice_date=date(2026, 3, 31), currency="EUR", tax=tax, customer_vat_id=FR_CLIENT.vat_id)
    inv1 = assemble_invoice(invoice_id="INV-1", sow_id="SOW-1", contract_version=1, lines=tm.lines, **common)
    m1 = bill_milestone(ms[0], invoice_id="INV-2", invoice_date=date(2026, 3, 31), contract=ff_sow.current,
                        invoiced_to_date=D("0"))
    inv2 = assemble_invoice(invoice_id="INV-2", sow_id="SOW-2", contract_version=2, lines=[m1], **common)
    credit = CreditMemo(correlation_id=CID, credit_memo_id="CM-1", invoice_id="INV-1", issued_on=date(2026, 4, 2),
                        currency="EUR", amount=D("100.00"))
    pay = Payment(correlation_id=CID, payment_id="PAY-1", client_id="C-FR", received_on=date(2026, 4, 20),
                  currency="EUR", amount=D("1950.00"))
    cash = apply_cash(pay, application_id="CA-1", allocations={"INV-1": D("1900.00")},
                      open_balances={"INV-1": inv1.gross_total - credit.amount})
    inv1 = inv1.model_copy(update={"status": "paid"})
    ic = cross_charge(pair_id="IC-1", delivering=UK, contracting=DE, cost=D("1500.00"), markup_percent=D("10"),
                      currency="EUR", source_ids=["T-1", "T-2"])
    return Facts(
        invoices=[inv1, inv2], time_entries=entries, rate_cards=[CARD], fx_rates=FX_TABLE,
        engagements=[Engagement(correlation_id=CID, engagement_id="ENG-1", client_id="C-FR", name="Rollout",
                                contracting_entity_id="LE-DE", delivering_entity_ids=["LE-UK"], currency="EUR")],
        statements_of_work=[tm_sow, ff_sow], original_baselines={"SOW-1": tm_sow.baseline, "SOW-2": ff_sow.baseline},
        change_orders=[co], held=tm.held,
        splits=[SplitFact("CL-1", D("0.05"), "EUR", {"C-FR": D("50"), "C-DE": D("50")},
                          {"C-FR": D("0.03"), "C-DE": D("0.02")}, residue_client_id="C-DE")],
        retainers=[RetainerFact("RET-1", "EUR", [RetainerEvent("R1", "receipt", D("5000.00")),
                                                 RetainerEvent("D1", "drawdown", D("3000.00"))], D("2000.00"))],
        revenue=[RevenueFact("SOW-2", "EUR", D("11000.00"), D("30000"), D("100000"), D("4000.00"), D("3300.00"),
                             D("-700.00"), D("4000.00"), D("0"), D("700.00"))],
        fx_settlements=[FxSettlementFact("INV-9", D("2000.00"), "EUR", "USD", date(2026, 3, 31), D("1.40"), D("1.45"),
                                         D("100.00"), rate_type="spot")],
        intercompany=[ic.receivable, ic.payable], eliminations=eliminate([ic]),
        clients=[FR_CLIENT], legal_entities=[DE, UK], tax_rates=RATES,
        credit_memos=[credit], previously_seen_invoice_ids={"INV-1"}, payments=[pay], cash_applications=[cash],
    )


WORLD = build_world()


def test_world_is_what_the_engine_says_and_passes_every_check():
    inv1 = WORLD.invoices[0]
    # T-1: 8 x 150 x 1.15 = 1380.00 billed; T-2: 8 x 150 x 1.16 = 1392.00, 620.00 billed under the cap, 772.00 held
    assert [ln.amount for ln in inv1.lines] == [D("1380.00"), D("620.00")]
    assert [(h.source_id, h.amount) for h in WORLD.held] == [("T-2", D("772.00"))]
    assert check_all(WORLD) == []


def _holds(check, facts):
    tally = check(facts)
    assert tally.violations == [] and tally.checked > 0, (tally.checked, tally.violations)


def _only(check, facts, invariant):
    violations = check(facts).violations
    assert violations, f"{invariant} not detected"
    assert {v.invariant for v in violations} == {invariant}
    return violations


def _replace_invoice(facts: Facts, index: int, **update) -> Facts:
    invoices = list(facts.invoices)
    invoices[index] = invoices[index].model_copy(update=update)
    return replace(facts, invoices=invoices)


def _replace_line(facts: Facts, inv_index: int, line_index: int, **update) -> Facts:
    lines = list(facts.invoices[inv_index].lines)
    lines[line_index] = lines[line_index].model_copy(update=update)
    return _replace_invoice(facts, inv_index, lines=lines)


def test_1_tm_rating_catches_wrong_rate_version_and_dropped_amount():
    _holds(inv.check_tm_rating, WORLD)
    v = _only(inv.check_tm_rating, _replace_line(WORLD, 0, 0, fx_rate=D("1.16")), inv.TM_RATING)[0]
    assert v.expected[-1] == D("1.15") and v.actual[-1] == D("1.16") and "T-1" in v.refs
    dropped = replace(WORLD, held=[])  # the excess over the cap vanished
    v = _only(inv.check_tm_rating, dropped, inv.TM_RATING)[0]
    assert (v.expected, v.actual, v.refs[0]) == (D("1392.00"), D("620.00"), "T-2")


def test_2_eligibility_catches_unapproved_and_double_billed_entries():
    _holds(inv.check_eligibility, WORLD)
    entries = [e.model_copy(update={"approval_state": "submitted"}) if e.time_entry_id == "T-1" else e
               for e in WORLD.time_entries]
    v = _only(inv.check_eligibility, replace(WORLD, time_entries=entries), inv.ELIGIBILITY)[0]
    assert v.actual == ("submitted", True) and "T-1" in v.refs
    dup = WORLD.invoices[0].lines[0].model_copy(update={"line_id": "INV-1-9"})
    twice = _replace_invoice(WORLD, 0, lines=[*WORLD.invoices[0].lines, dup])
    assert any("billed more than once" in v.message for v in inv.check_eligibility(twice).violations)
    untraced = _replace_line(WORLD, 1, 0, source_ids=[])
    assert _only(inv.check_eligibility, untraced, inv.ELIGIBILITY)[0].refs == ["INV-2", "INV-2-M1"]


def test_3_splits_catch_residue_on_the_wrong_customer():
    _holds(inv.check_billing_splits, WORLD)
    bad = SplitFact("CL-1", D("0.05"), "EUR", {"C-FR": D("50"), "C-DE": D("50")},
                    {"C-FR": D("0.02"), "C-DE": D("0.03")}, residue_client_id="C-DE")
    v = _only(inv.check_billing_splits, replace(WORLD, splits=[bad]), inv.SPLITS)[0]
    assert (v.expected, v.actual, v.refs) == (D("0.03"), D("0.02"), ["CL-1", "C-FR"])


def test_4_fixed_fee_catches_unaccepted_milestone_and_overbilling():
    _holds(inv.check_fixed_fee, WORLD)
    not_accepted = replace(WORLD, milestones=[milestone("M1", D("4000.00"), status="completed")])
    v = _only(inv.check_fixed_fee, not_accepted, inv.FIXED_FEE)[0]
    assert v.refs == ["M1", "INV-2"] and v.actual == ("completed", None)
    over = _replace_line(WORLD, 1, 0, amount=D("11000.01"))
    v = _only(inv.check_fixed_fee, over, inv.FIXED_FEE)[0]
    assert (v.expected, v.actual) == ("<= 11000.00", D("11000.01"))


def test_5_cap_catches_billing_over_the_cap():
    _holds(inv.check_not_to_exceed_cap, WORLD)
    over = _replace_line(WORLD, 0, 1, amount=D("1392.00"))
    v = _only(inv.check_not_to_exceed_cap, over, inv.CAP)[0]
    assert (v.expected, v.actual) == ("<= 2000.00", D("2772.00")) and "SOW-1" in v.refs
    held_early = _replace_line(WORLD, 0, 1, amount=D("500.00"))
    v = _only(inv.check_not_to_exceed_cap, held_early, inv.CAP)[0]
    assert (v.expected, v.actual) == (D("2000.00"), D("1880.00")) and "what is over held" in v.message


def test_6_retainers_catch_overdraw():
    _holds(inv.check_retainers, WORLD)
    bad = RetainerFact("RET-1", "EUR", [RetainerEvent("R1", "receipt", D("1000.00")),
                                        RetainerEvent("D1", "drawdown", D("1200.00"))])
    v = _only(inv.check_retainers, replace(WORLD, retainers=[bad]), inv.RETAINER)[0]
    assert (v.expected, v.actual, v.refs) == ("<= 1000.00", D("1200.00"), ["RET-1", "D1"])


def test_7_change_orders_catch_moved_baseline_and_unknown_version():
    _holds(inv.check_change_orders, WORLD)
    sows = list(WORLD.statements_of_work)
    sows[1] = sows[1].model_copy(update={"baseline": _contract(D("11000.00"))})
    violations = _only(inv.check_change_orders, replace(WORLD, statements_of_work=sows), inv.CHANGE_ORDERS)
    assert any("baseline changed" in v.message for v in violations)
    v = _only(inv.check_change_orders, _replace_invoice(WORLD, 1, contract_version=3), inv.CHANGE_ORDERS)
    assert any(x.expected == "1..2" and x.actual == 3 for x in v)


def test_8_revenue_catches_wrong_catch_up_and_position():
    _holds(inv.check_revenue_inputs, WORLD)
    bad = replace(WORLD.revenue[0], period=D("0"), contract_liability=D("0"), contract_asset=D("700.00"))
    violations = _only(inv.check_revenue_inputs, replace(WORLD, revenue=[bad]), inv.REVENUE)
    assert {(v.expected, v.actual) for v in violations} == {
        (D("-700.00"), D("0")), ((D("700.00"), D("0")), (D("0"), D("700.00")))}


def test_9_fx_catches_wrong_gain():
    _holds(inv.check_fx, WORLD)
    bad = replace(WORLD.fx_settlements[0], recorded_gain_loss=D("140.00"))
    v = _only(inv.check_fx, replace(WORLD, fx_settlements=[bad]), inv.FX)[0]
    assert (v.expected, v.actual, v.refs) == (D("100.00"), D("140.00"), ["INV-9"])


def test_10_intercompany_catches_unmirrored_payable_and_wrong_entity():
    _holds(inv.check_intercompany, WORLD)
    rec, pay = WORLD.intercompany
    bad = replace(WORLD, intercompany=[rec, replace(pay, amount=D("1500.00"))])
    v = _only(inv.check_intercompany, bad, inv.INTERCOMPANY)[0]
    assert v.expected == (D("1650.00"), "EUR") and v.actual == (D("1500.00"), "EUR")
    wrong_entity = _replace_invoice(WORLD, 0, contracting_entity_id="LE-UK")
    assert _only(inv.check_intercompany, wrong_entity, inv.INTERCOMPANY)[0].refs == ["INV-1", "ENG-1"]


def test_11_tax_catches_vat_on_reverse_charge_and_bad_gross():
    _holds(inv.check_tax, WORLD)
    no_note = _replace_invoice(WORLD, 0, reverse_charge_note=None)
    assert "reverse-charge note" in _only(inv.check_tax, no_note, inv.TAX)[0].message
    bad_vat_id = _replace_invoice(WORLD, 0, customer_vat_id="DE12345678901")
    assert _only(inv.check_tax, bad_vat_id, inv.TAX)[0].actual == "DE12345678901"
    domestic_code = _replace_line(WORLD, 1, 0, tax_code="STANDARD", tax_amount=D("760.00"))
    messages = [v.message for v in _only(inv.check_tax, domestic_code, inv.TAX)]
    assert any("must carry REVERSE_CHARGE at 0 %" in m for m in messages)
    assert _only(inv.check_tax, _replace_invoice(WORLD, 1, gross_total=D("1.00")), inv.TAX)[0].expected == D("4000.00")


def test_12_credit_memos_catch_overcredit_and_deleted_invoice():
    _holds(inv.check_credit_memos, WORLD)
    big = WORLD.credit_memos[0].model_copy(update={"amount": D("2000.01")})
    v = _only(inv.check_credit_memos, replace(WORLD, credit_memos=[big]), inv.CREDIT_MEMOS)[0]
    assert (v.expected, v.actual, v.refs) == ("<= 2000.00", D("2000.01"), ["INV-1"])
    deleted = replace(WORLD, previously_seen_invoice_ids={"INV-1", "INV-0"})
    assert _only(inv.check_credit_memos, deleted, inv.CREDIT_MEMOS)[0].refs == ["INV-0"]


def test_13_cash_application_catches_imbalance_and_wrong_status():
    _holds(inv.check_cash_application, WORLD)
    app = WORLD.cash_applications[0].model_copy(update={"unapplied": D("0")})
    v = _only(inv.check_cash_application, replace(WORLD, cash_applications=[app]), inv.CASH)[0]
    assert (v.expected, v.actual) == (D("1950.00"), D("1900.00"))
    not_paid = _replace_invoice(WORLD, 0, status="partially_paid")
    v = _only(inv.check_cash_application, not_paid, inv.CASH)[0]
    assert (v.expected, v.actual) == ("paid", "not paid")


def test_check_all_collects_every_broken_invariant_in_order():
    broken = replace(
        _replace_line(WORLD, 0, 0, fx_rate=D("1.16")),
        retainers=[RetainerFact("RET-1", "EUR", [RetainerEvent("D1", "drawdown", D("1.00"))])],
        fx_settlements=[replace(WORLD.fx_settlements[0], recorded_gain_loss=D("0"))],
    )
    names = [v.invariant for v in check_all(broken)]
    assert names == sorted(names, key=lambda n: int(n.split(".")[0]))
    assert set(names) == {inv.TM_RATING, inv.RETAINER, inv.FX}
    assert len(inv.CHECKS) == 13
