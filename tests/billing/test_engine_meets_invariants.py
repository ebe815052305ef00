"""Property: whatever month the billing engine produces, the invariant checks find nothing wrong.
Ties billing/ (how we bill) to harness/invariants.py (how scenarios judge the result)."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from billing_factories import FAST, hours, time_entry
from q2c_harness.billing import (
    FxRateTable,
    apply_cash,
    assemble_invoice,
    bill_time_and_materials,
    rate_time_entry,
    select_billable,
)
from q2c_harness.billing.tax import TaxDetermination
from q2c_harness.canonical import CreditMemo, Payment
from q2c_harness.harness.invariants import check_all
from test_invariants import CARD, WORLD

START = date(2026, 3, 1)
FX_BY_DAY = {START + timedelta(days=i): D("1.1") + D(i) / 100 for i in range(28)}
TABLE = FxRateTable({**WORLD.fx_rates.rates, **{("corporate", "GBP", "EUR", d): r for d, r in FX_BY_DAY.items()}})

entry_specs = st.lists(
    st.tuples(hours, st.integers(0, 27), st.sampled_from(["approved", "approved", "submitted"]), st.booleans()),
    min_size=1, max_size=12,
)


@FAST
@given(entry_specs, st.one_of(st.none(), st.decimals(min_value=D("0"), max_value=D("20000"), places=2)),
       st.sampled_from([D("0"), D("19")]), st.data())
def test_engine_output_satisfies_every_invariant(specs, cap, vat, data):
    entries = [time_entry(f"T-{i}", h, START + timedelta(days=day), approval_state=state, billable=billable)
               for i, (h, day, state, billable) in enumerate(specs)]
    sow = WORLD.statements_of_work[0]
    sow = sow.model_copy(update={"billing_plan": sow.billing_plan.model_copy(update={"not_to_exceed": cap})})
    rated = [rate_time_entry(e, rate_card=CARD, fx_policy=sow.billing_plan.fx_policy, fx_rates=TABLE,
                             contract_currency="EUR", invoice_date=date(2026, 3, 31)) for e in select_billable(entries)]
    tm = bill_time_and_materials(rated, invoice_id="INV-1", contract_version=1, currency="EUR", not_to_exceed=cap)
    tax = TaxDetermination("STANDARD", vat)
    invoice = assemble_invoice(invoice_id="INV-1", correlation_id="c", sow_id="SOW-1", engagement_id="ENG-1",
                               client_id="C-FR", contracting_entity_id="LE-DE", invoice_date=date(2026, 3, 31),
                               currency="EUR", contract_version=1, lines=tm.lines, tax=tax)
    credit = data.draw(st.decimals(min_value=D("0"), max_value=invoice.gross_total, places=2))
    open_balance = invoice.gross_total - credit
    paid = data.draw(st.decimals(min_value=D("0"), max_value=open_balance, places=2))
    pay = Payment(correlation_id="c", payment_id="PAY-1", client_id="C-FR", received_on=date(2026, 4, 20),
                  currency="EUR", amount=paid + D("10.00"))
    cash = apply_cash(pay, application_id="CA-1", allocations={"INV-1": paid}, open_balances={"INV-1": open_balance})
    status = "paid" if open_balance - paid == 0 else "partially_paid" if paid else "posted"
    facts = replace(
        WORLD, invoices=[invoice.model_copy(update={"status": status})], time_entries=entries, fx_rates=TABLE,
        statements_of_work=[sow], original_baselines={"SOW-1": sow.baseline}, change_orders=[], held=tm.held,
        clients=[], tax_rates={},
        credit_memos=[CreditMemo(correlation_id="c", credit_memo_id="CM-1", invoice_id="INV-1",
                                 issued_on=date(2026, 4, 2), currency="EUR", amount=credit)],
        previously_seen_invoice_ids={"INV-1"}, payments=[pay], cash_applications=[cash],
    )
    assert check_all(facts) == []
