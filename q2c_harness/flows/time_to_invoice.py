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
    monthly_fee_for,
    rate_time_entry,
    recurring_fee_line,
    usage_line,
    round_money,
    select_billable,
)
from q2c_harness.billing.errors import BillingRuleViolation, CurrencyMismatch, RateCardMismatch
from q2c_harness.billing.rating import rate_in_force
from q2c_harness.billing.recurring import FeePeriod
from q2c_harness.billing.retainers import RetainerBalance, draw_down_retainer, receive_retainer
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

from . import tax_service
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
    approved: list[dict[str, Any]] = []  # what the KPIs' unbilled backlog counts: the value at the PSA's own rate
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
                       {"tx": tx.model_dump(mode="json"), "user_name": user.get("full_name", ""),
                        "psa_rate": _psa_rate(rec), "psa_currency": rec.get("currency")}))
        approved.append({"id": f"T-{tx.time_entry_id}", **_approved_value(ctx, eng, tx, _psa_rate(rec),
                                                                           rec.get("currency"))})
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
        approved.append({"id": f"X-{ex.expense_id}", "amount": str(ex.amount), "currency": ex.currency})
    new = ctx.store.stage(staged)
    return {"staged": [s[0] for s in staged], "new": new, "approved": approved,
            "runs": sorted({f"{s[2]}|{s[3]}" for s in staged})}


def stage_recurring(ctx: FlowContext, engagement_id: str, period: str) -> int:
    """Stage a managed-services engagement's fee for the month ``period`` (prorated in its first and last months)
    as a billing-ready transaction ``F-<plan>:<period>``: the month's billing run bills it once. Returns how many
    were new (0 for other plans and months the plan does not cover)."""
    data = ctx.store.engagement(engagement_id)
    if data is None:
        return 0
    sow = load(StatementOfWork, data["sow"])
    plan = sow.billing_plan
    if plan.kind != "recurring_fee":
        return 0
    fee = monthly_fee_for(plan, period, sow.currency)
    if fee is None:
        return 0
    return ctx.store.stage([(f"F-{fee.key}", "recurring", engagement_id, period,
                             {"fee": {"key": fee.key, "start": fee.start.isoformat(), "end": fee.end.isoformat(),
                                      "days": fee.days, "days_in_month": fee.days_in_month,
                                      "amount": str(fee.amount)}})])


def completed_units(stories: list[dict[str, Any]], period: str) -> list[dict[str, Any]]:
    """The units a usage story's sub-stories report for a month: issues completed, dated (due date) in it."""
    return [s for s in stories if s.get("story_type") == "issue" and s.get("state") == "completed"
            and str(s.get("due_date") or "")[:7] == period]


def stage_usage(ctx: FlowContext, engagement_id: str, period: str) -> int:
    """Stage the units the PSA reports for the month on each metered quote line (a Usage line billed monthly): each
    completed issue under the line's story is one unit, ``U-<story id>``, billed once at the line's unit price
    (late ones by the period's next run). Returns how many were new."""
    data = ctx.store.engagement(engagement_id)
    if data is None:
        return 0
    story_ids = data["keys"].get("story_ids") or {}
    rows = []
    for ln in data.get("lines", []):
        parent = story_ids.get(ln["line_id"])
        if not ln.get("metered") or parent is None:
            continue
        subs = ctx.vendors.run(ctx.vendors.psa.list_all("stories", filters={"parent_id": parent}))
        for s in completed_units(subs, period):
            rows.append((f"U-{s['id']}", "usage", engagement_id, period,
                         {"usage": {"line_id": ln["line_id"], "item": ln["description"], "unit_price": ln["unit_price"],
                                    "unit": str(s["id"]), "day": str(s.get("due_date"))[:10]}}))
    return ctx.store.stage(rows) if rows else 0


def _approved_value(ctx: FlowContext, eng: dict[str, Any], tx: TimeTransaction, psa_rate: str | None,
                    psa_currency: str | None) -> dict[str, str | None]:
    """An approved entry's value before it is billed: at the contract rate card in force on the work date (what the
    billing run will rate it at), else at the PSA's own rate; None when neither knows a rate."""
    plan = load(StatementOfWork, eng["sow"]).billing_plan
    card = ctx.ref.rate_cards.get(getattr(plan, "rate_card_id", None) or "")
    try:
        if card is not None:
            version, rate = rate_in_force(card, tx.role, tx.region, tx.work_date)
            return {"amount": str(round_money(tx.hours * rate, version.currency)), "currency": version.currency}
    except BillingRuleViolation:
        pass  # no rate for the role on that date: the billing run holds it; the PSA's rate is the best estimate
    currency = psa_currency or eng["engagement"]["currency"]
    return {"amount": str(round_money(tx.hours * Decimal(psa_rate), currency)) if psa_rate else None,
            "currency": currency}


