"""Flow (b): approved time and expenses -> billing-ready transactions -> a billing run per engagement and period:
rated by the billing rules, time synced to NetSuite (``timeBill``), ONE invoice in the contracting subsidiary and
currency, intercompany cross-charges where another entity delivered, status to Salesforce.

Two workflows, both coarse:
- ``transactions_approved`` (one per PSA approval event): reads the approved entries, maps them to canonical
  transactions and stages them (no ERP call);
- ``billing_run`` (one per engagement x period x set of staged sources): freezes the sources it bills (the
  billed-once rule is a unique constraint), rates, writes time bills in chunks (one ledger effect per chunk, the
  chunk's upserts in parallel under the NetSuite concurrency budget), the invoice, the cross-charges.
"""

from __future__ import annotations

import asyncio
import calendar
from datetime import date
from decimal import Decimal
from typing import Any

from q2c_harness.billing import (
    assemble_invoice,
    bill_time_and_materials,
    cross_charge,
    determine_tax,
    rate_time_entry,
    select_billable,
)
from q2c_harness.billing.errors import CurrencyMismatch
from q2c_harness.canonical import (
    Client,
    Engagement,
    ExpenseTransaction,
    InvoiceEvent,
    InvoiceLine,
    StatementOfWork,
    TimeTransaction,
)
from q2c_harness.connectors.mapping import netsuite as nsmap
from q2c_harness.connectors.mapping import psa as psamap
from q2c_harness.engine.db import sha256_hex
from q2c_harness.engine.events import BILLING_EVENT_CREATED, TIME_APPROVED
from q2c_harness.errors import BusinessError

from .cash_to_crm import post_invoice_status
from .context import FlowContext, load, owned
from .reference import entity_eid, ic_customer_eid, item_eid, resource_eid

INTAKE_WORKFLOW = "q2c.flows.transactions_approved"
RUN_WORKFLOW = "q2c.flows.billing_run"
FLOW = "billing"
CHUNK = 25
APPROVAL_EVENTS = ("timesheet_submission:approved", "expense:approved", "expense_report_submission:approved")


def period_of(d: str) -> str:
    return d[:7]


def period_end(period: str) -> date:
    y, m = int(period[:4]), int(period[5:7])
    return date(y, m, calendar.monthrange(y, m)[1])


def run_id_for(engagement_id: str, period: str, candidates: list[str]) -> str:
    return f"{engagement_id}:{period}:{sha256_hex(','.join(sorted(candidates)))[:16]}"


def invoice_prefix(engagement_id: str, period: str) -> str:
    return f"INV-{engagement_id}-{period}"


