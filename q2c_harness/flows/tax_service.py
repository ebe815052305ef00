"""An invoice's tax from the tax service (when one is configured; otherwise the billing rules' rate table applies).

Three moments of one document, keyed by the invoice id (the AvaTax document ``code``):
- quote, before the invoice is written to NetSuite: a *Saved* ``SalesInvoice``; creating a Saved code again replaces
  it, so a retried or replayed quote is harmless. Its per-line tax becomes the invoice's tax. A client whose record
  lacks what the service needs (billing state and ZIP for US sales tax) is held as a business exception
  (``INCOMPLETE_TAX_ATTRIBUTES``), as is a request the service refuses: never posted untaxed;
- commit, once NetSuite holds the invoice (through the effect ledger: once);
- void, when the invoice is credited or its payment refunded in full.

An outage is a TransientError: the connector retries with backoff behind the endpoint's circuit breaker, the engine
step retries, then the run parks in the transient lot with nothing written to NetSuite; retried from the queue, it
quotes again and bills once (the NetSuite invoice is an external-id upsert through the ledger).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from q2c_harness.billing import missing_tax_attributes
from q2c_harness.canonical import Client, InvoiceEvent
from q2c_harness.connectors.mapping import tax as taxmap
from q2c_harness.errors import BusinessError

from .context import FlowContext, load

FLOW = "invoice"


def uses_tax_service(ctx: FlowContext) -> bool:
    return getattr(ctx.vendors, "tax", None) is not None


def quote_tax(ctx: FlowContext, rated: dict[str, Any]) -> dict[str, Any]:
    """``rated`` (an invoice plan with ``invoice`` and ``tax_rate``) with the tax service's tax."""
    invoice = load(InvoiceEvent, rated["invoice"])
    data = ctx.store.engagement(invoice.engagement_id)
    assert data is not None, f"engagement {invoice.engagement_id} is not in the flow store"
    client = load(Client, data["client"])
    missing = missing_tax_attributes(client)
    if missing:
        raise BusinessError(f"tax: invoice {invoice.invoice_id} held: client {client.client_id} lacks "
                            f"{' and '.join(missing)} for the tax service (fix the Salesforce Account's billing "
                            "address, then retry)", system="tax", code="INCOMPLETE_TAX_ATTRIBUTES",
                            details={"invoice_id": invoice.invoice_id, "client_id": client.client_id,
                                     "missing": missing})
    seller = ctx.ref.entity(invoice.contracting_entity_id)
    model = taxmap.transaction_model(invoice, seller=seller, client=client)
    tax = ctx.vendors.tax
    assert tax is not None
    txn = ctx.vendors.run(tax.create_transaction(model))
    taxed = taxmap.apply_tax(invoice, txn)
    rate = taxmap.effective_rate(taxed.net_total, taxed.tax_total)
    ctx.engine.decide("tax.quote", {"invoice_id": invoice.invoice_id, "net": str(invoice.net_total),
                                    "ship_to": model["addresses"]["shipTo"]},
                      {"document": txn.get("code"), "status": txn.get("status"), "total_tax": str(taxed.tax_total),
                       "jurisdictions": taxmap.jurisdictions(txn)}, system="tax")
    return {**rated, "invoice": taxed.model_dump(mode="json"), "tax_rate": str(rate), "tax_document": txn.get("code")}


def commit_tax(ctx: FlowContext, invoice_id: str) -> dict[str, Any]:
    """Commit the invoice's tax document once NetSuite holds the invoice (at most once, through the ledger)."""
    tax = ctx.vendors.tax
    assert tax is not None
    return ctx.write(FLOW, invoice_id, "tax-commit", system="tax", operation="transactions.commit",
                     request={"code": invoice_id},
                     call=lambda k: _status(ctx.vendors.run(tax.commit_transaction(invoice_id))))


def void_tax(ctx: FlowContext, invoice_id: str, reason: str = "DocVoided") -> dict[str, Any] | None:
    """Void the invoice's tax document (credited, refunded); None when no tax service is configured."""
    tax = getattr(ctx.vendors, "tax", None)
    if tax is None:
        return None
    return ctx.write(FLOW, invoice_id, "tax-void", system="tax", operation="transactions.void",
                     request={"code": invoice_id, "reason": reason},
                     call=lambda k: _status(ctx.vendors.run(tax.void_transaction(invoice_id, reason))))


def _status(txn: dict[str, Any]) -> dict[str, Any]:
    return {"code": txn.get("code"), "status": txn.get("status"), "total_tax": str(Decimal(str(txn.get("totalTax",
                                                                                                     0))))}