def _psa_rate(rec: dict[str, Any]) -> str | None:
    """The rate the PSA shows on a time entry (explicit or its own rate card's), as a decimal string."""
    cents = rec.get("rate_in_cents")
    return str((Decimal(str(cents)) / 100).quantize(Decimal("0.01"))) if cents is not None else None


def rate_mismatches(ctx: FlowContext, engagement_id: str, staged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Staged time entries whose PSA rate differs from the contract rate card's rate in force on the work date (in
    the rate card's currency) and that billing-ops has not corrected. Entries without a PSA rate, or with a rate in
    another currency than the card's, are rated from the card alone."""
    data = ctx.store.engagement(engagement_id)
    if data is None:
        return []
    plan = load(StatementOfWork, data["sow"]).billing_plan
    card = ctx.ref.rate_cards.get(getattr(plan, "rate_card_id", None) or "")
    if card is None:
        return []
    corrected = ctx.store.rate_corrections(engagement_id)
    out = []
    for s in staged:
        if s["kind"] != "time" or not s.get("psa_rate") or s["source_id"] in corrected:
            continue
        tx = load(TimeTransaction, s["tx"])
        version, rate = rate_in_force(card, tx.role, tx.region, tx.work_date)
        if s.get("psa_currency") not in (None, version.currency):
            continue
        if Decimal(s["psa_rate"]) != rate:
            out.append({"source_id": s["source_id"], "time_entry_id": tx.time_entry_id,
                        "work_date": tx.work_date.isoformat(), "role": tx.role, "region": tx.region,
                        "psa_rate": s["psa_rate"], "rate": str(rate), "currency": version.currency,
                        "rate_card_id": card.rate_card_id, "rate_card_version": version.version})
    return out


def check_rates(ctx: FlowContext, engagement_id: str, staged: list[dict[str, Any]]) -> None:
    """Raise ``RateCardMismatch`` (business lot, owner billing-ops) naming every mismatched entry."""
    bad = rate_mismatches(ctx, engagement_id, staged)
    if bad:
        what = "; ".join(f"time entry {b['time_entry_id']} ({b['work_date']}, {b['role']}/{b['region']}) carries "
                         f"{b['psa_rate']} {b['currency']} in the PSA, rate card {b['rate_card_id']} "
                         f"v{b['rate_card_version']} has {b['rate']}" for b in bad)
        raise RateCardMismatch(f"engagement {engagement_id}: {what}", ref=bad[0]["source_id"])


def retainer_invoice_id(engagement_id: str) -> str:
    return f"INV-{engagement_id}-RETAINER"


def retainer_received(ctx: FlowContext, engagement_id: str) -> Decimal:
    """Cash received on the retainer: what NetSuite shows paid on the retainer invoice (total - amount remaining)."""
    rec = ctx.ns_lookup("invoice", nsmap.invoice_external_id(retainer_invoice_id(engagement_id)))
    if rec is None:
        return Decimal("0")
    total = Decimal(str(rec.get("total") or 0))
    remaining = rec.get("amountRemaining", rec.get("amountDue"))
    return total - Decimal(str(remaining if remaining is not None else total))


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
    check_rates(ctx, engagement.engagement_id, list(staged.values()))
    if times:
        if plan.kind not in ("time_and_materials", "retainer"):
            raise BusinessError(f"engagement {engagement.engagement_id} bills {plan.kind}: time is not billable",
                                system="q2c", code="TIME_ON_FIXED_FEE")
        card = ctx.ref.rate_cards[plan.rate_card_id or ctx.ref.default_rate_card]
        fx_policy = plan.fx_policy or ctx.ref.fx_policy
        rated = [rate_time_entry(t, rate_card=card, fx_policy=fx_policy, fx_rates=ctx.ref.fx_rates,
                                 contract_currency=engagement.currency, invoice_date=inv_date) for t in times]
        billed_before = sum((Decimal(r["amount"]) for r in ctx.store.billed(engagement.engagement_id)
                             if r["invoice_id"] != invoice_id), Decimal("0"))
        tm = bill_time_and_materials(rated, invoice_id=invoice_id, contract_version=sow.current.version,
                                     currency=engagement.currency,
                                     not_to_exceed=getattr(plan, "not_to_exceed", None),
                                     billed_to_date=billed_before)
        lines.extend(tm.lines)
        held = [{"source_id": h.source_id, "amount": str(h.amount)} for h in tm.held]
        for ln in tm.lines:
            amounts[f"T-{ln.source_ids[0]}"] = ln.amount
    retainer: dict[str, Any] | None = None
    if plan.kind == "retainer" and lines:
        line, retainer = draw_down(ctx, engagement, plan.billing_plan_id, invoice_id, sow.current.version,
                                   sum((ln.amount for ln in lines), Decimal("0")))
        if line is not None:
            lines.append(line)
    for ex in sorted(expenses, key=lambda e: (e.incurred_on, e.expense_id)):
        if ex.currency != engagement.currency:
            raise CurrencyMismatch(f"expense {ex.expense_id} is in {ex.currency}, engagement in {engagement.currency}",
                                   ref=ex.expense_id)
        lines.append(InvoiceLine(line_id=f"{invoice_id}-X{ex.expense_id}", kind="expense",
                                 description=f"{ex.category} {ex.incurred_on.isoformat()}", quantity=Decimal("1"),
                                 unit_price=ex.amount, amount=ex.amount, source_ids=[ex.expense_id],
                                 contract_version=sow.current.version))
        amounts[f"X-{ex.expense_id}"] = ex.amount
    usage: dict[str, list[dict[str, Any]]] = {}
    for s in staged.values():
        if s["kind"] == "usage":
            usage.setdefault(s["usage"]["line_id"], []).append(s)
    for line_id, units in sorted(usage.items()):
        u = units[0]["usage"]
        line = usage_line(line_key=line_id, item=u["item"], unit_price=Decimal(u["unit_price"]),
                          units=[x["usage"]["unit"] for x in units], invoice_id=invoice_id,
                          contract_version=sow.current.version, currency=engagement.currency)
        lines.append(line)
        for x in units:
            amounts[x["source_id"]] = line.unit_price
    for s in sorted((s for s in staged.values() if s["kind"] == "recurring"), key=lambda s: s["source_id"]):
        f = s["fee"]
        line = recurring_fee_line(FeePeriod(f["key"], date.fromisoformat(f["start"]), date.fromisoformat(f["end"]),
                                            f["days"], f["days_in_month"], Decimal(f["amount"])),
                                  invoice_id=invoice_id, contract_version=sow.current.version)
        lines.append(line)
        amounts[s["source_id"]] = line.amount
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
            "held": held, "retainer": retainer, "amounts": {k: str(v) for k, v in amounts.items()}, "charges": charges,
            "timebills": timebills, "keys": data["keys"], "opportunity_id": data["opportunity_id"]}


