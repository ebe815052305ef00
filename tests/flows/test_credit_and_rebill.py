"""Credit and rebill (flows/credit_and_rebill.plan_rebill): what a corrected invoice becomes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from q2c_harness.billing import assemble_invoice
from q2c_harness.billing.errors import CreditExceedsInvoice
from q2c_harness.billing.tax import TaxDetermination
from q2c_harness.canonical import CreditMemo, InvoiceLine
from q2c_harness.errors import BusinessError
from q2c_harness.flows.credit_and_rebill import plan_rebill


def _invoice():
    lines = [InvoiceLine(line_id=f"INV-1-{n}", kind="time", description=f"day {n}", quantity=Decimal("7"),
                         unit_price=Decimal("165.00"), amount=Decimal("1155.00"), source_ids=[str(n)],
                         contract_version=1) for n in (1, 2, 3)]
    return assemble_invoice(invoice_id="INV-1", correlation_id="c", sow_id="S", engagement_id="E", client_id="C",
                            contracting_entity_id="UK", invoice_date=date(2026, 11, 30), currency="GBP",
                            contract_version=1, lines=lines, tax=TaxDetermination("STANDARD", Decimal("20")))


def test_the_credit_is_the_gross_and_the_reinvoice_bills_what_still_stands() -> None:
    memo, rebill = plan_rebill(_invoice(), tax_rate=Decimal("20"), written_off={"3"}, on=date(2026, 12, 3),
                               reason="disputed")
    assert (memo.credit_memo_id, memo.invoice_id, memo.amount, memo.currency) == ("CM-INV-1", "INV-1",
                                                                                  Decimal("4158.00"), "GBP")
    assert rebill is not None and rebill.invoice_id == "INV-1-R" and rebill.invoice_date == date(2026, 12, 3)
    assert [ln.source_ids for ln in rebill.lines] == [["1"], ["2"]]
    assert (rebill.net_total, rebill.tax_total, rebill.gross_total) == (Decimal("2310.00"), Decimal("462.00"),
                                                                        Decimal("2772.00"))


def test_writing_everything_off_credits_without_a_reinvoice() -> None:
    memo, rebill = plan_rebill(_invoice(), tax_rate=Decimal("20"), written_off={"1", "2", "3"},
                               on=date(2026, 12, 3), reason="cancelled")
    assert rebill is None and memo.amount == Decimal("4158.00")


def test_nothing_to_correct_and_a_second_credit_are_refused() -> None:
    inv = _invoice()
    with pytest.raises(BusinessError) as exc:
        plan_rebill(inv, tax_rate=Decimal("20"), written_off={"99"}, on=date(2026, 12, 3), reason="x")
    assert exc.value.code == "NOTHING_TO_CORRECT"
    earlier = CreditMemo(correlation_id="c", credit_memo_id="CM-OTHER", invoice_id="INV-1", issued_on=date(2026, 12, 1),
                         currency="GBP", amount=Decimal("100.00"))
    with pytest.raises(CreditExceedsInvoice):
        plan_rebill(inv, tax_rate=Decimal("20"), written_off={"3"}, on=date(2026, 12, 3), reason="x", prior=[earlier])


async def test_a_closed_months_managed_services_fee_is_staged_once_and_billed(sims, tmp_path):
    """What the served core does when a month is over: the month's fee falls due without any event."""
    from q2c_harness.flows.runtime import CoreRuntime
    from tests.flows.world import sell

    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite") as core:
        opp = await sell(core, charge="Recurring", frequency="Monthly", lines=[("Managed services", "3000.00")])
        await core.poll_once()
        eid = core.store.engagement_by_opportunity(opp)["engagement"]["engagement_id"]
        assert core.stage_month("2026-02") == 1 and core.stage_month("2026-02") == 0
        assert core.stage_month("2026-07") == 0  # after the term (the quote ends 30 June)
        assert (eid, "2026-02") in core.store.pending_runs()
        result = await core.run_billing(eid, "2026-02")
        assert (result["status"], result["gross_total"]) == ("posted", "3000.00")
        assert await core.run_billing(eid, "2026-02") is None  # billed once
