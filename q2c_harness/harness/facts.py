"""Facts read back through the vendors' own APIs, as a finance team would check them, turned into the invariants'
`Facts` (canonical objects).

- NetSuite (record service + SuiteQL): subsidiaries, customers, projects, invoices with their lines (the billed
  source ids and contract version each line names), customer payments and their applications.
- PSA (Kantata OX API): time entries (approval, billable, rate, rate-card version, invoiced), expenses, billing
  milestones (acceptance), workspaces (current price and budget), budget change orders, rate cards.
- Salesforce (SOQL): the signed quote (baseline) and change orders, and the invoice / payment status fields the core
  writes back.

Nothing here reads the core's own database or a simulator's memory; the one exception is ``integration_checks``,
which asks the core for its audit chain and cross-reference table (invariant 14).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from q2c_harness.billing import fx_rate_date
from q2c_harness.canonical import (
    AppliedAmount,
    CashApplication,
    ChangeOrder,
    ContractVersion,
    Engagement,
    ExpenseTransaction,
    FixedFeePlan,
    FxPolicy,
    InvoiceEvent,
    InvoiceLine,
    Milestone,
    Payment,
    RetainerPlan,
    StatementOfWork,
    TimeAndMaterialsPlan,
    TimeTransaction,
)
from q2c_harness.connectors.mapping.netsuite import invoice_status

from .invariants import Facts, RetainerEvent, RetainerFact, Violation
from .scenario import INVARIANT_NAMES, Expectations, Scenario

if TYPE_CHECKING:
    from .steps import RunContext

ZERO = Decimal("0")
LINE_RE = re.compile(r"\[(?P<kind>[a-z_]+) (?P<sources>[^;\]]*); v(?P<version>\d+)\]")
BALANCE_RE = re.compile(r"balance (?P<before>-?[\d.]+) -> (?P<after>-?[\d.]+)")
MEMO_RE = re.compile(r"q2c invoice (?P<invoice>\S+) sow (?P<sow>\S+) contract v(?P<version>\d+)")


@dataclass
class FactBundle:
    facts: Facts
    raw_invoices: list[dict[str, Any]] = field(default_factory=list)
    raw_time: list[dict[str, Any]] = field(default_factory=list)
    raw_payments: list[dict[str, Any]] = field(default_factory=list)
    crm: dict[str, dict[str, Any]] = field(default_factory=dict)  # engagement -> Opportunity fields
    invoices_by_engagement: dict[str, list[InvoiceEvent]] = field(default_factory=dict)
    unbilled_approved_time: int = 0
    open_exceptions: int = 0
    exceptions_total: int = 0

    def kpis(self) -> dict[str, Any]:
        inv = self.facts.invoices
        by_cur: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for i in inv:
            by_cur[i.currency] += i.gross_total
        return {"invoices": len(inv), "invoice_lines": sum(len(i.lines) for i in inv),
                "billed_gross": {k: str(v) for k, v in sorted(by_cur.items())},
                "time_entries": len(self.facts.time_entries), "expenses": len(self.facts.expenses),
                "payments": len(self.facts.payments), "unbilled_approved_time": self.unbilled_approved_time,
                "open_exceptions": self.open_exceptions}


def _strip(eid: str | None, kind: str) -> str | None:
    prefix = f"Q2C-{kind}-"
    return eid[len(prefix):] if isinstance(eid, str) and eid.upper().startswith(prefix) else None


def _match(key: str | None, known: Any) -> str | None:
    """External ids are upper-cased (NetSuite's are case-insensitive): map back to the scenario's own id."""
    if key is None:
        return None
    for k in known:
        if k.upper() == key.upper():
            return k
    return key


def _dec(v: Any) -> Decimal:
    return Decimal(str(v)) if v is not None else ZERO


async def _ns_all(ctx: RunContext, record: str) -> list[dict[str, Any]]:
    rows = await ctx.vendors.suiteql(f"SELECT id FROM {record.lower()} ORDER BY id")
    return [await ctx.vendors.ns_get(record, str(r["id"])) for r in rows]


def _lines(rec: dict[str, Any], sublist: str) -> list[dict[str, Any]]:
    sub = rec.get(sublist) or {}
    return sub.get("items", []) if isinstance(sub, dict) else sub


def _ref(v: Any) -> str | None:
    return str(v["id"]) if isinstance(v, dict) and v.get("id") is not None else (str(v) if v is not None else None)


def _aliases(ctx: RunContext) -> dict[str, str]:
    """The core's engagement ids (upper-cased, as NetSuite external ids are) -> the scenario's engagement names."""
    out: dict[str, str] = {}
    for name, er in ctx.engagements.items():
        key = ctx.core.engagement_key(er) if er.sf_opportunity else None
        if key:
            out[key.upper()] = name
    return out


async def read_facts(ctx: RunContext) -> FactBundle:
    v, w = ctx.vendors, ctx.world
    alias = _aliases(ctx)

    def eng_of(key: str | None) -> str | None:
        return alias.get(key.upper(), _match(key, ctx.engagements)) if key else None

    # ---- PSA ------------------------------------------------------------------------------------------------
    refs = await v.psa_all("external_references", {"service_model": "Engagement"})
    ws_engagement = {r["subject_id"]: eng_of(r["service_model_ref"]) for r in refs
                     if r["subject_type"] == "Workspace"}
    for eng, er in ctx.engagements.items():
        if er.workspace:
            ws_engagement.setdefault(er.workspace, eng)
    users = {u["id"]: u for u in await v.psa_all("users")}
    roles = {r["id"]: r["name"] for r in await v.psa_all("roles")}
    person_of = {uid: pid for pid, uid in ctx.psa_users.items()}
    versions = await v.psa_all("rate_card_versions")
    version_no: dict[str, int] = {}
    by_card: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rv in versions:
        by_card[rv["rate_card_id"]].append(rv)
    for card_versions in by_card.values():
        for n, rv in enumerate(sorted(card_versions, key=lambda x: x["effective_date"]), start=1):
            version_no[rv["id"]] = n
    raw_time = await v.psa_all("time_entries")
    time_entries, psa_time = [], {}
    unbilled = 0
    for e in raw_time:
        eng = ws_engagement.get(e["workspace_id"])
        if eng is None:
            continue
        user = users.get(e["user_id"], {})
        approval = {"unsubmitted": "draft"}.get(e.get("approval_state") or "unsubmitted", e.get("approval_state"))
        tx = TimeTransaction(
            correlation_id=f"psa-time-{e['id']}", xref={"psa": e["id"]}, time_entry_id=str(e["id"]),
            engagement_id=eng, sow_id=eng, resource_id=person_of.get(e["user_id"], e["user_id"]),
            role=roles.get(e.get("role_id") or "", user.get("role_id") or ""), region=user.get("region") or "",
            delivering_entity_id=user.get("legal_entity") or "", work_date=date.fromisoformat(e["date_performed"]),
            hours=(Decimal(e["time_in_minutes"]) / 60), approval_state=approval, billable=bool(e.get("billable")),
            billing_status="billed" if e.get("is_invoiced") else "unbilled")
        time_entries.append(tx)
        psa_time[str(e["id"])] = e
        if approval == "approved" and e.get("billable") and not e.get("is_invoiced"):
            unbilled += 1
    expenses = []
    for x in await v.psa_all("expenses"):
        eng = ws_engagement.get(x["workspace_id"])
        if eng is None:
            continue
        user = users.get(x["user_id"], {})
        expenses.append(ExpenseTransaction(
            correlation_id=f"psa-expense-{x['id']}", xref={"psa": x["id"]}, expense_id=str(x["id"]), engagement_id=eng,
            sow_id=eng, resource_id=person_of.get(x["user_id"], x["user_id"]),
            delivering_entity_id=user.get("legal_entity") or "", incurred_on=date.fromisoformat(x["date"]),
            category=x["category"], amount=Decimal(x["amount_in_cents"]) / 100, currency=x.get("currency") or "USD",
            approval_state={"unsubmitted": "draft"}.get(x.get("approval_state") or "unsubmitted",
                                                        x.get("approval_state")),
            billable=bool(x.get("billable")), billing_status="billed" if x.get("is_invoiced") else "unbilled"))
    milestones: list[Milestone] = []
    ms_by_eng: dict[str, list[Milestone]] = defaultdict(list)
    # the integration tags each billing milestone it creates with its own milestone id (an external reference)
    ms_key = {r["subject_id"]: r["service_model_ref"]
              for r in await v.psa_all("external_references", {"service_model": "Milestone"})
              if r["subject_type"] == "BillingMilestone"}
    for m in await v.psa_all("billing_milestones"):
        eng = ws_engagement.get(m["workspace_id"])
        if eng is None:
            continue
        state = m.get("acceptance_state") or "pending"
        ms = Milestone(correlation_id=f"psa-milestone-{m['id']}", xref={"psa": m["id"]},
                       milestone_id=str(ms_key.get(m["id"]) or m["id"]),
                       sow_id=eng, name=m["title"], amount=Decimal(m["amount_in_cents"]) / 100,
                       due_date=date.fromisoformat(m["due_date"]) if m.get("due_date") else ctx.now.date(),
                       status="billed" if m.get("is_invoiced") else "accepted" if state == "accepted" else "planned",
                       accepted_on=date.fromisoformat(m["accepted_at"][:10]) if m.get("accepted_at") else None)
        milestones.append(ms)
        ms_by_eng[eng].append(ms)
    workspaces = {ws["id"]: ws for ws in await v.psa_all("workspaces")}
    bcos = await v.psa_all("budget_change_orders")

    # ---- Salesforce: signed change orders and status write-back ---------------------------------------------
    crm: dict[str, dict[str, Any]] = {}
    for eng, er in ctx.engagements.items():
        if er.sf_opportunity:
            crm[eng] = await ctx.core.crm_status(ctx, er)
    signed = await ctx.core.signed_change_orders(ctx)  # engagement -> [(number, value_delta, budget_delta, date)]

    # ---- statements of work -----------------------------------------------------------------------------------
    sows, engagements, change_orders, baselines = [], [], [], {}
    for eng, er in ctx.engagements.items():
        spec = er.spec
        client = w.clients[spec.client]
        engagements.append(Engagement(correlation_id=f"scenario-{eng}", engagement_id=eng, client_id=client.client_id,
                                      name=spec.name or eng, contracting_entity_id=spec.entity,
                                      delivering_entity_ids=sorted({spec.entity, *spec.delivering_entities}),
                                      currency=spec.currency))
        budget = spec.budget if spec.budget is not None else spec.value
        baseline = ContractVersion(version=1, value=spec.value, budget=budget, end_date=spec.end)
        baselines[eng] = baseline
        cos = []
        for n, (number, value_delta, budget_delta, on) in enumerate(signed.get(eng, []), start=1):
            cos.append(ChangeOrder(correlation_id=f"scenario-{eng}-co{number}", change_order_id=f"{eng}-CO{number}",
                                   sow_id=eng, number=number, value_delta=value_delta, budget_delta=budget_delta,
                                   approval_state="approved", approved_on=on,
                                   asc606_classification="prospective"))
        change_orders += cos
        ws = workspaces.get(er.workspace or "")
        applied = [b for b in bcos if b["workspace_id"] == er.workspace]
        if ws is not None:
            cur_value = Decimal(ws["price_in_cents"]) / 100 if ws.get("price_in_cents") is not None else spec.value
            cur_budget = Decimal(ws["budget_in_cents"]) / 100 if ws.get("budget_in_cents") is not None else budget
        else:
            cur_value, cur_budget = spec.value, budget
        current = ContractVersion(version=1 + len(applied), value=cur_value, budget=cur_budget,
                                  change_order_id=f"{eng}-CO{len(applied)}" if applied else None, end_date=spec.end)
        policy = FxPolicy(**spec.fx_policy.model_dump()) if spec.fx_policy else FxPolicy(
            rate_type="corporate", rate_date_rule="work_date")
        if spec.billing == "fixed_fee":
            ms = ms_by_eng.get(eng, [])
            plan: Any = FixedFeePlan(correlation_id=f"scenario-{eng}", billing_plan_id=f"{eng}-PLAN",
                                     fee=sum((m.amount for m in ms), ZERO), milestones=ms)
        elif spec.billing == "retainer":
            plan = RetainerPlan(correlation_id=f"scenario-{eng}", billing_plan_id=f"{eng}-PLAN",
                                retainer_amount=spec.retainer_amount or spec.value, rate_card_id=spec.rate_card,
                                fx_policy=policy if spec.rate_card else None)
        else:
            plan = TimeAndMaterialsPlan(correlation_id=f"scenario-{eng}", billing_plan_id=f"{eng}-PLAN",
                                        rate_card_id=spec.rate_card or "", fx_policy=policy,
                                        not_to_exceed=spec.not_to_exceed)
        sows.append(StatementOfWork(correlation_id=f"scenario-{eng}", xref={"psa": er.workspace or ""}, sow_id=eng,
                                    engagement_id=eng, currency=spec.currency, baseline=baseline, current=current,
                                    billing_plan=plan))

    # ---- NetSuite -------------------------------------------------------------------------------------------
    subs = {str(s["id"]): _match(_strip(s.get("externalId"), "ENTITY"), w.entities)
            for s in await _ns_all(ctx, "subsidiary")}
    customers = {str(c["id"]): _match(_strip(c.get("externalId"), "CLIENT"), w.clients)
                 for c in await _ns_all(ctx, "customer")}
    jobs = {str(j["id"]): eng_of(_strip(j.get("externalId"), "ENGAGEMENT")) for j in await _ns_all(ctx, "job")}
    raw_invoices = await _ns_all(ctx, "invoice")
    sow_index = {s.sow_id: s for s in sows}
    invoices: list[InvoiceEvent] = []
    for rec in raw_invoices:
        inv = _invoice(rec, ctx, subs, customers, jobs, sow_index, psa_time, version_no, eng_of)
        if inv is not None:
            invoices.append(inv)
    raw_payments = await _ns_all(ctx, "customerPayment")
    payments, applications = [], []
    inv_by_ns = {i.xref.get("netsuite"): i.invoice_id for i in invoices}
    for p in raw_payments:
        cur = p.get("currency", {})
        currency = cur.get("refName") if isinstance(cur, dict) else None
        pay_id = str(p.get("tranId") or p["id"])
        payments.append(Payment(correlation_id=f"ns-payment-{p['id']}", xref={"netsuite": str(p["id"])},
                                payment_id=pay_id, client_id=customers.get(_ref(p.get("customer")) or "") or "",
                                received_on=date.fromisoformat(str(p["tranDate"])[:10]), currency=currency or "USD",
                                amount=_dec(p["payment"])))
        apps = [AppliedAmount(invoice_id=inv_by_ns.get(_ref(a.get("doc")), _ref(a.get("doc")) or ""),
                              amount=_dec(a["amount"])) for a in _lines(p, "apply")]
        applications.append(CashApplication(correlation_id=f"ns-payment-{p['id']}", application_id=f"APP-{pay_id}",
                                            payment_id=pay_id, currency=currency or "USD", applications=apps,
                                            unapplied=_dec(p.get("unapplied"))))

    # billed = on a line of an invoice the core issued in NetSuite (the ERP is the book of record; the PSA's own
    # is_invoiced flag is set only when the PSA itself invoices, which this core does not do)
    billed_ids = {(ln.kind, s) for i in invoices if i.status != "void" for ln in i.lines for s in ln.source_ids}
    time_entries = [t.model_copy(update={"billing_status": "billed"}) if ("time", t.time_entry_id) in billed_ids
                    or t.billing_status == "billed" else t for t in time_entries]
    expenses = [x.model_copy(update={"billing_status": "billed"}) if ("expense", x.expense_id) in billed_ids
                or x.billing_status == "billed" else x for x in expenses]
    milestones = [m.model_copy(update={"status": "billed"}) if ("milestone", m.milestone_id) in billed_ids
                  and m.status == "accepted" else m for m in milestones]
    sows = [sow.model_copy(update={"billing_plan": sow.billing_plan.model_copy(update={"milestones": [
        m for m in milestones if m.sow_id == sow.sow_id]})}) if isinstance(sow.billing_plan, FixedFeePlan) else sow
        for sow in sows]
    unbilled = sum(1 for t in time_entries if t.approval_state == "approved" and t.billable
                   and t.billing_status != "billed")
    retainers = _retainers(sows, invoices, payments, applications)
    facts = Facts(invoices=invoices, time_entries=time_entries, expenses=expenses, retainers=retainers,
                  rate_cards=list(w.rate_cards.values()), fx_rates=w.fx, engagements=engagements,
                  statements_of_work=sows, original_baselines=baselines, change_orders=change_orders,
                  milestones=milestones, clients=list(w.clients.values()), legal_entities=list(w.entities.values()),
                  payments=payments, cash_applications=applications)
    facts = await ctx.core.extend_facts(ctx, facts)
    by_eng: dict[str, list[InvoiceEvent]] = defaultdict(list)
    for i in invoices:
        by_eng[i.engagement_id].append(i)
    exc = await ctx.core.exceptions()
    return FactBundle(facts, raw_invoices, raw_time, raw_payments, crm, dict(by_eng), unbilled,
                      open_exceptions=sum(1 for e in exc if e.get("status") in ("open", "retrying")),
                      exceptions_total=len(exc))


def _retainers(sows: list[StatementOfWork], invoices: list[InvoiceEvent], payments: list[Payment],
               applications: list[CashApplication]) -> list[RetainerFact]:
    """Invariant 6 from NetSuite: per retainer plan, receipts = payments applied to the retainer invoice
    (``INV-<engagement>-RETAINER``), drawdowns = the ``retainer_drawdown`` lines of the engagement's invoices, in
    date order (a receipt before a drawdown on the same day); the stated balance is what the last drawdown line
    says is left."""
    out = []
    paid_on = {p.payment_id: p.received_on for p in payments}
    for sow in sows:
        plan = sow.billing_plan
        if not isinstance(plan, RetainerPlan):
            continue
        invs = [i for i in invoices if i.engagement_id == sow.engagement_id and i.status != "void"]
        ret_ids = {i.invoice_id for i in invs if i.invoice_id.upper().endswith("-RETAINER")}
        events: list[tuple[date, int, str, RetainerEvent]] = []
        for app in applications:
            for a in app.applications:
                if a.invoice_id in ret_ids:
                    events.append((paid_on.get(app.payment_id, date.min), 0, app.payment_id,
                                   RetainerEvent(ref=app.payment_id, kind="receipt", amount=a.amount)))
        stated: Decimal | None = None
        for i in sorted(invs, key=lambda i: (i.invoice_date, i.invoice_id)):
            for ln in i.lines:
                if ln.kind == "retainer_drawdown":
                    events.append((i.invoice_date, 1, i.invoice_id, RetainerEvent(
                        ref=ln.source_ids[0] if ln.source_ids else ln.line_id, kind="drawdown", amount=-ln.amount)))
                    m = BALANCE_RE.search(ln.description)
                    stated = Decimal(m["after"]) if m else stated
        events.sort(key=lambda e: e[:3])
        out.append(RetainerFact(retainer_id=plan.billing_plan_id, currency=sow.currency,
                                events=[e[3] for e in events], stated_balance=stated))
    return out


def _invoice(rec: dict[str, Any], ctx: RunContext, subs: dict, customers: dict, jobs: dict,
             sows: dict[str, StatementOfWork], psa_time: dict[str, dict[str, Any]],
             version_no: dict[str, int], eng_of: Any) -> InvoiceEvent | None:
    memo = MEMO_RE.search(rec.get("memo") or "")
    if memo is None:
        return None  # not an invoice the core issued (or an intercompany one: see extend_facts)
    invoice_id, sow_id = memo["invoice"], eng_of(memo["sow"]) or memo["sow"]
    cur = rec.get("currency", {})
    currency = cur.get("refName") if isinstance(cur, dict) else "USD"
    engagement = jobs.get(_ref(rec.get("job")) or "") or sow_id
    sow = sows.get(sow_id)
    lines = []
    for n, ln in enumerate(_lines(rec, "item"), start=1):
        m = LINE_RE.search(ln.get("description") or "")
        kind = m["kind"] if m else "adjustment"
        sources = [s for s in (m["sources"].split(",") if m else []) if s]
        line_version = int(m["version"]) if m else int(memo["version"])
        amount = _dec(ln.get("amount"))
        extra: dict[str, Any] = {}
        if kind == "time" and len(sources) == 1 and sources[0] in psa_time and sow is not None:
            e = psa_time[sources[0]]
            plan = sow.billing_plan
            policy = getattr(plan, "fx_policy", None)
            rate = Decimal(e["rate_in_cents"]) / 100 if e.get("rate_in_cents") is not None else None
            card = ctx.world.rate_cards.get(getattr(plan, "rate_card_id", "") or "")
            if policy is not None and card is not None:
                inv_date = date.fromisoformat(str(rec["tranDate"])[:10])
                on = fx_rate_date(policy, work_date=date.fromisoformat(e["date_performed"]), invoice_date=inv_date)
                src_cur = card.versions[0].currency
                try:
                    fx = ctx.world.fx.rate(policy.rate_type, src_cur, currency, on)
                except Exception:
                    fx = None
                extra = {"applied_rate": rate, "rate_card_version": version_no.get(e.get("rate_card_version_id") or ""),
                         "fx_rate_type": policy.rate_type, "fx_rate_date": on, "fx_rate": fx}
        lines.append(InvoiceLine(line_id=f"{invoice_id}-{n}", kind=kind, description=ln.get("description") or "",
                                 quantity=_dec(ln.get("quantity")), unit_price=_dec(ln.get("rate")), amount=amount,
                                 source_ids=sources, contract_version=line_version, **extra))
    lines = _with_tax(lines, _dec(rec.get("taxRate")), _dec(rec.get("taxTotal")), currency)
    return InvoiceEvent(
        correlation_id=f"ns-invoice-{rec['id']}", xref={"netsuite": str(rec["id"])}, invoice_id=invoice_id,
        sow_id=sow_id, engagement_id=engagement, client_id=customers.get(_ref(rec.get("entity")) or "") or "",
        contracting_entity_id=subs.get(_ref(rec.get("subsidiary")) or "") or "",
        invoice_date=date.fromisoformat(str(rec["tranDate"])[:10]), currency=currency,
        contract_version=int(memo["version"]), lines=lines, net_total=_dec(rec.get("subtotal")),
        tax_total=_dec(rec.get("taxTotal")), gross_total=_dec(rec.get("total")), status=invoice_status(rec),
        booking_fx_rate=_dec(rec["exchangeRate"]) if rec.get("exchangeRate") is not None else None)


def _with_tax(lines: list[InvoiceLine], rate: Decimal, header_tax: Decimal, currency: str) -> list[InvoiceLine]:
    """NetSuite states one tax rate per invoice and computes the tax on the subtotal; a line's tax is its amount at
    that rate, rounded. Per-line rounding may differ from the header by at most half a minor unit per line: that
    residue goes on the largest line (anything bigger stays visible to invariant 11)."""
    if not lines:
        return lines
    from q2c_harness.billing import round_money

    code = "STANDARD" if rate > 0 else "OUTSIDE_SCOPE" if header_tax == 0 else "STANDARD"
    taxes = [round_money(ln.amount * rate / 100, currency) for ln in lines]
    diff = header_tax - sum(taxes, ZERO)
    if diff and abs(diff) <= Decimal("0.005") * len(lines) + Decimal("0.01"):
        big = max(range(len(lines)), key=lambda i: lines[i].amount)
        taxes[big] += diff
    return [ln.model_copy(update={"tax_amount": t, "tax_code": code if rate > 0 else ln.tax_code})
            for ln, t in zip(lines, taxes)]


def selected_invariants(scenario: Scenario) -> set[str]:
    return set(INVARIANT_NAMES) if scenario.invariants == "all" else set(scenario.invariants)


def check_expectations(ctx: RunContext, bundle: FactBundle, expect: Expectations) -> list[str]:
    out = []
    for e in expect.invoices:
        invs = [i for i in bundle.invoices_by_engagement.get(e.engagement, []) if i.status != "void"]
        if e.count is not None and len(invs) != e.count:
            out.append(f"engagement {e.engagement}: expected {e.count} invoice(s) in NetSuite, found {len(invs)} "
                       f"({', '.join(i.invoice_id for i in invs) or 'none'})")
        if e.net_total is not None:
            total = sum((i.net_total for i in invs), ZERO)
            if total != e.net_total:
                out.append(f"engagement {e.engagement}: expected invoiced net {e.net_total}, NetSuite shows {total}")
        if e.currency is not None and any(i.currency != e.currency for i in invs):
            out.append(f"engagement {e.engagement}: expected currency {e.currency}, NetSuite shows "
                       f"{sorted({i.currency for i in invs})}")
        if e.status is not None and any(i.status != e.status for i in invs):
            out.append(f"engagement {e.engagement}: expected every invoice {e.status!r}, NetSuite shows "
                       f"{[(i.invoice_id, i.status) for i in invs]}")
    if expect.exceptions is not None:
        x = expect.exceptions
        if x.open is not None and bundle.open_exceptions != x.open:
            out.append(f"expected {x.open} open exception(s), the queue has {bundle.open_exceptions}")
        if x.at_least is not None and bundle.exceptions_total < x.at_least:
            out.append(f"expected at least {x.at_least} exception(s) routed to the queue, found "
                       f"{bundle.exceptions_total}")
    for c in expect.crm:
        got = bundle.crm.get(c.engagement, {}).get(c.field)
        if str(got) != str(c.equals):
            out.append(f"Salesforce {c.engagement}.{c.field}: expected {c.equals!r}, found {got!r}")
    if expect.unbilled_approved_time is not None and bundle.unbilled_approved_time != expect.unbilled_approved_time:
        out.append(f"expected {expect.unbilled_approved_time} approved billable PSA time entries left uninvoiced, "
                   f"found {bundle.unbilled_approved_time}")
    for eng, version in expect.contract_versions.items():
        sow = next((s for s in bundle.facts.statements_of_work if s.sow_id == eng), None)
        if sow is None or sow.current.version != version:
            out.append(f"engagement {eng}: expected contract version {version} in the PSA, found "
                       f"{sow.current.version if sow else None}")
    return out


async def integration_checks(ctx: RunContext, bundle: FactBundle) -> list[Violation]:
    """Invariant 14: replay left the ERP unchanged (recorded by replay steps), cross-references one-to-one,
    the audit hash chain verifies."""
    out = list(getattr(ctx, "replay_violations", []))
    out += await ctx.core.integration_violations(ctx)
    return out
