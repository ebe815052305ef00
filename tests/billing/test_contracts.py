from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_factories import FAST, change_order, ff_plan, milestone, money, sow
from q2c_harness.billing import (
    apply_change_order,
    bill_milestone,
    current_contract_version,
    validate_milestone_schedule,
)
from q2c_harness.billing.errors import (
    AlreadyBilled,
    ChangeOrderMismatch,
    ChangeOrderNotApproved,
    ChangeOrderOnClosedSOW,
    ContractValueExceeded,
    MilestoneNotAccepted,
    ScheduleDoesNotSumToFee,
)


def test_schedule_not_summing_to_fee_is_rejected_with_the_difference():
    plan = ff_plan(D("10000.00"), [milestone("M1", D("4000.00")), milestone("M2", D("5000.00"))])
    with pytest.raises(ScheduleDoesNotSumToFee, match=r"BP-FF: milestone schedule sums to 9000.00 USD, fee is "
                                                     r"10000.00 USD \(difference 1000.00\)") as exc:
        validate_milestone_schedule(plan, "USD")
    assert exc.value.code == "schedule_does_not_sum_to_fee"


@FAST
@given(st.lists(money, min_size=1, max_size=8))
def test_schedule_equal_to_fee_is_accepted_and_any_cent_off_is_not(amounts):
    ms = [milestone(f"M{i}", a) for i, a in enumerate(amounts)]
    fee = sum(amounts, D("0"))
    validate_milestone_schedule(ff_plan(fee, ms), "USD")
    with pytest.raises(ScheduleDoesNotSumToFee):
        validate_milestone_schedule(ff_plan(fee + D("0.01"), ms), "USD")


def _bill(m, invoiced=D("0"), contract=None, billed=()):
    return bill_milestone(m, invoice_id="INV-7", invoice_date=date(2026, 3, 15),
                          contract=contract or sow().current, invoiced_to_date=invoiced, billed_milestone_ids=billed)


def test_milestone_bills_once_only_when_accepted():
    line = _bill(milestone("M1", D("4000.00")))
    assert (line.kind, line.amount, line.source_ids, line.contract_version) == ("milestone", D("4000.00"), ["M1"], 1)
    with pytest.raises(MilestoneNotAccepted, match="milestone M2 is 'completed'"):
        _bill(milestone("M2", D("1"), status="completed"))
    with pytest.raises(AlreadyBilled, match="milestone M1 is already billed"):
        _bill(milestone("M1", D("4000.00")), billed={"M1"})


def test_milestone_cannot_take_invoicing_above_current_contract_value():
    with pytest.raises(ContractValueExceeded, match="above contract version 1 value 10000.00"):
        _bill(milestone("M3", D("3000.00")), invoiced=D("8000.00"))
    amended = apply_change_order(sow(), change_order("CO-1", 1, D("1000.00")))
    line = _bill(milestone("M3", D("3000.00")), invoiced=D("8000.00"), contract=amended.current)
    assert line.contract_version == 2


def test_change_order_on_closed_sow_is_rejected():
    with pytest.raises(ChangeOrderOnClosedSOW, match="CO-1 cannot modify statement of work SOW-1: it is closed") as e:
        apply_change_order(sow(status="closed"), change_order("CO-1", 1, D("500")))
    assert e.value.code == "change_order_on_closed_sow" and e.value.ref == "CO-1"


def test_unapproved_or_foreign_change_order_is_rejected():
    with pytest.raises(ChangeOrderNotApproved, match="CO-1 is 'submitted'"):
        apply_change_order(sow(), change_order("CO-1", 1, D("500"), state="submitted"))
    with pytest.raises(ChangeOrderMismatch, match="for SOW SOW-2, not SOW-1"):
        apply_change_order(sow(), change_order("CO-1", 1, D("500"), sow_id="SOW-2"))


def test_change_order_moves_schedule_and_keeps_baseline():
    original = sow()
    amended = apply_change_order(original, change_order("CO-1", 1, D("2500.00"), days=30))
    assert amended.baseline == original.baseline
    assert (amended.current.version, amended.current.value, amended.current.end_date, amended.current.change_order_id) == (
        2, D("12500.00"), date(2027, 1, 30), "CO-1")


@FAST
@given(st.lists(st.tuples(st.decimals(min_value=D("-1000"), max_value=D("5000"), places=2),
                          st.sampled_from(["draft", "submitted", "approved", "rejected"])), max_size=8))
