"""Flow (e): invoice posted and payment applied in NetSuite -> status back to the Salesforce account team
(``Invoice_Status__c``, ``Invoice_Number__c``, ``Amount_Invoiced__c``, ``Amount_Paid__c``, dates on the Opportunity),
events ``invoice.posted`` / ``payment.received`` / ``payment.applied``.

``post_invoice_status`` runs at the end of every billing run and milestone invoice; the ``payment_received`` workflow
runs per NetSuite customer payment found by the payment poller.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from q2c_harness.canonical import InvoiceEvent
from q2c_harness.connectors.mapping import netsuite as nsmap
from q2c_harness.connectors.mapping import salesforce as sfmap
from q2c_harness.connectors.mapping.common import ref_id, to_decimal
from q2c_harness.engine.events import INVOICE_POSTED, PAYMENT_APPLIED, PAYMENT_RECEIVED

from .context import FlowContext, load, owned

PAYMENT_WORKFLOW = "q2c.flows.payment_received"
FLOW = "cash"


def post_invoice_status(ctx: FlowContext, opportunity_id: str, invoice_json: dict[str, Any],
                        netsuite_id: str) -> dict[str, Any]:
    invoice = load(InvoiceEvent, invoice_json)
    ctx.engine.xref.link("netsuite", "invoice", netsuite_id, invoice.invoice_id)
    ns_inv = ctx.vendors.run(ctx.vendors.ns.get("invoice", netsuite_id))
    fields = sfmap.invoice_status_fields(invoice, invoice_number=str(ns_inv.get("tranId") or netsuite_id))
    ctx.write(FLOW, invoice.invoice_id, "sf-invoice-status", system="salesforce", operation="Opportunity.update",
              request=fields, call=lambda k: ctx.vendors.run(ctx.vendors.sf.update("Opportunity", opportunity_id,
                                                                                    fields)) or {"id": opportunity_id})
    ctx.engine.publish(INVOICE_POSTED, {"invoice_id": invoice.invoice_id, "netsuite_id": netsuite_id,
                                        "engagement_id": invoice.engagement_id, "client_id": invoice.client_id,
                                        "gross_total": str(invoice.gross_total), "currency": invoice.currency,
                                        "tran_id": ns_inv.get("tranId")},
                       key=f"{INVOICE_POSTED}:{invoice.invoice_id}", occurred_at=None)
    return {"opportunity_id": opportunity_id, "fields": {k: str(v) for k, v in fields.items()}}


def read_payment(ctx: FlowContext, payment_id: str) -> dict[str, Any]:
    async def go(v: Any) -> dict[str, Any]:
        pay = await v.ns.get("customerPayment", payment_id, expand_sub_resources=True)
        invoices = {}
        applies = pay.get("apply") or {}
        for line in applies.get("items", []) if isinstance(applies, dict) else applies:
            doc = ref_id(line.get("doc"))
            if doc and doc not in invoices:
                invoices[doc] = await v.ns.get("invoice", doc)
        return {"payment": pay, "invoices": invoices}
    return ctx.vendors.call(go)


def register(ctx: FlowContext) -> None:
    engine = ctx.engine

    @engine.step("q2c.cash.read")
    def s_read(payment_id: str) -> dict[str, Any]:
        return read_payment(ctx, payment_id)

    @engine.step("q2c.cash.status")
    def s_status(data: dict[str, Any]) -> dict[str, Any]:
        pay = data["payment"]
        updated = []
        for ns_id, inv in sorted(data["invoices"].items()):
            invoice_id = engine.xref.lookup("netsuite", "invoice", ns_id)
            if invoice_id is None:
                continue  # not an invoice the core posted
            engagement_id = ctx.store.engagement_of_invoice(invoice_id)
            eng = ctx.store.engagement(engagement_id) if engagement_id else None
            if eng is None:
                continue
            total = to_decimal(inv.get("total", 0), what="invoice total")
            remaining = to_decimal(inv.get("amountRemaining", inv.get("amountDue", total)), what="amountRemaining")
            status = nsmap.invoice_status(inv)
            fields = {sfmap.FIELDS.invoice_status: sfmap.INVOICE_STATUS_LABELS[status],
                      sfmap.FIELDS.invoice_number: str(inv.get("tranId") or ns_id),
                      sfmap.FIELDS.amount_invoiced: total, sfmap.FIELDS.amount_paid: total - remaining,
                      sfmap.FIELDS.last_payment_date: str(pay.get("tranDate"))[:10]}
            opp = eng["opportunity_id"]
            ctx.write(FLOW, f"{invoice_id}:{pay['id']}", "sf-payment-status", system="salesforce",
                      operation="Opportunity.update", request=fields,
                      call=lambda k, f=fields, o=opp: ctx.vendors.run(ctx.vendors.sf.update("Opportunity", o, f))
                      or {"id": o})
            engine.publish(PAYMENT_APPLIED, {"payment_id": str(pay["id"]), "invoice_id": invoice_id,
                                             "status": status, "amount_paid": str(total - remaining),
                                             "open_balance": str(remaining)},
                           key=f"{PAYMENT_APPLIED}:{pay['id']}:{invoice_id}:{remaining}")
            updated.append({"invoice_id": invoice_id, "status": status, "open_balance": str(remaining)})
        engine.publish(PAYMENT_RECEIVED, {"payment_id": str(pay["id"]), "amount": str(pay.get("payment")),
                                          "applied": str(pay.get("applied")), "unapplied": str(pay.get("unapplied")),
                                          "customer_id": ref_id(pay.get("customer")), "invoices": updated},
                       key=f"{PAYMENT_RECEIVED}:{pay['id']}:{pay.get('lastModifiedDate')}")
        return {"invoices": updated}

    def flow(message: dict[str, Any]) -> dict[str, Any]:
        data = s_read(str(message["payload"]["payment_id"]))
        return {"status": "reported", **s_status(data)}

    engine.workflow(PAYMENT_WORKFLOW)(owned(FLOW, ctx, flow))


