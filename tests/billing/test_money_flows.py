"""Intercompany, tax, credit memos, cash application, FX gain/loss, revenue inputs."""

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_factories import CID, FAST, client, entity, money
from q2c_harness.billing import (
    REVERSE_CHARGE_NOTE,
    TaxDetermination,
    apply_cash,
    assemble_invoice,
    contract_position,
    cross_charge,
    cumulative_revenue,
    determine_tax,
    eliminate,
    elimination_total,
    invoice_status,
    open_balance,
    percent_complete,
    period_revenue,
    realized_fx_gain_loss,
    validate_credit_memo,
)
from q2c_harness.billing.errors import (
    CreditExceedsInvoice,
    CreditMemoInvoiceMismatch,
    MissingCustomerVatId,
    NotIntercompanyPartners,
    OverApplication,
    PaymentImbalance,
    ProgressOutOfRange,
)
from q2c_harness.canonical import CreditMemo, InvoiceLine, Payment

RATES = {"DE": D("19"), "FR": D("20"), "GB": D("20")}


def line(n: int, amount: D) -> InvoiceLine:
    return InvoiceLine(line_id=f"L{n}", kind="time", quantity=D("1"), unit_price=amount, amount=amount,
                       source_ids=[f"T-{n}"], contract_version=2)


def invoice(amounts, tax=TaxDetermination("STANDARD", D("19")), currency="EUR"):
    return assemble_invoice(invoice_id="INV-1", correlation_id=CID, sow_id="SOW-1", engagement_id="ENG-1",
                            client_id="C-DE", contracting_entity_id="LE-DE", invoice_date=date(2026, 3, 31),
                            currency=currency, contract_version=2, lines=[line(i, a) for i, a in enumerate(amounts)],
                            tax=tax)


# --- intercompany -----------------------------------------------------------------------------

def test_cross_charge_mirrors_and_eliminates_to_zero():
    uk, de = entity("LE-UK", "GB", partners=["LE-DE"]), entity("LE-DE", "DE")
    charge = cross_charge(pair_id="IC-1", delivering=uk, contracting=de, cost=D("1000.00"), markup_percent=D("10"),
                          currency="EUR", source_ids=["T-1"])
    assert charge.receivable.amount == charge.payable.amount == D("1100.00")
    assert (charge.receivable.entity_id, charge.receivable.counterparty_id) == ("LE-UK", "LE-DE")
    assert (charge.payable.entity_id, charge.payable.counterparty_id) == ("LE-DE", "LE-UK")
    assert elimination_total(eliminate([charge])) == 0
    assert cross_charge(pair_id="IC-2", delivering=de, contracting=de, cost=D("1"), markup_percent=D("0"),
                        currency="EUR") is None


def test_cross_charge_between_non_partners_rejected():
    with pytest.raises(NotIntercompanyPartners, match="LE-DE may not cross-charge LE-US"):
        cross_charge(pair_id="IC-1", delivering=entity("LE-DE", "DE"), contracting=entity("LE-US", "US"),
                     cost=D("1"), markup_percent=D("0"), currency="EUR")


@FAST
@given(st.lists(st.tuples(money, st.decimals(min_value=D("0"), max_value=D("50"), places=1)), max_size=10))
def test_eliminations_always_net_to_zero(charges):
    uk, de = entity("LE-UK", "GB", partners=["LE-DE"]), entity("LE-DE", "DE")
    cc = [cross_charge(pair_id=f"IC-{i}", delivering=uk, contracting=de, cost=c, markup_percent=m, currency="EUR")
          for i, (c, m) in enumerate(charges)]
    assert all(c.receivable.amount == c.payable.amount for c in cc)
    assert elimination_total(eliminate(cc)) == 0


# --- tax --------------------------------------------------------------------------------------

def test_eu_cross_border_b2b_is_reverse_charge_with_note():
    det = determine_tax(entity("LE-DE", "DE"), client("FR", vat_id="FR12345678901"), RATES)
    assert (det.tax_code, det.rate_percent, det.note) == ("REVERSE_CHARGE", D("0"), REVERSE_CHARGE_NOTE)
    inv = invoice([D("1000.00")], tax=det)
    assert (inv.tax_total, inv.gross_total, inv.reverse_charge_note) == (D("0.00"), D("1000.00"), REVERSE_CHARGE_NOTE)


