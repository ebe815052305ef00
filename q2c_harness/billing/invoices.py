"""Assemble an invoice event: tax per line, stated totals gross = net + Σ tax, one contract version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from q2c_harness.canonical import InvoiceEvent, InvoiceLine

from .errors import ChangeOrderMismatch
from .rounding import ZERO, require_minor_units
from .tax import TaxDetermination, tax_amount


def assemble_invoice(
    *,
    invoice_id: str,
    correlation_id: str,
    sow_id: str,
    engagement_id: str,
    client_id: str,
    contracting_entity_id: str,
    invoice_date: date,
    currency: str,
    contract_version: int,
    lines: Sequence[InvoiceLine],
    tax: TaxDetermination,
    customer_vat_id: str | None = None,
    booking_fx_rate: Decimal | None = None,
) -> InvoiceEvent:
    """Raises ChangeOrderMismatch if a line billed against another contract version,
    AmountNotInMinorUnits if a line amount is not in the currency's minor units."""
    taxed: list[InvoiceLine] = []
    for ln in lines:
        if ln.contract_version != contract_version:
            raise ChangeOrderMismatch(
                f"invoice {invoice_id} is against contract version {contract_version} but line "
                f"{ln.line_id} billed against version {ln.contract_version}",
                ref=ln.line_id,
            )
        require_minor_units(ln.amount, currency, f"invoice {invoice_id} line {ln.line_id} amount")
        taxed.append(ln.model_copy(update={"tax_code": tax.tax_code, "tax_amount": tax_amount(ln.amount, tax, currency)}))
    net = sum((ln.amount for ln in taxed), ZERO)
    tax_total = sum((ln.tax_amount for ln in taxed), ZERO)
    return InvoiceEvent(
        correlation_id=correlation_id,
        invoice_id=invoice_id,
        sow_id=sow_id,
        engagement_id=engagement_id,
        client_id=client_id,
        contracting_entity_id=contracting_entity_id,
        invoice_date=invoice_date,
        currency=currency,
        contract_version=contract_version,
        lines=taxed,
        net_total=net,
        tax_total=tax_total,
        gross_total=net + tax_total,
        customer_vat_id=customer_vat_id,
        reverse_charge_note=tax.note,
        booking_fx_rate=booking_fx_rate,
    )