def draw_down(ctx: FlowContext, engagement: Engagement, retainer_id: str, invoice_id: str, version: int,
              time_total: Decimal) -> tuple[InvoiceLine | None, dict[str, Any]]:
    """Apply the run's time against the retainer: drawdown = min(time, balance), balance = received - applied >= 0
    (``draw_down_retainer`` refuses more); what the balance does not cover stays on the invoice as overage."""
    ccy = engagement.currency
    applied_before = sum((Decimal(r["amount"]) for r in ctx.store.billed(engagement.engagement_id)
                          if r["source_id"].startswith("R-") and r["invoice_id"] != invoice_id), Decimal("0"))
    received = round_money(retainer_received(ctx, engagement.engagement_id), ccy)
    state = receive_retainer(RetainerBalance(retainer_id, ccy), received)
    state = draw_down_retainer(state, applied_before)
    drawdown = min(time_total, state.balance)
    after = draw_down_retainer(state, drawdown)
    info = {"retainer_id": retainer_id, "received": str(state.received), "applied_before": str(applied_before),
            "drawdown": str(drawdown), "balance_before": str(state.balance), "balance_after": str(after.balance),
            "overage": str(time_total - drawdown), "source_id": f"R-{invoice_id}"}
    if drawdown <= 0:
        return None, info
    line = InvoiceLine(line_id=f"{invoice_id}-R", kind="retainer_drawdown",
                       description=f"Retainer {retainer_id} drawdown: balance {state.balance} -> {after.balance} {ccy}",
                       quantity=Decimal("1"), unit_price=-drawdown, amount=-drawdown,
                       source_ids=[f"{retainer_id}:{invoice_id}"], contract_version=version)
    return line, info


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