def test_reverse_charge_without_customer_vat_id_rejected():
    with pytest.raises(MissingCustomerVatId, match="client C-FR \\(FR\\) needs a valid VAT id") as e:
        determine_tax(entity("LE-DE", "DE"), client("FR", vat_id=None), RATES)
    assert e.value.code == "missing_customer_vat_id"
    with pytest.raises(MissingCustomerVatId):  # wrong country prefix
        determine_tax(entity("LE-DE", "DE"), client("FR", vat_id="DE123456789"), RATES)


def test_domestic_consumer_and_non_eu_b2b():
    assert determine_tax(entity("LE-DE", "DE"), client("DE", vat_id="DE123456789"), RATES).rate_percent == D("19")
    assert determine_tax(entity("LE-DE", "DE"), client("FR", is_business=False), RATES).rate_percent == D("19")
    assert determine_tax(entity("LE-DE", "DE"), client("US"), RATES).tax_code == "OUTSIDE_SCOPE"


def test_worked_example_tax_rounding_per_line():
    inv = invoice([D("10.05"), D("10.05")])  # 19 % of 10.05 = 1.9095 -> 1.91 per line
    assert (inv.net_total, inv.tax_total, inv.gross_total) == (D("20.10"), D("3.82"), D("23.92"))


@FAST
@given(st.lists(money, min_size=1, max_size=10), st.sampled_from([D("0"), D("7"), D("19"), D("20"), D("8.1")]))
def test_gross_is_net_plus_tax(amounts, rate):
    inv = invoice(amounts, tax=TaxDetermination("STANDARD", rate))
    assert inv.gross_total == inv.net_total + inv.tax_total
    assert inv.tax_total == sum(ln.tax_amount for ln in inv.lines)
    assert all(ln.contract_version == inv.contract_version for ln in inv.lines)


# --- credit memos -----------------------------------------------------------------------------

def memo(mid: str, amount: D, invoice_id="INV-1", currency="EUR"):
    return CreditMemo(correlation_id=CID, credit_memo_id=mid, invoice_id=invoice_id, issued_on=date(2026, 4, 2),
                      currency=currency, amount=amount)


def test_credits_never_exceed_the_invoice():
    inv = invoice([D("1000.00")])  # gross 1190.00
    validate_credit_memo(memo("CM-1", D("1000.00")), inv)
    with pytest.raises(CreditExceedsInvoice, match=r"CM-2 \(200.00\) plus prior credits \(1000.00\) exceed invoice "
                                                   r"INV-1 total 1190.00 EUR"):
        validate_credit_memo(memo("CM-2", D("200.00")), inv, prior_credits=[memo("CM-1", D("1000.00"))])
    with pytest.raises(CreditMemoInvoiceMismatch, match="references invoice INV-9"):
        validate_credit_memo(memo("CM-3", D("1"), invoice_id="INV-9"), inv)
    with pytest.raises(CreditMemoInvoiceMismatch, match="is in USD"):
        validate_credit_memo(memo("CM-4", D("1"), currency="USD"), inv)


# --- cash application and FX ------------------------------------------------------------------

def payment(amount: D, rate=None):
    return Payment(correlation_id=CID, payment_id="PAY-1", client_id="C-DE", received_on=date(2026, 4, 20),
                   currency="EUR", amount=amount, settlement_fx_rate=rate)


def test_worked_example_fx_gain_eur_2000_at_140_collected_at_145_is_usd_100():
    assert realized_fx_gain_loss(D("2000.00"), D("1.40"), D("1.45"), "USD") == D("100.00")
    assert realized_fx_gain_loss(D("2000.00"), D("1.45"), D("1.40"), "USD") == D("-100.00")
    assert realized_fx_gain_loss(D("1000"), D("1.4"), D("1.4"), "USD") == D("0.00")


