"""Flow (g): a corrected invoice -> a NetSuite credit memo crediting it in full, plus a re-invoice of what still
stands, linked both ways.

An issued invoice is never edited or deleted (VAT Directive Art. 219: a document amending an invoice refers to it
specifically and unambiguously). When the client disputes time on an invoice and billing-ops agrees to write the
disputed entries off, the core:

- re-issues the invoice without the written-off entries (``<invoice>-R``, dated the day of the correction, the same
  lines, tax rate, customer, subsidiary and currency otherwise); its memo names the invoice and the credit memo it
  replaces;
- credits the original in full (gross, tax included) with a credit memo ``CM-<invoice>``: ``createdFrom`` is the
  invoice, the apply sublist applies it to the invoice's open balance (nothing applied when it is already paid: the
  credit stays on the customer's account), and its memo names the re-invoice;
- moves the billed sources that still stand to the re-invoice (cash on it reaches the CRM) and keeps the written-off
  ones claimed at 0, so they are never billed again; the CRM then shows the re-invoice.

Each vendor write goes through the effect ledger (one per credit memo and step): a retried or repeated correction
writes nothing twice. Only time-and-materials invoices of a billing run are corrected here (a retainer drawdown
would have to be recomputed: refused as ``REBILL_UNSUPPORTED``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from q2c_harness.billing import assemble_invoice, validate_credit_memo
from q2c_harness.billing.tax import TaxDetermination
from q2c_harness.canonical import CreditMemo, InvoiceEvent, InvoiceLine
from q2c_harness.connectors.mapping.common import external_id
from q2c_harness.errors import BusinessError

from . import tax_service
from .cash_to_crm import post_invoice_status
from .context import FlowContext, load
from .time_to_invoice import invoice_body, write_invoice

FLOW = "credit_memo"


def credit_memo_id(invoice_id: str) -> str:
    return f"CM-{invoice_id}"


def reinvoice_id(invoice_id: str) -> str:
    return f"{invoice_id}-R"


def credit_memo_external_id(cm_id: str) -> str:
    return external_id("CREDITMEMO", cm_id)


def _source_key(line: InvoiceLine, source: str) -> str:
    """The flow store's billed-source id of a line's source (``T-`` time, ``X-`` expense)."""
    return {"time": f"T-{source}", "expense": f"X-{source}"}.get(line.kind, source)


def kept_lines(lines: Iterable[InvoiceLine], written_off: set[str]) -> list[InvoiceLine]:
    """The lines a re-invoice bills again: every line citing none of the written-off sources."""
    return [ln for ln in lines if not set(ln.source_ids) & written_off]


def posted_invoice(ctx: FlowContext, engagement_id: str, invoice_id: str) -> tuple[InvoiceEvent, dict[str, Any]]:
    """The invoice as a billing run issued it, and the run's result (NetSuite id, tax rate)."""
    for run in ctx.store.runs(engagement_id):
        result = run.get("result") or {}
        if run["status"] == "posted" and run["invoice_id"] == invoice_id and result.get("invoice"):
            return load(InvoiceEvent, result["invoice"]), result
    raise BusinessError(f"engagement {engagement_id}: no posted invoice {invoice_id} to correct", system="q2c",
                        code="UNKNOWN_INVOICE", details={"invoice_id": invoice_id})


def plan_rebill(invoice: InvoiceEvent, *, tax_rate: Decimal, written_off: set[str], on: date, reason: str,
                prior: Iterable[CreditMemo] = ()) -> tuple[CreditMemo, InvoiceEvent | None]:
    """The credit memo (the invoice's gross, in its currency) and the re-invoice of the lines that still stand
    (None when nothing does). Raises CreditExceedsInvoice (credited before), BusinessError (nothing to correct)."""
    if any(ln.kind == "retainer_drawdown" for ln in invoice.lines):
        raise BusinessError(f"invoice {invoice.invoice_id} draws down a retainer: correct it by hand",
                            system="q2c", code="REBILL_UNSUPPORTED", details={"invoice_id": invoice.invoice_id})
    if not written_off & {s for ln in invoice.lines for s in ln.source_ids}:
        raise BusinessError(f"invoice {invoice.invoice_id} bills none of {sorted(written_off)}: nothing to correct",
                            system="q2c", code="NOTHING_TO_CORRECT", details={"invoice_id": invoice.invoice_id})
    memo = CreditMemo(correlation_id=invoice.correlation_id, credit_memo_id=credit_memo_id(invoice.invoice_id),
                      invoice_id=invoice.invoice_id, issued_on=on, currency=invoice.currency,
                      amount=invoice.gross_total, reason=reason)
    validate_credit_memo(memo, invoice, prior)
    kept = kept_lines(invoice.lines, written_off)
    if not kept:
        return memo, None
    rid = reinvoice_id(invoice.invoice_id)
    tax = TaxDetermination(tax_code=next((ln.tax_code for ln in invoice.lines if ln.tax_code), "STANDARD"),
                           rate_percent=tax_rate, note=invoice.reverse_charge_note)
    lines = [ln.model_copy(update={"line_id": f"{rid}-{n}", "tax_amount": Decimal("0")})
             for n, ln in enumerate(kept, start=1)]
    rebill = assemble_invoice(invoice_id=rid, correlation_id=invoice.correlation_id, sow_id=invoice.sow_id,
                              engagement_id=invoice.engagement_id, client_id=invoice.client_id,
                              contracting_entity_id=invoice.contracting_entity_id, invoice_date=on,
                              currency=invoice.currency, contract_version=invoice.contract_version, lines=lines,
                              tax=tax, customer_vat_id=invoice.customer_vat_id,
                              booking_fx_rate=invoice.booking_fx_rate)
    return memo, rebill


