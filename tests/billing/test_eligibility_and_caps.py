from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_factories import FAST, time_entry
from q2c_harness.billing import RatedLine, bill_time_and_materials, require_billable, select_billable
from q2c_harness.billing.errors import AlreadyBilled, CapExceeded, IneligibleEntry

entries = st.lists(
    st.builds(
        time_entry,
        entry_id=st.sampled_from([f"T-{i}" for i in range(8)]),
        approval_state=st.sampled_from(["draft", "submitted", "approved", "rejected"]),
        billable=st.booleans(),
        billing_status=st.sampled_from(["unbilled", "billed"]),
    ),
    max_size=15,
)


@FAST
@given(entries, st.sets(st.sampled_from([f"T-{i}" for i in range(8)])))
def test_only_approved_billable_unbilled_entries_selected_once(batch, billed_ids):
    selected = select_billable(batch, billed_ids)
    ids = [e.time_entry_id for e in selected]
    assert len(ids) == len(set(ids))
    for e in selected:
        assert e.approval_state == "approved" and e.billable and e.billing_status == "unbilled"
        assert e.time_entry_id not in billed_ids
    eligible_ids = {e.time_entry_id for e in batch if e.approval_state == "approved" and e.billable
                    and e.billing_status == "unbilled" and e.time_entry_id not in billed_ids}
    assert set(ids) == eligible_ids
    require_billable(selected, billed_ids)  # what select_billable returns always passes the gate


def test_require_billable_refuses_draft_duplicate_and_already_billed():
    with pytest.raises(IneligibleEntry, match="entry T-1 cannot be billed: approval state is 'submitted'"):
        require_billable([time_entry("T-1", approval_state="submitted")])
    with pytest.raises(IneligibleEntry, match="non-billable"):
        require_billable([time_entry("T-1", billable=False)])
    with pytest.raises(AlreadyBilled, match="T-1 appears twice"):
        require_billable([time_entry("T-1"), time_entry("T-1")])
    with pytest.raises(AlreadyBilled, match="T-2 is already billed"):
        require_billable([time_entry("T-2")], billed_source_ids={"T-2"})


def rated(source_id: str, amount: D, day: int = 1) -> RatedLine:
    return RatedLine(source_id=source_id, work_date=date(2026, 3, day), hours=D("1"), role="consultant", region="EMEA",
                     rate_card_id="RC-1", rate_card_version=1, applied_rate=amount, rate_currency="USD",
                     fx_rate_type="corporate", fx_rate_date=date(2026, 3, day), fx_rate=D("1"), currency="USD",
                     amount=amount)


def test_worked_example_cap_splits_the_crossing_line_and_holds_the_rest():
    result = bill_time_and_materials(
        [rated("T-1", D("600.00"), 1), rated("T-2", D("600.00"), 2), rated("T-3", D("300.00"), 3)],
        invoice_id="INV-1", contract_version=1, currency="USD", not_to_exceed=D("1000.00"),
    )
    assert [(ln.source_ids, ln.amount) for ln in result.lines] == [(["T-1"], D("600.00")), (["T-2"], D("400.00"))]
    assert [(h.source_id, h.amount) for h in result.held] == [("T-2", D("200.00")), ("T-3", D("300.00"))]
    assert (result.billed_total, result.held_total) == (D("1000.00"), D("500.00"))
    assert all(ln.contract_version == 1 and ln.applied_rate is not None for ln in result.lines)


def test_cap_already_exceeded_is_an_error():
    with pytest.raises(CapExceeded, match="billed to date 1200.00 USD already exceeds the not-to-exceed cap 1000.00"):
        bill_time_and_materials([rated("T-1", D("1"))], invoice_id="INV-1", contract_version=1, currency="USD",
                                not_to_exceed=D("1000.00"), billed_to_date=D("1200.00"))


def test_same_entry_twice_in_one_run_is_refused():
    with pytest.raises(AlreadyBilled, match="T-1 rated twice"):
        bill_time_and_materials([rated("T-1", D("1")), rated("T-1", D("1"))], invoice_id="INV-1", contract_version=1,
                                currency="USD")


amounts = st.decimals(min_value=D("0"), max_value=D("5000"), places=2)


@FAST
@given(st.lists(amounts, max_size=12), st.one_of(st.none(), amounts), amounts)
def test_cap_never_exceeded_and_excess_never_dropped(line_amounts, cap, billed_to_date):
    if cap is not None and billed_to_date > cap:
        billed_to_date = cap
    lines = [rated(f"T-{i}", a, 1 + i) for i, a in enumerate(line_amounts)]
    result = bill_time_and_materials(lines, invoice_id="INV-1", contract_version=3, currency="USD",
                                     not_to_exceed=cap, billed_to_date=billed_to_date)
    if cap is not None:
        assert billed_to_date + result.billed_total <= cap
        if result.held:  # held only once the cap is fully used
            assert billed_to_date + result.billed_total == cap
    else:
        assert not result.held
    for r in lines:  # per entry: billed part + held part = rated amount
        billed = sum(ln.amount for ln in result.lines if ln.source_ids == [r.source_id])
        held = sum(h.amount for h in result.held if h.source_id == r.source_id)
        assert billed + held == r.amount
    assert result.billed_total + result.held_total == sum(line_amounts, D("0"))