# ---- intake ------------------------------------------------------------------------------------------------------
def ids_in_event(event: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(time entry ids, expense ids) an approval event covers."""
    et = event.get("event_type", "")
    cur = event.get("current_payload") or {}
    if et == "timesheet_submission:approved":
        return [str(i) for i in cur.get("time_entry_ids") or []], []
    if et == "expense:approved":
        return [], [str(event.get("subject_id"))]
    if et == "expense_report_submission:approved":
        return [], [str(i) for i in cur.get("expense_ids") or []]
    return [], []


def fetch_and_stage(ctx: FlowContext, event: dict[str, Any], correlation_id: str) -> dict[str, Any]:
    time_ids, expense_ids = ids_in_event(event)
    psa = ctx.vendors.psa

    async def fetch() -> dict[str, Any]:
        entries = await psa.list_all("time_entries", only=time_ids) if time_ids else []
        expenses = await psa.list_all("expenses", only=expense_ids) if expense_ids else []
        users: dict[str, Any] = {}
        roles: dict[str, Any] = {}
        for rec in [*entries, *expenses]:
            uid = str(rec["user_id"])
            if uid not in users:
                users[uid] = ctx.psa_cache.get(("users", uid)) or await psa.get("users", uid)
                ctx.psa_cache[("users", uid)] = users[uid]
        for rec in entries:
            rid = rec.get("role_id") or users[str(rec["user_id"])].get("role_id")
            if rid and str(rid) not in roles:
                roles[str(rid)] = ctx.psa_cache.get(("roles", str(rid))) or await psa.get("roles", rid)
                ctx.psa_cache[("roles", str(rid))] = roles[str(rid)]
        return {"entries": entries, "expenses": expenses, "users": users, "roles": roles}

    data = ctx.vendors.run(fetch())
    staged = []
    for rec in data["entries"]:
        eng = _engagement_for_workspace(ctx, rec["workspace_id"])
        user = data["users"][str(rec["user_id"])]
        rid = rec.get("role_id") or user.get("role_id")
        role = data["roles"].get(str(rid), {}).get("name") if rid else None
        if not role or not user.get("region") or not user.get("legal_entity"):
            raise BusinessError(f"psa: user {user['id']} lacks a role, region or legal entity for rating",
                                system="psa", code="INCOMPLETE_RESOURCE", details={"user": user["id"]})
        tx = psamap.time_transaction_from_entry(
            rec, correlation_id=correlation_id, engagement_id=eng["engagement"]["engagement_id"],
            sow_id=eng["sow"]["sow_id"], role=role, region=user["region"], delivering_entity_id=user["legal_entity"])
        if tx.approval_state != "approved":
            continue
        staged.append((f"T-{tx.time_entry_id}", "time", tx.engagement_id, period_of(tx.work_date.isoformat()),
                       {"tx": tx.model_dump(mode="json"), "user_name": user.get("full_name", "")}))
    for rec in data["expenses"]:
        eng = _engagement_for_workspace(ctx, rec["workspace_id"])
        user = data["users"][str(rec["user_id"])]
        ex = psamap.expense_transaction_from_psa(
            rec, correlation_id=correlation_id, engagement_id=eng["engagement"]["engagement_id"],
            sow_id=eng["sow"]["sow_id"], delivering_entity_id=user.get("legal_entity") or
            eng["engagement"]["contracting_entity_id"], currency=eng["engagement"]["currency"])
        if ex.approval_state != "approved":
            continue
        staged.append((f"X-{ex.expense_id}", "expense", ex.engagement_id, period_of(ex.incurred_on.isoformat()),
                       {"tx": ex.model_dump(mode="json")}))
    new = ctx.store.stage(staged)
    return {"staged": [s[0] for s in staged], "new": new,
            "runs": sorted({f"{s[2]}|{s[3]}" for s in staged})}


def _engagement_for_workspace(ctx: FlowContext, workspace_id: Any) -> dict[str, Any]:
    eng = ctx.store.engagement_by_workspace(str(workspace_id))
    if eng is None:
        raise BusinessError(f"psa: workspace {workspace_id} belongs to no activated engagement", system="psa",
                            code="UNKNOWN_WORKSPACE", details={"workspace_id": workspace_id})
    return eng


# ---- the billing run ---------------------------------------------------------------------------------------------
def rate_run(ctx: FlowContext, run: dict[str, Any], correlation_id: str) -> dict[str, Any]:
    """Pure over the store: rate the frozen sources and assemble the run's invoice and cross-charges."""
    data = ctx.store.engagement(run["engagement_id"])
    assert data is not None
    engagement = load(Engagement, data["engagement"])
    sow = load(StatementOfWork, data["sow"])
    client = load(Client, data["client"])
    plan = sow.billing_plan
    mine = set(run["source_ids"])
    staged = {s["source_id"]: s for s in ctx.store.staged(run["engagement_id"], run["period"]) if s["source_id"] in mine}
    invoice_id = run["invoice_id"]
    inv_date = period_end(run["period"])
    times = [load(TimeTransaction, s["tx"]) for s in staged.values() if s["kind"] == "time"]
    expenses = [load(ExpenseTransaction, s["tx"]) for s in staged.values() if s["kind"] == "expense"]
    times = select_billable(times)
    expenses = select_billable(expenses)
    lines: list[InvoiceLine] = []
    held: list[dict[str, Any]] = []
    amounts: dict[str, Decimal] = {}
    if times:
        if plan.kind != "time_and_materials":
            raise BusinessError(f"engagement {engagement.engagement_id} bills {plan.kind}: time is not billable",
                                system="q2c", code="TIME_ON_FIXED_FEE")
        card = ctx.ref.rate_cards[plan.rate_card_id]
        rated = [rate_time_entry(t, rate_card=card, fx_policy=plan.fx_policy, fx_rates=ctx.ref.fx_rates,
                                 contract_currency=engagement.currency, invoice_date=inv_date) for t in times]
        billed_before = sum((Decimal(r["amount"]) for r in ctx.store.billed(engagement.engagement_id)
                             if r["invoice_id"] != invoice_id), Decimal("0"))
        tm = bill_time_and_materials(rated, invoice_id=invoice_id, contract_version=sow.current.version,
                                     currency=engagement.currency, not_to_exceed=plan.not_to_exceed,
                                     billed_to_date=billed_before)
        lines.extend(tm.lines)
        held = [{"source_id": h.source_id, "amount": str(h.amount)} for h in tm.held]
        for ln in tm.lines:
            amounts[f"T-{ln.source_ids[0]}"] = ln.amount
    for ex in sorted(expenses, key=lambda e: (e.incurred_on, e.expense_id)):
        if ex.currency != engagement.currency:
            raise CurrencyMismatch(f"expense {ex.expense_id} is in {ex.currency}, engagement in {engagement.currency}",
                                   ref=ex.expense_id)
        lines.append(InvoiceLine(line_id=f"{invoice_id}-X{ex.expense_id}", kind="expense",
                                 description=f"{ex.category} {ex.incurred_on.isoformat()}", quantity=Decimal("1"),
                                 unit_price=ex.amount, amount=ex.amount, source_ids=[ex.expense_id],
                                 contract_version=sow.current.version))
        amounts[f"X-{ex.expense_id}"] = ex.amount
    if not lines:
        return {"empty": True}
    seller = ctx.ref.entity(engagement.contracting_entity_id)
    tax = determine_tax(seller, client, ctx.ref.tax_rates)
    invoice = assemble_invoice(invoice_id=invoice_id, correlation_id=correlation_id, sow_id=sow.sow_id,
                               engagement_id=engagement.engagement_id, client_id=client.client_id,
                               contracting_entity_id=engagement.contracting_entity_id, invoice_date=inv_date,
                               currency=engagement.currency, contract_version=sow.current.version, lines=lines,
                               tax=tax, customer_vat_id=client.vat_id)
    # intercompany: what another entity delivered is cross-charged to the contracting entity
    by_entity: dict[str, tuple[Decimal, list[str]]] = {}
    for t in times:
        sid = f"T-{t.time_entry_id}"
        if sid in amounts and t.delivering_entity_id != engagement.contracting_entity_id:
            total, ids = by_entity.get(t.delivering_entity_id, (Decimal("0"), []))
            by_entity[t.delivering_entity_id] = (total + amounts[sid], [*ids, t.time_entry_id])
    charges = []
    for entity_id, (cost, ids) in sorted(by_entity.items()):
        cc = cross_charge(pair_id=f"{invoice_id}:{entity_id}", delivering=ctx.ref.entity(entity_id),
                          contracting=seller, cost=cost, markup_percent=ctx.ref.ic_markup_percent,
                          currency=engagement.currency, source_ids=ids)
        if cc is not None:
            charges.append({"pair_id": cc.receivable.pair_id, "delivering": entity_id,
                            "contracting": seller.entity_id, "amount": str(cc.receivable.amount),
                            "currency": engagement.currency, "source_ids": list(ids)})
    timebills = [{"source_id": f"T-{t.time_entry_id}", "tx": t.model_dump(mode="json"),
                  "rate": str(next(ln.unit_price for ln in lines if ln.source_ids == [t.time_entry_id]))
                  if f"T-{t.time_entry_id}" in amounts else None} for t in sorted(times, key=lambda t: t.time_entry_id)]
    return {"empty": False, "invoice": invoice.model_dump(mode="json"), "tax_rate": str(tax.rate_percent),
            "held": held, "amounts": {k: str(v) for k, v in amounts.items()}, "charges": charges,
            "timebills": timebills, "keys": data["keys"], "opportunity_id": data["opportunity_id"]}


def sync_time_chunk(ctx: FlowContext, run: dict[str, Any], rated: dict[str, Any], chunk: int) -> dict[str, Any]:
    items = rated["timebills"][chunk * CHUNK:(chunk + 1) * CHUNK]
    job_id = rated["keys"]["job_id"]
    item = ctx.ns_id("serviceSaleItem", item_eid("time"), what="service item")
    bodies = []
    for it in items:
        tx = load(TimeTransaction, it["tx"])
        emp = ctx.ns_id("employee", resource_eid(tx.resource_id), what=f"employee for PSA user {tx.resource_id}")
        body = nsmap.time_bill_payload(tx, employee_id=emp, job_id=job_id, item_id=item,
                                       rate=Decimal(it["rate"]) if it["rate"] else None)
        body.pop("externalId", None)
        bodies.append((nsmap.time_bill_external_id(tx.time_entry_id), body))
    ns = ctx.vendors.ns

    def call(key: str) -> dict[str, Any]:
        async def one(eid: str, body: dict[str, Any]) -> tuple[str, str]:
            rid = await ns.upsert("timeBill", eid, body)
            return eid, str(rid) if rid else ""
        async def all_() -> dict[str, Any]:
            return dict(await asyncio.gather(*(one(e, b) for e, b in bodies)))
        return ctx.vendors.run(all_())

    return ctx.write(FLOW, run["run_id"], f"timebills-{chunk}", system="netsuite", operation="timeBill.upsert*",
                     request=[{"externalId": e, **b} for e, b in bodies], call=call)


def write_invoice(ctx: FlowContext, rated: dict[str, Any]) -> dict[str, Any]:
    invoice = load(InvoiceEvent, rated["invoice"])
    eng_entity = invoice.contracting_entity_id
    keys = rated["keys"]
    item_ids = {k: str(ctx.ns_id("serviceSaleItem", item_eid(k), what="service item"))
                for k in ("time", "expense", "milestone")}
    from .quote_to_project import _currency_id

    body = nsmap.invoice_payload(invoice, customer_id=keys["customer_id"],
                                 subsidiary_id=str(ctx.ns_id("subsidiary", entity_eid(eng_entity))),
                                 currency_id=_currency_id(ctx, invoice.currency), item_ids=item_ids,
                                 job_id=keys["job_id"])
    lines = body.pop("item")["items"]
    body.pop("externalId", None)
    body["taxRate"] = rated.get("tax_rate", "0")
    eid = nsmap.invoice_external_id(invoice.invoice_id)
    return ctx.write("invoice", invoice.invoice_id, "ns-invoice", system="netsuite", operation="invoice.put",
                     request={**body, "item": lines}, call=lambda k: ctx.ns_put("invoice", eid, body, {"item": lines}))


def write_cross_charges(ctx: FlowContext, rated: dict[str, Any]) -> list[dict[str, Any]]:
    from .quote_to_project import _currency_id

    out = []
    item = ctx.ns_id("serviceSaleItem", item_eid("intercompany"), what="service item")
    for ch in rated["charges"]:
        cust = ctx.ns_id("customer", ic_customer_eid(ch["contracting"], ch["delivering"]),
                         what="intercompany customer")
        body = {"entity": {"id": cust}, "subsidiary": {"id": ctx.ns_id("subsidiary", entity_eid(ch["delivering"]))},
                "currency": {"id": _currency_id(ctx, ch["currency"])}, "tranDate": rated["invoice"]["invoice_date"],
                "memo": f"q2c intercompany cross-charge {ch['pair_id']}"}
        lines = [{"item": {"id": item}, "quantity": "1", "rate": ch["amount"],
                  "description": f"IC {ch['delivering']}->{ch['contracting']} entries {','.join(ch['source_ids'])}"[:4000]}]
        eid = nsmap.invoice_external_id(f"IC-{ch['pair_id'].replace(':', '-')}")
        res = ctx.write("intercompany", ch["pair_id"], "ns-ic-invoice", system="netsuite", operation="invoice.put",
                        request={**body, "item": lines}, call=lambda k, b=body, ln=lines, e=eid: ctx.ns_put(
                            "invoice", e, b, {"item": ln}))
        out.append({**ch, "netsuite_id": res["id"]})
    return out


def register(ctx: FlowContext) -> None:
    engine = ctx.engine
    step = engine.step

    @step("q2c.billing.stage")
    def s_stage(event: dict[str, Any], cid: str) -> dict[str, Any]:
        out = fetch_and_stage(ctx, event, cid)
        if out["staged"]:
            engine.publish(TIME_APPROVED, {"event_id": event.get("id"), "sources": out["staged"]},
                           key=f"{TIME_APPROVED}:{event.get('id')}")
        return out

    def intake(message: dict[str, Any]) -> dict[str, Any]:
        return {"status": "staged", **s_stage(message["payload"], message["correlation_id"])}

    engine.workflow(INTAKE_WORKFLOW)(owned("intake", ctx, intake))

    @step("q2c.billing.freeze")
    def s_freeze(run_id: str, engagement_id: str, period: str, candidates: list[str]) -> dict[str, Any]:
        return ctx.store.freeze_run(run_id, engagement_id, period, invoice_prefix(engagement_id, period), candidates)

    @step("q2c.billing.rate")
    def s_rate(run: dict[str, Any], cid: str) -> dict[str, Any]:
        rated = rate_run(ctx, run, cid)
        if not rated["empty"]:
            engine.decide("billing.rate_run", {"run_id": run["run_id"], "sources": run["source_ids"]},
                          {"invoice_id": run["invoice_id"], "net": rated["invoice"]["net_total"],
                           "gross": rated["invoice"]["gross_total"], "held": rated["held"],
                           "charges": rated["charges"]})
        return rated

    @step("q2c.billing.timebills")
    def s_timebills(run: dict[str, Any], rated: dict[str, Any], chunk: int) -> dict[str, Any]:
        return sync_time_chunk(ctx, run, rated, chunk)

    @step("q2c.billing.invoice")
    def s_invoice(rated: dict[str, Any]) -> dict[str, Any]:
        return write_invoice(ctx, rated)

    @step("q2c.billing.intercompany")
    def s_ic(rated: dict[str, Any]) -> list[dict[str, Any]]:
        return write_cross_charges(ctx, rated)

    @step("q2c.billing.finish")
    def s_finish(run: dict[str, Any], rated: dict[str, Any], ns_invoice: dict[str, Any],
                 charges: list[dict[str, Any]]) -> dict[str, Any]:
        inv = rated["invoice"]
        result = {"invoice_id": inv["invoice_id"], "netsuite_invoice_id": ns_invoice["id"],
                  "gross_total": inv["gross_total"], "currency": inv["currency"], "held": rated["held"],
                  "intercompany": charges}
        ctx.store.finish_run(run["run_id"], "posted", result,
                             {k: Decimal(v) for k, v in rated["amounts"].items()})
        engine.publish(BILLING_EVENT_CREATED, {"run_id": run["run_id"], "engagement_id": run["engagement_id"],
                                               "period": run["period"], "sources": run["source_ids"],
                                               "invoice_id": inv["invoice_id"]},
                       key=f"{BILLING_EVENT_CREATED}:{run['run_id']}")
        return result

    @step("q2c.billing.status")
    def s_status(rated: dict[str, Any], ns_invoice: dict[str, Any]) -> dict[str, Any]:
        return post_invoice_status(ctx, rated["opportunity_id"], rated["invoice"], ns_invoice["id"])

    def run_flow(message: dict[str, Any]) -> dict[str, Any]:
        p = message["payload"]
        run = s_freeze(p["run_id"], p["engagement_id"], p["period"], p["candidates"])
        if run["status"] == "empty":
            return {"status": "empty", "run_id": run["run_id"]}
        rated = s_rate(run, message["correlation_id"])
        if rated["empty"]:
            return {"status": "empty", "run_id": run["run_id"]}
        for chunk in range((len(rated["timebills"]) + CHUNK - 1) // CHUNK):
            s_timebills(run, rated, chunk)
        ns_invoice = s_invoice(rated)
        charges = s_ic(rated)
        result = s_finish(run, rated, ns_invoice, charges)
        s_status(rated, ns_invoice)
        return {"status": "posted", "run_id": run["run_id"], **result}

    engine.workflow(RUN_WORKFLOW)(owned(FLOW, ctx, run_flow))