def invoice_body(ctx: FlowContext, invoice: InvoiceEvent, keys: dict[str, Any],
                 tax_rate: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(NetSuite header, item lines) of an invoice; a credit memo reversing it carries the same lines."""
    item_ids = {k: str(ctx.ns_id("serviceSaleItem", item_eid(k), what="service item"))
                for k in ("time", "expense", "milestone", "adjustment")}
    item_ids["retainer_drawdown"] = item_ids["adjustment"]
    item_ids["recurring_fee"] = item_ids["milestone"]  # a fixed fee per month: the fixed-fee service item
    item_ids["usage"] = item_ids["time"]  # metered services: the services item

    body = nsmap.invoice_payload(invoice, customer_id=keys["customer_id"],
                                 subsidiary_id=str(ctx.ns_id("subsidiary", entity_eid(invoice.contracting_entity_id))),
                                 currency_id=ctx.currency_id(invoice.currency), item_ids=item_ids,
                                 job_id=keys["job_id"])
    lines = body.pop("item")["items"]
    body.pop("externalId", None)
    body["taxRate"] = tax_rate
    return body, lines


def write_invoice(ctx: FlowContext, rated: dict[str, Any], memo_note: str | None = None) -> dict[str, Any]:
    """``memo_note``: appended to the memo (a re-invoice names the invoice and credit memo it replaces)."""
    invoice = load(InvoiceEvent, rated["invoice"])
    body, lines = invoice_body(ctx, invoice, rated["keys"], rated.get("tax_rate", "0"))
    if memo_note:
        body["memo"] = f"{body['memo']}; {memo_note}"[:4000]
    eid = nsmap.invoice_external_id(invoice.invoice_id)
    return ctx.write("invoice", invoice.invoice_id, "ns-invoice", system="netsuite", operation="invoice.put",
                     request={**body, "item": lines}, call=lambda k: ctx.ns_put("invoice", eid, body, {"item": lines}))


def write_cross_charges(ctx: FlowContext, rated: dict[str, Any]) -> list[dict[str, Any]]:

    out = []
    item = ctx.ns_id("serviceSaleItem", item_eid("intercompany"), what="service item")
    for ch in rated["charges"]:
        cust = ctx.ns_id("customer", ic_customer_eid(ch["contracting"], ch["delivering"]),
                         what="intercompany customer")
        body = {"entity": {"id": cust}, "subsidiary": {"id": ctx.ns_id("subsidiary", entity_eid(ch["delivering"]))},
                "currency": {"id": ctx.currency_id(ch["currency"])}, "tranDate": rated["invoice"]["invoice_date"],
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
            engine.publish(TIME_APPROVED, {"event_id": event.get("id"), "sources": out["staged"],
                                           "items": out["approved"]},
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

    @step("q2c.billing.tax")
    def s_tax(rated: dict[str, Any]) -> dict[str, Any]:
        return tax_service.quote_tax(ctx, rated)

    @step("q2c.billing.tax_commit")
    def s_tax_commit(rated: dict[str, Any]) -> dict[str, Any]:
        return tax_service.commit_tax(ctx, rated["invoice"]["invoice_id"])

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
        # the invoice as issued stays with the run: a correction credits and re-issues exactly it
        ctx.store.finish_run(run["run_id"], "posted", {**result, "invoice": inv, "tax_rate": rated["tax_rate"]},
                             {k: Decimal(v) for k, v in rated["amounts"].items()})
        ret = rated.get("retainer")
        if ret and Decimal(ret["drawdown"]) > 0:  # the drawdown is applied once, under this run's invoice
            ctx.store.claim_source(ret["source_id"], inv["invoice_id"], run["engagement_id"], Decimal(ret["drawdown"]))
            engine.decide("billing.retainer_drawdown", {"run_id": run["run_id"], "retainer_id": ret["retainer_id"]},
                          ret)
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
        if tax_service.uses_tax_service(ctx):  # before any NetSuite write: an outage leaves nothing half-posted
            rated = s_tax(rated)
        for chunk in range((len(rated["timebills"]) + CHUNK - 1) // CHUNK):
            s_timebills(run, rated, chunk)
        ns_invoice = s_invoice(rated)
        if tax_service.uses_tax_service(ctx):
            s_tax_commit(rated)
        charges = s_ic(rated)
        result = s_finish(run, rated, ns_invoice, charges)
        s_status(rated, ns_invoice)
        return {"status": "posted", "run_id": run["run_id"], **result}

    engine.workflow(RUN_WORKFLOW)(owned(FLOW, ctx, run_flow))