def credit_memo_body(ctx: FlowContext, invoice: InvoiceEvent, keys: dict[str, Any], tax_rate: str,
                     memo: CreditMemo, ns_invoice_id: str,
                     rebill_id: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The credit memo as NetSuite takes it: the invoice's own lines and tax rate, ``createdFrom`` the invoice."""
    body, lines = invoice_body(ctx, invoice, keys, tax_rate)
    body.pop("job", None)  # a credit memo has no project on its header (the lines keep theirs)
    body.update(tranDate=memo.issued_on.isoformat(), createdFrom={"id": ns_invoice_id},
                memo=(f"q2c credit memo {memo.credit_memo_id} credits {invoice.invoice_id}; "
                      f"re-invoiced as {rebill_id or 'nothing'}; {memo.reason}")[:4000])
    return body, lines


def correct_invoice(ctx: FlowContext, engagement_id: str, invoice_id: str, *, written_off: Iterable[str],
                    on: date, reason: str, actor: str) -> dict[str, Any]:
    """Credit ``invoice_id`` in full and re-invoice it without the ``written_off`` PSA entries (time entry or
    expense ids). Returns what was issued; a second call for the same invoice returns the first correction."""
    done = [c for c in ctx.store.credit_memos(engagement_id) if c["invoice_id"] == invoice_id]
    if done:
        return done[0]["data"]["result"]
    invoice, result = posted_invoice(ctx, engagement_id, invoice_id)
    off = {str(s) for s in written_off}
    memo, rebill = plan_rebill(invoice, tax_rate=Decimal(result["tax_rate"]), written_off=off, on=on, reason=reason)
    data = ctx.store.engagement(engagement_id)
    assert data is not None
    keys, opportunity_id = data["keys"], data["opportunity_id"]
    ns_invoice_id = str(result["netsuite_invoice_id"])
    ns_rebill = None
    if rebill is not None:
        plan = {"invoice": rebill.model_dump(mode="json"), "keys": keys, "tax_rate": result["tax_rate"]}
        if tax_service.uses_tax_service(ctx):  # the re-invoice is taxed by the service like any invoice
            plan = tax_service.quote_tax(ctx, plan)
            rebill = load(InvoiceEvent, plan["invoice"])
        ns_rebill = write_invoice(ctx, plan, memo_note=f"replaces {invoice_id} (credit memo {memo.credit_memo_id})")
        if tax_service.uses_tax_service(ctx):
            tax_service.commit_tax(ctx, rebill.invoice_id)
    body, lines = credit_memo_body(ctx, invoice, keys, result["tax_rate"], memo, ns_invoice_id,
                                   rebill.invoice_id if rebill else None)
    ns_inv = ctx.vendors.run(ctx.vendors.ns.get("invoice", ns_invoice_id))
    remaining = Decimal(str(ns_inv.get("amountRemaining", ns_inv.get("amountDue", 0)) or 0))
    # applied to what is still open on the invoice; a paid invoice's credit stays on the customer's account
    apply = [{"doc": {"id": ns_invoice_id}, "amount": str(min(memo.amount, remaining))}] if remaining > 0 else []
    eid = credit_memo_external_id(memo.credit_memo_id)
    sublists = {"item": lines, **({"apply": apply} if apply else {})}
    ns_memo = ctx.write(FLOW, memo.credit_memo_id, "ns-credit-memo", system="netsuite", operation="creditMemo.put",
                        request={**body, **sublists}, call=lambda k: ctx.ns_put("creditMemo", eid, body, sublists))
    tax_service.void_tax(ctx, invoice_id)  # credited in full: its tax document is voided (no-op without a service)
    rebilled = {_source_key(ln, s): ln.amount for ln in (rebill.lines if rebill else []) for s in ln.source_ids}
    out = {"credit_memo_id": memo.credit_memo_id, "netsuite_credit_memo_id": ns_memo["id"],
           "credited": str(memo.amount), "currency": memo.currency, "invoice_id": invoice_id,
           "reinvoice_id": rebill.invoice_id if rebill else None,
           "netsuite_reinvoice_id": ns_rebill["id"] if ns_rebill else None,
           "reinvoice_gross": str(rebill.gross_total) if rebill else None, "written_off": sorted(off)}
    gone = sorted({_source_key(ln, s) for ln in invoice.lines for s in ln.source_ids if s in off})
    ctx.store.record_credit(memo.credit_memo_id, invoice_id, out["reinvoice_id"], engagement_id,
                            {"memo": memo.model_dump(mode="json"), "result": out,
                             "reinvoice": rebill.model_dump(mode="json") if rebill else None},
                            rebilled=rebilled, written_off=gone)
    ctx.engine.decide("billing.credit_and_rebill", {"invoice_id": invoice_id, "written_off": sorted(off),
                                                    "actor": actor, "reason": reason}, out)
    if rebill is not None and ns_rebill is not None:
        post_invoice_status(ctx, opportunity_id, rebill.model_dump(mode="json"), ns_rebill["id"])
    return out
