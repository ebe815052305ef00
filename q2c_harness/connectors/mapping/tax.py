"""Canonical invoice <-> AvaTax-style transaction (pure).

- An invoice becomes a ``SalesInvoice`` whose ``code`` is the invoice id (AvaTax: company + code + type identify a
  document, so the code is our idempotency key), one line per invoice line (``number`` = line id, ``amount`` = net),
  ``shipFrom`` the contracting entity's country and ``shipTo`` the client's billing address; the client's VAT id goes
  in ``businessIdentificationNo`` (it makes a cross-border EU/UK supply a reverse charge).
- The answer's per-line ``tax`` becomes each line's tax, its ``totalTax`` the invoice's; the document's jurisdictions
  (``summary``) are kept for the audit trail. NetSuite states one tax rate per invoice: `effective_rate` is the rate
  whose ``round(net x rate / 100)`` is exactly the service's tax.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from q2c_harness.canonical import Client, InvoiceEvent, LegalEntity

from .common import to_decimal

# AvaTax system tax code for professional services not tied to a software sale (help.avalara.com, "Best Practices
# for Selecting AvaTax System Tax Codes"); override per line kind in ``tax_codes``.
SERVICES_TAX_CODE = "SC080000"
SERVICE_TAX_CODE = "AVATAX"  # the line tax code an invoice taxed by the service carries
_RATE_PLACES = Decimal("0.0000000001")


def transaction_model(invoice: InvoiceEvent, *, seller: LegalEntity, client: Client,
                      tax_codes: dict[str, str] | None = None) -> dict[str, Any]:
    codes = tax_codes or {}
    addr = client.address
    ship_to = {"line1": addr.line1, "city": addr.city, "region": addr.region, "postalCode": addr.postal_code,
               "country": addr.country} if addr else {"country": client.country}
    model: dict[str, Any] = {
        "type": "SalesInvoice", "code": invoice.invoice_id, "date": invoice.invoice_date.isoformat(),
        "customerCode": invoice.client_id, "currencyCode": invoice.currency, "commit": False,
        "description": f"q2c invoice {invoice.invoice_id} engagement {invoice.engagement_id}",
        "addresses": {"shipFrom": {"country": seller.country}, "shipTo": {k: v for k, v in ship_to.items() if v}},
        "lines": [{"number": ln.line_id[-50:], "quantity": ln.quantity, "amount": ln.amount,
                   "taxCode": codes.get(ln.kind, codes.get("*", SERVICES_TAX_CODE)),
                   "itemCode": ln.kind, "description": ln.description[:2096]} for ln in invoice.lines],
    }
    vat_id = invoice.customer_vat_id or client.vat_id
    if vat_id:
        model["businessIdentificationNo"] = vat_id
    return model


def jurisdictions(txn: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's summary rows as (country, region, jurisdiction, tax name, rate, taxable, tax)."""
    return [{"country": r.get("country"), "region": r.get("region"), "juris_name": r.get("jurisName"),
             "juris_type": r.get("jurisType"), "tax_name": r.get("taxName"), "rate": str(r.get("rate")),
             "taxable": str(r.get("taxable")), "tax": str(r.get("tax"))} for r in txn.get("summary") or []]


def apply_tax(invoice: InvoiceEvent, txn: dict[str, Any]) -> InvoiceEvent:
    """The invoice with the service's tax per line and in total (gross = net + tax)."""
    by_number = {str(ln.get("lineNumber")): ln for ln in txn.get("lines") or []}
    lines = []
    for ln in invoice.lines:
        got = by_number.get(ln.line_id[-50:])
        tax = to_decimal(got.get("tax", 0), what="line tax") if got else Decimal("0")
        lines.append(ln.model_copy(update={"tax_code": SERVICE_TAX_CODE, "tax_amount": tax}))
    total_tax = to_decimal(txn.get("totalTax", 0), what="totalTax")
    note = next((m.get("details") for m in txn.get("messages") or []
                 if "reverse charge" in str(m.get("summary", "")).lower()), None)
    return invoice.model_copy(update={"lines": lines, "tax_total": total_tax,
                                      "gross_total": invoice.net_total + total_tax,
                                      "reverse_charge_note": note or invoice.reverse_charge_note})


def effective_rate(net: Decimal, tax: Decimal) -> Decimal:
    """A percent rate with ``round(net x rate / 100, 2) == tax`` (NetSuite computes the header tax from it)."""
    if net == 0 or tax == 0:
        return Decimal("0")
    rate = (tax * 100 / net).quantize(_RATE_PLACES, rounding=ROUND_HALF_UP)
    return rate.normalize() if rate == rate.to_integral_value() else rate
