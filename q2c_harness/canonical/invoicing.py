"""What was billed and collected: invoice events and lines, credit memos, payments, cash application.

Totals on an invoice are *stated* (as the ERP reports them), not derived, so the
invariant checks can catch an ERP or mapping that disagrees with its own lines.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from .money import Amount, CanonicalObject, CurrencyCode, Strict

LineKind = Literal["time", "expense", "milestone", "recurring_fee", "usage", "retainer_drawdown", "adjustment"]


class InvoiceLine(Strict):
    line_id: str
    kind: LineKind
    description: str = ""
    quantity: Amount
    unit_price: Amount
    amount: Amount  # net, in invoice currency, rounded to its minor units
    tax_code: str = "NONE"
    tax_amount: Amount = Decimal("0")
    # Traceability: the records this line bills (time entry, expense, milestone ids) ...
    source_ids: list[str]
    # ... and the contract version it billed against.
    contract_version: Annotated[int, Field(ge=1)]
    client_id: str | None = None  # set when the contract line is split across customers
    # Rating audit trail (time lines): what rate, which FX, which rate-card version.
    applied_rate: Amount | None = None  # rate in rate-card currency
    rate_card_version: int | None = None
    fx_rate_type: str | None = None
    fx_rate_date: date | None = None
    fx_rate: Amount | None = None


class InvoiceEvent(CanonicalObject):
    """A billing event released to finance: one invoice."""

    invoice_id: str
    sow_id: str
    engagement_id: str
    client_id: str
    contracting_entity_id: str
    invoice_date: date
    currency: CurrencyCode
    contract_version: Annotated[int, Field(ge=1)]
    lines: list[InvoiceLine]
    net_total: Amount
    tax_total: Amount
    gross_total: Amount
    status: Literal["draft", "posted", "partially_paid", "paid", "void"] = "posted"
    customer_vat_id: str | None = None
    reverse_charge_note: str | None = None
    # Rate to the contracting entity's functional currency at the invoice date (booking rate).
    booking_fx_rate: Amount | None = None


class CreditMemo(CanonicalObject):
    """Credits exactly one invoice (VAT Directive Art. 219); the invoice itself is never deleted."""

    credit_memo_id: str
    invoice_id: str
    issued_on: date
    currency: CurrencyCode
    amount: Amount  # gross amount credited
    reason: str = ""


class Payment(CanonicalObject):
    payment_id: str
    client_id: str
    received_on: date
    currency: CurrencyCode
    amount: Amount
    # Rate to the functional currency on the settlement date.
    settlement_fx_rate: Amount | None = None


class AppliedAmount(Strict):
    invoice_id: str
    amount: Amount


class CashApplication(CanonicalObject):
    """How one payment was spread: payment = Σ applied + unapplied + deductions."""

    application_id: str
    payment_id: str
    currency: CurrencyCode
    applications: list[AppliedAmount]
    unapplied: Amount
    deductions: Amount = Decimal("0")

    @property
    def applied_total(self) -> Decimal:
        return sum((a.amount for a in self.applications), Decimal("0"))