def test_cash_application_worked_example():
    app = apply_cash(payment(D("1500.00")), application_id="CA-1", allocations={"INV-1": D("1190.00")},
                     open_balances={"INV-1": D("1190.00")}, deductions=D("10.00"))
    assert (app.applied_total, app.unapplied, app.deductions) == (D("1190.00"), D("300.00"), D("10.00"))
    assert invoice_status(D("1190.00"), D("0"), app.applied_total) == "paid"
    assert invoice_status(D("1190.00"), D("0"), D("100")) == "partially_paid"
    assert invoice_status(D("1190.00"), D("90.00"), D("1100.00")) == "paid"


def test_over_application_and_imbalance_rejected():
    with pytest.raises(OverApplication, match="applying 1200.00 to invoice INV-1 exceeds its open balance 1190.00"):
        apply_cash(payment(D("1500.00")), application_id="CA-1", allocations={"INV-1": D("1200.00")},
                   open_balances={"INV-1": D("1190.00")})
    with pytest.raises(PaymentImbalance, match="PAY-1 of 1000.00 EUR cannot cover applied 1000.00 \\+ deductions 5.00"):
        apply_cash(payment(D("1000.00")), application_id="CA-1", allocations={"INV-1": D("1000.00")},
                   open_balances={"INV-1": D("1190.00")}, deductions=D("5.00"))


@FAST
@given(money, st.lists(st.tuples(money, money), min_size=1, max_size=5), money)
def test_payment_equals_applied_plus_unapplied_plus_deductions(pay, invoices, deductions):
    open_balances = {f"INV-{i}": gross for i, (gross, _) in enumerate(invoices)}
    allocations = {f"INV-{i}": min(want, gross) for i, (gross, want) in enumerate(invoices)}
    total = sum(allocations.values()) + deductions
    if total > pay:
        with pytest.raises(PaymentImbalance):
            apply_cash(payment(pay), application_id="CA-1", allocations=allocations, open_balances=open_balances,
                       deductions=deductions)
        return
    app = apply_cash(payment(pay), application_id="CA-1", allocations=allocations, open_balances=open_balances,
                     deductions=deductions)
    assert app.applied_total + app.unapplied + app.deductions == pay and app.unapplied >= 0
    for a in app.applications:
        bal = open_balance(open_balances[a.invoice_id], D("0"), a.amount)
        assert bal >= 0
        assert (invoice_status(open_balances[a.invoice_id], D("0"), a.amount) == "paid") == (bal == 0)


# --- revenue ----------------------------------------------------------------------------------

def test_revenue_worked_example_with_negative_catch_up():
    p1 = percent_complete(D("40000"), D("100000"))
    cum1 = cumulative_revenue(p1, D("150000.00"), "USD")
    assert (p1, cum1) == (D("0.4"), D("60000.00"))
    p2 = percent_complete(D("45000"), D("150000"))  # estimate raised -> progress falls to 30 %
    cum2 = cumulative_revenue(p2, D("150000.00"), "USD")
    assert period_revenue(cum2, cum1) == D("-15000.00")
    pos = contract_position(billed=D("50000.00"), recognized=cum2)
    assert (pos.contract_liability, pos.contract_asset) == (D("5000.00"), D("0"))
    pos = contract_position(billed=D("40000.00"), recognized=cum2)
    assert (pos.contract_liability, pos.contract_asset) == (D("0"), D("5000.00"))


def test_progress_out_of_range_is_rejected_not_clamped():
    with pytest.raises(ProgressOutOfRange, match="cost to date 120 is outside 0..estimate at completion 100"):
        percent_complete(D("120"), D("100"))
    with pytest.raises(ProgressOutOfRange, match="must be positive"):
        percent_complete(D("0"), D("0"))


@FAST
@given(money, st.decimals(min_value=D("1"), max_value=D("1e6"), places=2), money, money, money)
def test_revenue_properties(cost, eac, price, prior, billed):
    if cost > eac:
        with pytest.raises(ProgressOutOfRange):
            percent_complete(cost, eac)
        return
    p = percent_complete(cost, eac)
    cum = cumulative_revenue(p, price, "USD")
    assert 0 <= p <= 1 and 0 <= cum <= price
    assert prior + period_revenue(cum, prior) == cum
    pos = contract_position(billed, cum)
    assert pos.contract_liability - pos.contract_asset == billed - cum
    assert min(pos.contract_liability, pos.contract_asset) == 0
