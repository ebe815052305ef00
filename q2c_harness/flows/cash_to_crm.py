"""Flow (e): cash. A gateway payment (webhook or event list) -> canonical `Payment` -> cash application
(`billing.cash.apply_cash`: applied <= each invoice's open balance, the rest unapplied) -> a NetSuite customer
payment applied to the invoices it settles -> status back to the Salesforce account team (``Invoice_Status__c``,
``Invoice_Number__c``, ``Amount_Invoiced__c``, ``Amount_Paid__c``, dates on the Opportunity), events
``invoice.posted`` / ``payment.received`` / ``payment.applied``.

``post_invoice_status`` runs at the end of every billing run and milestone invoice; the ``payment_received`` workflow
runs per NetSuite customer payment found by the payment poller (also those accounts receivable key in by hand); the
``gateway_payment`` workflow per gateway event. The gateway says everything at least once and in any order: the
inbox keys a payment by its intent and a refund by its id, the NetSuite payment is one external id per intent
(looked up before it is written), and a refund first makes sure its payment was applied, so a duplicated, delayed
or reordered event never applies cash twice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from q2c_harness.billing import apply_cash, invoice_status, open_balance
from q2c_harness.canonical import AppliedAmount, CashApplication, InvoiceEvent, Payment
from q2c_harness.connectors.mapping import netsuite as nsmap
from q2c_harness.connectors.mapping import payments as paymap
from q2c_harness.connectors.mapping import salesforce as sfmap
from q2c_harness.connectors.mapping.common import ref_id, to_decimal
from q2c_harness.engine.events import INVOICE_POSTED, PAYMENT_APPLIED, PAYMENT_RECEIVED
from q2c_harness.errors import BusinessError

from .context import FlowContext, load, owned

PAYMENT_WORKFLOW = "q2c.flows.payment_received"
GATEWAY_WORKFLOW = "q2c.flows.gateway_payment"
GATEWAY_EVENTS = ("payment_intent.succeeded", "refund.created")
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


def netsuite_application(pay: dict[str, Any], invoice_ids: dict[str, str]) -> tuple[Payment, CashApplication]:
    """A NetSuite customer payment as the canonical payment and its cash application (``invoice_ids``: NetSuite
    invoice id -> our invoice id; an invoice the core did not post keeps its NetSuite id)."""
    currency = str((pay.get("currency") or {}).get("refName") or "USD") if isinstance(pay.get("currency"), dict) \
        else "USD"
    pid = str(pay["id"])
    payment = Payment(correlation_id=f"ns-payment-{pid}", xref={"netsuite": pid}, payment_id=pid,
                      client_id=ref_id(pay.get("customer")) or "",
                      received_on=date.fromisoformat(str(pay.get("tranDate"))[:10]),
                      currency=currency, amount=to_decimal(pay.get("payment", 0), what="payment"))
    applies = pay.get("apply") or {}
    lines = applies.get("items", []) if isinstance(applies, dict) else applies
    apps = [AppliedAmount(invoice_id=invoice_ids.get(ref_id(ln.get("doc")) or "", ref_id(ln.get("doc")) or ""),
                          amount=to_decimal(ln.get("amount", 0), what="applied amount")) for ln in lines]
    unapplied = to_decimal(pay.get("unapplied", payment.amount - sum((a.amount for a in apps), Decimal(0))),
                           what="unapplied")
    return payment, CashApplication(correlation_id=payment.correlation_id, application_id=f"APP-{pid}",
                                    payment_id=pid, currency=currency, applications=apps, unapplied=unapplied)


def report_payment_status(ctx: FlowContext, data: dict[str, Any]) -> dict[str, Any]:
    """A NetSuite customer payment and the invoices it touches -> the status of each on its opportunity."""
    engine = ctx.engine
    pay = data["payment"]
    ours = {ns_id: engine.xref.lookup("netsuite", "invoice", ns_id) for ns_id in data["invoices"]}
    payment, application = netsuite_application(pay, {k: v for k, v in ours.items() if v})
    updated = []
    for ns_id, inv in sorted(data["invoices"].items()):
        invoice_id = ours[ns_id]
        if invoice_id is None:
            continue  # not an invoice the core posted
        engagement_id = ctx.store.engagement_of_invoice(invoice_id)
        eng = ctx.store.engagement(engagement_id) if engagement_id else None
        if eng is None:
            continue
        total = to_decimal(inv.get("total", 0), what="invoice total")
        remaining = to_decimal(inv.get("amountRemaining", inv.get("amountDue", total)), what="amountRemaining")
        paid = total - remaining  # by every payment and credit NetSuite applied to it
        status = "void" if nsmap.invoice_status(inv) == "void" else {
            "open": "posted", "partially_paid": "partially_paid", "paid": "paid"}[invoice_status(total, Decimal(0),
                                                                                               paid)]
        fields = {sfmap.FIELDS.invoice_status: sfmap.INVOICE_STATUS_LABELS[status],
                  sfmap.FIELDS.invoice_number: str(inv.get("tranId") or ns_id),
                  sfmap.FIELDS.amount_invoiced: total, sfmap.FIELDS.amount_paid: paid,
                  sfmap.FIELDS.last_payment_date: payment.received_on.isoformat()}
        opp = eng["opportunity_id"]
        ctx.write(FLOW, f"{invoice_id}:{pay['id']}:{remaining}", "sf-payment-status", system="salesforce",
                  operation="Opportunity.update", request=fields,
                  call=lambda k, f=fields, o=opp: ctx.vendors.run(ctx.vendors.sf.update("Opportunity", o, f))
                  or {"id": o})
        engine.publish(PAYMENT_APPLIED, {"payment_id": payment.payment_id, "invoice_id": invoice_id,
                                         "status": status, "amount_paid": str(paid),
                                         "open_balance": str(open_balance(total, Decimal(0), paid))},
                       key=f"{PAYMENT_APPLIED}:{pay['id']}:{invoice_id}:{remaining}")
        updated.append({"invoice_id": invoice_id, "status": status, "open_balance": str(remaining)})
    engine.publish(PAYMENT_RECEIVED, {"payment_id": payment.payment_id, "amount": str(payment.amount),
                                      "applied": str(application.applied_total),
                                      "unapplied": str(application.unapplied),
                                      "customer_id": payment.client_id, "invoices": updated},
                   key=f"{PAYMENT_RECEIVED}:{pay['id']}:{pay.get('lastModifiedDate')}:{payment.amount}")
    return {"invoices": updated}


# ---- the gateway --------------------------------------------------------------------------------------------------
def allocate(amount: Decimal, open_balances: dict[str, Decimal], order: list[str]) -> dict[str, Decimal]:
    """Spread a payment over the invoices it names, in the order named, each up to its open balance."""
    left, out = amount, {}
    for invoice_id in order:
        if invoice_id in open_balances and invoice_id not in out:
            take = max(Decimal(0), min(left, open_balances[invoice_id]))
            out[invoice_id] = take
            left -= take
    return out


def apply_gateway_payment(ctx: FlowContext, intent: dict[str, Any], correlation_id: str) -> dict[str, Any]:
    """A succeeded intent -> one NetSuite customer payment applied to its invoices (once per intent)."""
    payment = paymap.payment_from_intent(intent, correlation_id=correlation_id)
    eid = paymap.payment_external_id(payment.payment_id)
    existing = ctx.ns_lookup("customerPayment", eid)
    if existing is not None:  # applied already (a duplicate, a refund that came first, a replay)
        return {"id": str(existing["id"]), "externalId": eid, "payment_id": payment.payment_id}
    wanted = paymap.invoices_of(intent)
    found: dict[str, dict[str, Any]] = {}
    for invoice_id in wanted:
        rec = ctx.ns_lookup("invoice", nsmap.invoice_external_id(invoice_id))
        if rec is not None and str((rec.get("currency") or {}).get("refName", payment.currency)) == payment.currency:
            found[invoice_id] = rec
    if not found:
        raise BusinessError(f"payments: payment {payment.payment_id} of {payment.amount} {payment.currency} names no "
                            f"open invoice of ours in {payment.currency} ({', '.join(wanted) or 'none named'})",
                            system="payments", code="UNMATCHED_PAYMENT",
                            details={"payment_id": payment.payment_id, "invoices": wanted})
    balances = {i: to_decimal(r.get("amountRemaining", r.get("amountDue", r.get("total", 0))), what="open balance")
                for i, r in found.items()}
    application = apply_cash(payment, application_id=f"APP-{payment.payment_id}",
                             allocations=allocate(payment.amount, balances, wanted), open_balances=balances)
    customer = ref_id(next(iter(found.values())).get("entity"))
    body = {"customer": {"id": customer}, "payment": str(payment.amount), "tranDate": payment.received_on.isoformat(),
            "memo": f"q2c gateway payment {payment.payment_id}"}
    items = [{"doc": {"id": str(found[a.invoice_id]["id"])}, "amount": str(a.amount)}
             for a in application.applications]
    ctx.engine.decide("cash.apply", {"payment_id": payment.payment_id, "amount": str(payment.amount),
                                     "open_balances": {k: str(v) for k, v in balances.items()}},
                      {"applied": {a.invoice_id: str(a.amount) for a in application.applications},
                       "unapplied": str(application.unapplied)})
    out = ctx.write(FLOW, payment.payment_id, "ns-customer-payment", system="netsuite",
                    operation="customerPayment.put", request={**body, "apply": items},
                    call=lambda k: ctx.ns_put("customerPayment", eid, body, {"apply": items}))
    return {**out, "payment_id": payment.payment_id}


def apply_gateway_refunds(ctx: FlowContext, intent: dict[str, Any], refunds: list[dict[str, Any]],
                          ns_payment_id: str) -> dict[str, Any]:
    """The NetSuite payment of an intent holds what the client paid net of the refunds: the amount refunded comes
    off the unapplied part first, then off the invoices, last first (the invoice is open again)."""
    currency = str(intent["currency"]).upper()
    refunded = sum((paymap.from_minor(int(r["amount"]), currency) for r in refunds
                    if r.get("status") in ("succeeded", "pending")), Decimal(0))
    received = paymap.from_minor(int(intent.get("amount_received") or 0), currency)
    net = received - refunded
    pay = ctx.vendors.run(ctx.vendors.ns.get("customerPayment", ns_payment_id, expand_sub_resources=True))
    current = to_decimal(pay.get("payment", 0), what="payment")
    applies = pay.get("apply") or {}
    lines = [(ref_id(ln.get("doc")) or "", to_decimal(ln.get("amount", 0), what="applied"))
             for ln in (applies.get("items", []) if isinstance(applies, dict) else applies)]
    if current == net:
        return {"id": ns_payment_id, "refunded": str(refunded)}
    cut = current - net - max(Decimal(0), current - sum((a for _, a in lines), Decimal(0)))
    kept = []
    for doc, amount in reversed(lines):
        take = min(amount, max(cut, Decimal(0)))
        cut -= take
        kept.append((doc, amount - take))
    items = [{"doc": {"id": d}, "amount": str(a)} for d, a in reversed(kept) if a > 0]
    # amount and applications in one PATCH: NetSuite refuses a payment smaller than what it still applies
    body = {"payment": str(net), "apply": {"items": items}}

    def call(_key: str) -> dict[str, Any]:
        ctx.vendors.run(ctx.vendors.ns.update("customerPayment", ns_payment_id, body, params={"replace": "apply"}))
        return {"id": ns_payment_id, "refunded": str(refunded)}

    return ctx.write(FLOW, f"{intent['id']}:refunded:{refunded}", "ns-payment-refund", system="netsuite",
                     operation="customerPayment.update", request=body, call=call)


def register(ctx: FlowContext) -> None:
    engine = ctx.engine

    @engine.step("q2c.cash.read")
    def s_read(payment_id: str) -> dict[str, Any]:
        return read_payment(ctx, payment_id)

    @engine.step("q2c.cash.status")
    def s_status(data: dict[str, Any]) -> dict[str, Any]:
        return report_payment_status(ctx, data)

    def flow(message: dict[str, Any]) -> dict[str, Any]:
        data = s_read(str(message["payload"]["payment_id"]))
        return {"status": "reported", **s_status(data)}

    engine.workflow(PAYMENT_WORKFLOW)(owned(FLOW, ctx, flow))

    @engine.step("q2c.cash.gateway_read")
    def s_gateway_read(event: dict[str, Any]) -> dict[str, Any]:
        """The intent as the gateway holds it now (an event may be stale or arrive before its payment's), and its
        refunds."""
        gw = ctx.vendors.payments
        assert gw is not None, "a gateway event without a gateway configured"
        obj = event["data"]["object"]
        intent_id = obj["id"] if obj.get("object") == "payment_intent" else obj["payment_intent"]
        intent = ctx.vendors.run(gw.retrieve_payment_intent(intent_id))
        refunds = ctx.vendors.run(gw.list_refunds(intent_id)) if event["type"] == "refund.created" else []
        return {"intent": intent, "refunds": refunds}

    @engine.step("q2c.cash.gateway_apply")
    def s_gateway_apply(data: dict[str, Any], cid: str) -> dict[str, Any]:
        return apply_gateway_payment(ctx, data["intent"], cid)

    @engine.step("q2c.cash.gateway_refunds")
    def s_gateway_refunds(data: dict[str, Any], ns_payment: dict[str, Any]) -> dict[str, Any]:
        return apply_gateway_refunds(ctx, data["intent"], data["refunds"], ns_payment["id"])

    def gateway_flow(message: dict[str, Any]) -> dict[str, Any]:
        data = s_gateway_read(message["payload"])
        if data["intent"].get("status") != "succeeded":
            return {"status": "ignored", "intent_status": data["intent"].get("status")}
        ns_payment = s_gateway_apply(data, message["correlation_id"])
        if data["refunds"]:
            s_gateway_refunds(data, ns_payment)
        status = s_status(s_read(ns_payment["id"]))
        return {"status": "applied", "netsuite_payment_id": ns_payment["id"], **status}

    engine.workflow(GATEWAY_WORKFLOW)(owned(FLOW, ctx, gateway_flow))