def test_current_is_baseline_plus_approved_deltas(cos):
    s = sow()
    orders = [change_order(f"CO-{i}", i + 1, d, state=st_) for i, (d, st_) in enumerate(cos)]
    current = current_contract_version(s.baseline, orders)
    approved = [o for o in orders if o.approval_state == "approved"]
    assert current.value == s.baseline.value + sum((o.value_delta for o in approved), D("0"))
    assert current.version == 1 + len(approved)
    # applying one by one gives the same version and never touches the baseline
    for o in approved:
        s = apply_change_order(s, o)
    assert s.current == current and s.baseline == sow().baseline


def test_billing_violations_are_business_errors_with_stable_codes():
    from q2c_harness.billing import ALL_VIOLATIONS
    from q2c_harness.errors import BusinessError

    codes = [v.code for v in ALL_VIOLATIONS]
    assert len(codes) == len(set(codes)) and "billing_rule_violation" not in codes
    err = ALL_VIOLATIONS[0]("boom", ref="X-1")
    assert isinstance(err, BusinessError) and err.lot == "business"
    assert err.to_dict()["code"] == ALL_VIOLATIONS[0].code and err.ref == "X-1"


def _recurring(frequency="quarterly", end=None):
    from q2c_harness.canonical import RecurringFeePlan

    return RecurringFeePlan(correlation_id="c", billing_plan_id="BP-MS", amount_per_period=D("2500.00"),
                            frequency=frequency, start_date=date(2026, 1, 15), end_date=end)


def test_recurring_fee_bills_each_period_once_within_the_plan():
    from q2c_harness.billing import bill_recurring_fee
    from q2c_harness.billing.errors import IneligibleEntry

    line = bill_recurring_fee(_recurring(), period_start=date(2026, 4, 15), invoice_id="INV-3", contract_version=1,
                              currency="USD")
    assert (line.kind, line.amount, line.source_ids) == ("recurring_fee", D("2500.00"), ["BP-MS:2026-04-15"])
    with pytest.raises(AlreadyBilled, match="BP-MS:2026-04-15 is already billed"):
        bill_recurring_fee(_recurring(), period_start=date(2026, 4, 15), invoice_id="INV-4", contract_version=1,
                           currency="USD", billed_source_ids=line.source_ids)
    with pytest.raises(IneligibleEntry, match="2026-03-15 is not a quarterly period start"):
        bill_recurring_fee(_recurring(), period_start=date(2026, 3, 15), invoice_id="INV-4", contract_version=1,
                           currency="USD")
    with pytest.raises(IneligibleEntry, match="after billing plan BP-MS ends"):
        bill_recurring_fee(_recurring("monthly", end=date(2026, 3, 31)), period_start=date(2026, 4, 15),
                           invoice_id="INV-4", contract_version=1, currency="USD")


def test_a_monthly_fee_is_prorated_by_days_in_its_first_and_last_calendar_months():
    from q2c_harness.billing import monthly_fee_for
    from q2c_harness.billing.errors import IneligibleEntry
    from q2c_harness.canonical import RecurringFeePlan

    plan = RecurringFeePlan(correlation_id="c", billing_plan_id="BP-MS", amount_per_period=D("4500.00"),
                            frequency="monthly", start_date=date(2026, 11, 10), end_date=date(2027, 1, 20))
    fees = {m: monthly_fee_for(plan, m, "USD") for m in ("2026-10", "2026-11", "2026-12", "2027-01", "2027-02")}
    assert fees["2026-10"] is None and fees["2027-02"] is None  # outside the term
    nov, dec, jan = fees["2026-11"], fees["2026-12"], fees["2027-01"]
    assert (nov.key, nov.start, nov.days, nov.days_in_month, nov.amount) == ("BP-MS:2026-11", date(2026, 11, 10), 21,
                                                                             30, D("3150.00"))
    assert dec.amount == D("4500.00") and (dec.start, dec.end) == (date(2026, 12, 1), date(2026, 12, 31))
    assert (jan.end, jan.days, jan.amount) == (date(2027, 1, 20), 20, D("2903.23"))  # 2,903.2258 half up
    with pytest.raises(IneligibleEntry, match="only monthly fees"):
        monthly_fee_for(_recurring(), "2026-04", "USD")


def test_a_usage_line_bills_each_reported_unit_once_at_the_unit_price():
    from q2c_harness.billing import usage_line

    line = usage_line(line_key="QL-1", item="Support incidents", unit_price=D("350.00"), units=["9", "12", "10"],
                      invoice_id="INV-7", contract_version=1, currency="USD")
    assert (line.kind, line.quantity, line.amount, line.source_ids) == ("usage", D("3"), D("1050.00"),
                                                                        ["10", "12", "9"])
    from q2c_harness.billing.errors import AmountNotInMinorUnits

    with pytest.raises(AmountNotInMinorUnits):
        usage_line(line_key="QL-1", item="x", unit_price=D("0.001"), units=["1"], invoice_id="INV-7",
                   contract_version=1, currency="USD")
