"""Facts read back through the vendors' own APIs, as a finance team would check them, beside what the scenario
declares, turned into the invariants' `Facts`.

- PSA (Kantata OX API): rate cards and their versions, roles, users (region, legal entity), time entries (hours,
  approval, billable), expenses, billing milestones (acceptance), projects (current price and budget) and their
  budget change orders.
- Salesforce (SOQL): the signed (primary) quote, accepted amendment quotes (change orders), the retainer agreed, and
  the invoice status the core writes back on the opportunity.
- NetSuite (record service + SuiteQL): subsidiaries, customers, projects, currency exchange rates, contracts (sales
  orders), client and intercompany invoices with their lines, customer payments and their applications.
- The scenario: contract terms (rate card, FX policy, cap), standard tax rates, the intercompany markup.

Invoices are tied to the scenario's engagements by what finance sees: the NetSuite project (whose external id
carries the Salesforce opportunity id), customers and subsidiaries by name, lines by the source records their text
cites (``[time 41; v1]``). Nothing here reads the core's database or a simulator's memory, and nothing imports the
core's flows, connectors or billing rules (tests/scenarios/test_checker_independence.py); the core's driver
supplies only its integration checks (invariant 14) and the CRM read.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from q2c_harness.canonical import (
    AppliedAmount,
    CashApplication,
    ChangeOrder,
    ContractVersion,
    CreditMemo,
    Engagement,
    ExpenseTransaction,
    FixedFeePlan,
    FxPolicy,
    InvoiceEvent,
    InvoiceLine,
    Milestone,
    Payment,
    RateCard,
    RateCardVersion,
    RecurringFeePlan,
    RetainerPlan,
    RoleRate,
    StatementOfWork,
    TimeAndMaterialsPlan,
    TimeTransaction,
)

from .expected import ZERO, FxBook, money, rate_in_force, total
from .invariants import (
    ContractFact,
    CrmStatusFact,
    CrossChargeFact,
    Facts,
    InvariantResult,
    RebillFact,
    RetainerEvent,
    RevenueFact,
    UsageUnitFact,
    RetainerFact,
    Tally,
    GatewayPaymentFact,
    TaxDocumentFact,
    result_of,
)
from .scenario import Expectations, Scenario

if TYPE_CHECKING:
    from .steps import RunContext

LINE_RE = re.compile(r"\[(?P<kind>[a-z_]+) (?P<sources>[^;\]]*); v(?P<version>\d+)\]")
BALANCE_RE = re.compile(r"balance (?P<before>-?[\d.]+) -> (?P<after>-?[\d.]+)")
MEMO_RE = re.compile(r"q2c invoice (?P<invoice>\S+) sow (?P<sow>\S+) contract v(?P<version>\d+)")
GATEWAY_MEMO_RE = re.compile(r"gateway payment (pi_\w+)")
IC_MEMO_RE = re.compile(r"cross-charge (?P<invoice>\S+):(?P<entity>[^\s;]+)")
# a credit memo and its re-invoice name each other in their memos (docs/flows.md, credit and rebill)
CM_MEMO_RE = re.compile(r"q2c credit memo (?P<memo>\S+) credits (?P<invoice>[^\s;]+); re-invoiced as (?P<rebill>[^\s;]+)")
REPLACES_RE = re.compile(r"replaces (?P<invoice>\S+) \(credit memo (?P<memo>[^\s)]+)\)")
# the opportunity fields the integration writes back (docs/flows.md, cash -> CRM)
CRM_FIELDS = ("Invoice_Number__c", "Invoice_Status__c", "Amount_Invoiced__c", "Amount_Paid__c")


@dataclass
class FactBundle:
    facts: Facts
    raw_invoices: list[dict[str, Any]] = field(default_factory=list)
    raw_time: list[dict[str, Any]] = field(default_factory=list)
    raw_payments: list[dict[str, Any]] = field(default_factory=list)
    crm: dict[str, dict[str, Any]] = field(default_factory=dict)  # engagement -> Opportunity fields
    invoices_by_engagement: dict[str, list[InvoiceEvent]] = field(default_factory=dict)
    payments_by_engagement: dict[str, list[CashApplication]] = field(default_factory=dict)
    unbilled_approved_time: int = 0
    open_exceptions: int = 0
    exceptions_total: int = 0
    subsidiary_of: dict[str, str] = field(default_factory=dict)  # invoice id -> scenario entity id
    # business object -> the vendor records standing for it ("engagement E1 / PSA project" -> {"12"})
    records_of: dict[str, set[str]] = field(default_factory=dict)
    credit_memos_by_engagement: dict[str, list[Any]] = field(default_factory=dict)  # CreditMemo, by issue date

    def kpis(self) -> dict[str, Any]:
        inv = self.facts.invoices
        by_cur: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for i in inv:
            by_cur[i.currency] += i.gross_total
        for cm in self.facts.credit_memos:  # billed net of what was credited
            by_cur[cm.currency] -= cm.amount
        return {"invoices": len(inv), "invoice_lines": sum(len(i.lines) for i in inv),
                "billed_gross": {k: str(v) for k, v in sorted(by_cur.items())},
                "time_entries": len(self.facts.time_entries), "expenses": len(self.facts.expenses),
                "payments": len(self.facts.payments), "unbilled_approved_time": self.unbilled_approved_time,
                "open_exceptions": self.open_exceptions}


def _dec(v: Any) -> Decimal:
    return Decimal(str(v)) if v is not None else ZERO


def _ref(v: Any) -> str | None:
    return str(v["id"]) if isinstance(v, dict) and v.get("id") is not None else (str(v) if v is not None else None)


def _ref_name(v: Any) -> str | None:
    return v.get("refName") if isinstance(v, dict) else None


def _lines(rec: dict[str, Any], sublist: str) -> list[dict[str, Any]]:
    sub = rec.get(sublist) or {}
    return sub.get("items", []) if isinstance(sub, dict) else sub


def _day(v: Any) -> date:
    return date.fromisoformat(str(v)[:10])


def invoice_status(rec: dict[str, Any]) -> str:
    """What finance reads off a NetSuite invoice: void, paid (nothing left to pay), partially paid or open."""
    status = rec.get("status")
    text = ((status.get("refName") if isinstance(status, dict) else status) or "").lower()
    if "void" in text:
        return "void"
    gross, remaining = _dec(rec.get("total")), _dec(rec.get("amountRemaining", rec.get("total")))
    if remaining == 0 or "paid in full" in text:
        return "paid"
    return "partially_paid" if 0 < remaining < gross else "posted"


async def _ns_all(ctx: RunContext, record: str) -> list[dict[str, Any]]:
    rows = await ctx.vendors.suiteql(f"SELECT id FROM {record.lower()} ORDER BY id")
    return [await ctx.vendors.ns_get(record, str(r["id"])) for r in rows]


def _by_name(names: dict[str, str], name: str | None, external_id: str | None, kind: str) -> str | None:
    """A scenario id by the record's name (what the business set up), else by the external id's tail."""
    if name is not None and name in names:
        return names[name]
    prefix = f"Q2C-{kind}-"
    if isinstance(external_id, str) and external_id.upper().startswith(prefix):
        tail = external_id[len(prefix):]
        return next((v for v in names.values() if v.upper() == tail.upper()), tail)
    return None


@dataclass
class _Psa:
    ws_engagement: dict[str, str]
    time_entries: list[TimeTransaction]
    raw_time: list[dict[str, Any]]
    expenses: list[ExpenseTransaction]
    milestones: list[Milestone]
    rate_cards: list[RateCard]
    workspaces: dict[str, dict[str, Any]]
    change_orders: dict[str, int]  # workspace -> budget change orders
    projects_of: dict[str, set[str]]  # engagement -> the PSA workspaces referencing it
    usage_units: dict[str, UsageUnitFact] = field(default_factory=dict)


async def _read_psa(ctx: RunContext) -> _Psa:
    v = ctx.vendors
    ws_engagement: dict[str, str] = {er.workspace: name for name, er in ctx.engagements.items() if er.workspace}
    opp_engagement = {er.sf_opportunity: name for name, er in ctx.engagements.items() if er.sf_opportunity}
    projects_of: dict[str, set[str]] = defaultdict(set)
    for r in await v.psa_all("external_references", {"service_model": "Engagement"}):
        if r["subject_type"] == "Workspace":
            ref = str(r["service_model_ref"]).upper()
            name = next((e for opp, e in opp_engagement.items() if opp and opp.upper() in ref), None)
            if name is not None:
                ws_engagement.setdefault(str(r["subject_id"]), name)
                projects_of[name].add(str(r["subject_id"]))
    users = {u["id"]: u for u in await v.psa_all("users")}
    roles = {r["id"]: r["name"] for r in await v.psa_all("roles")}
    person_of = {uid: pid for pid, uid in ctx.psa_users.items()}
    cards = []
    versions = await v.psa_all("rate_card_versions")
    for card in await v.psa_all("rate_cards"):
        mine = sorted((x for x in versions if x["rate_card_id"] == card["id"]), key=lambda x: x["effective_date"])
        cards.append(RateCard(correlation_id=f"psa-rate-card-{card['id']}", rate_card_id=card["title"],
                              name=card["title"], versions=[RateCardVersion(
                                  version=n, effective_from=_day(x["effective_date"]), currency=card["currency"],
                                  rates=[RoleRate(role=roles.get(r["role_id"], ""), region=r.get("region") or "",
                                                  rate=Decimal(r["rate_in_cents"]) / 100) for r in x["rates"]])
                                  for n, x in enumerate(mine, start=1)]))
    raw_time = await v.psa_all("time_entries")
    time_entries = []
    for e in raw_time:
        eng = ws_engagement.get(str(e["workspace_id"]))
        if eng is None:
            continue
        user = users.get(e["user_id"], {})
        time_entries.append(TimeTransaction(
            correlation_id=f"psa-time-{e['id']}", xref={"psa": str(e["id"])}, time_entry_id=str(e["id"]),
            engagement_id=eng, sow_id=eng, resource_id=person_of.get(e["user_id"], e["user_id"]),
            role=roles.get(e.get("role_id") or user.get("role_id") or "", ""), region=user.get("region") or "",
            delivering_entity_id=user.get("legal_entity") or "", work_date=_day(e["date_performed"]),
            hours=Decimal(e["time_in_minutes"]) / 60, approval_state=_approval(e), billable=bool(e.get("billable"))))
    expenses = []
    for x in await v.psa_all("expenses"):
        eng = ws_engagement.get(str(x["workspace_id"]))
        if eng is None:
            continue
        user = users.get(x["user_id"], {})
        expenses.append(ExpenseTransaction(
            correlation_id=f"psa-expense-{x['id']}", xref={"psa": str(x["id"])}, expense_id=str(x["id"]),
            engagement_id=eng, sow_id=eng, resource_id=person_of.get(x["user_id"], x["user_id"]),
            delivering_entity_id=user.get("legal_entity") or "", incurred_on=_day(x["date"]), category=x["category"],
            amount=Decimal(x["amount_in_cents"]) / 100, currency=x.get("currency") or "USD",
            approval_state=_approval(x), billable=bool(x.get("billable"))))
    # the integration tags each billing milestone it creates with its own milestone id (an external reference)
    ms_key = {str(r["subject_id"]): str(r["service_model_ref"])
              for r in await v.psa_all("external_references", {"service_model": "Milestone"})
              if r["subject_type"] == "BillingMilestone"}
    milestones = []
    for m in await v.psa_all("billing_milestones"):
        eng = ws_engagement.get(str(m["workspace_id"]))
        if eng is None:
            continue
        accepted = (m.get("acceptance_state") or "pending") == "accepted"
        milestones.append(Milestone(
            correlation_id=f"psa-milestone-{m['id']}", xref={"psa": str(m["id"])},
            milestone_id=ms_key.get(str(m["id"]), str(m["id"])), sow_id=eng, name=m["title"],
            amount=Decimal(m["amount_in_cents"]) / 100,
            due_date=_day(m["due_date"]) if m.get("due_date") else ctx.now.date(),
            status="accepted" if accepted else "planned",
            accepted_on=_day(m["accepted_at"]) if m.get("accepted_at") else None))
    workspaces = {str(w["id"]): w for w in await v.psa_all("workspaces")}
    bcos: dict[str, int] = defaultdict(int)
    for b in await v.psa_all("budget_change_orders"):
        bcos[str(b["workspace_id"])] += 1
    # metered usage: the integration tags each quote line's story with the quote line id; units are issues under it
    line_story = {str(r["subject_id"]): str(r["service_model_ref"])
                  for r in await v.psa_all("external_references", {"service_model": "QuoteLine"})
                  if r["subject_type"] == "Story"}
    units = {}
    for st in await v.psa_all("stories"):
        eng = ws_engagement.get(str(st["workspace_id"]))
        parent = str(st.get("parent_id") or "")
        if eng is not None and parent in line_story and st.get("story_type") == "issue":
            units[str(st["id"])] = UsageUnitFact(str(st["id"]), eng, line_story[parent],
                                                 _day(st["due_date"]) if st.get("due_date") else None,
                                                 st.get("state") == "completed")
    return _Psa(ws_engagement, time_entries, raw_time, expenses, milestones, cards, workspaces, dict(bcos),
                dict(projects_of), units)


def _approval(rec: dict[str, Any]) -> str:
    state = rec.get("approval_state") or "unsubmitted"
    return "draft" if state == "unsubmitted" else state


@dataclass
class _Crm:
    signed: dict[str, Decimal]  # engagement -> the primary quote's net amount
    amendments: dict[str, list[tuple[Decimal, date]]]  # engagement -> accepted amendment quotes, in order
    retainer: dict[str, Decimal]
    status: dict[str, dict[str, Any]]
    # engagement -> the signed quote's Recurring lines: (fee per period, start, end, billing frequency)
    recurring: dict[str, list[tuple[Decimal, date | None, date | None, str]]] = field(default_factory=dict)
    usage_prices: dict[str, Decimal] = field(default_factory=dict)  # metered quote line id -> unit price


async def _read_crm(ctx: RunContext) -> _Crm:
    v = ctx.vendors
    out = _Crm({}, {}, {}, {})
    for eng, er in ctx.engagements.items():
        if not er.sf_opportunity:
            continue
        quotes = await v.sf_query("SELECT Id, SBQQ__NetAmount__c, SBQQ__Primary__c, SBQQ__Type__c, SBQQ__Status__c, "
                                  f"LastModifiedDate FROM SBQQ__Quote__c WHERE SBQQ__Opportunity2__c = "
                                  f"'{er.sf_opportunity}' ORDER BY Id")
        primary = [q for q in quotes if q.get("SBQQ__Primary__c")]
        if primary:
            out.signed[eng] = _dec(primary[0]["SBQQ__NetAmount__c"])
        out.amendments[eng] = [(_dec(q["SBQQ__NetAmount__c"]), _day(q["LastModifiedDate"])) for q in quotes
                               if q.get("SBQQ__Type__c") == "Amendment" and q.get("SBQQ__Status__c") == "Accepted"]
        if primary and (er.spec.billing == "recurring_fee" or er.spec.usage):
            lines = await v.sf_query("SELECT Id, SBQQ__NetPrice__c, SBQQ__StartDate__c, SBQQ__EndDate__c, "
                                     "SBQQ__BillingFrequency__c, SBQQ__ChargeType__c FROM SBQQ__QuoteLine__c WHERE "
                                     f"SBQQ__Quote__c = '{primary[0]['Id']}' ORDER BY Id")
            # a Usage line billed monthly is metered: priced per unit the PSA reports
            out.usage_prices.update({str(ln["Id"]): _dec(ln["SBQQ__NetPrice__c"]) for ln in lines
                                     if ln.get("SBQQ__ChargeType__c") == "Usage" and ln.get("SBQQ__BillingFrequency__c")})
            out.recurring[eng] = [(_dec(ln["SBQQ__NetPrice__c"]),
                                   _day(ln["SBQQ__StartDate__c"]) if ln.get("SBQQ__StartDate__c") else None,
                                   _day(ln["SBQQ__EndDate__c"]) if ln.get("SBQQ__EndDate__c") else None,
                                   str(ln.get("SBQQ__BillingFrequency__c"))) for ln in lines
                                  if ln.get("SBQQ__ChargeType__c") == "Recurring"]
        if er.spec.billing == "retainer":
            rows = await v.sf_query(f"SELECT Id, Q2C_Retainer_Amount__c FROM Opportunity WHERE Id = "
                                    f"'{er.sf_opportunity}'")
            if rows and rows[0].get("Q2C_Retainer_Amount__c") is not None:
                out.retainer[eng] = _dec(rows[0]["Q2C_Retainer_Amount__c"])
        out.status[eng] = await ctx.core.crm_status(ctx, er)
    return out


def _statements_of_work(ctx: RunContext, psa: _Psa, crm: _Crm) -> tuple[list[StatementOfWork], list[ChangeOrder]]:
    """The contract as signed in the CRM and as the PSA runs it; terms the scenario declares."""
    sows, change_orders = [], []
    ms_by_eng: dict[str, list[Milestone]] = defaultdict(list)
    for m in psa.milestones:
        ms_by_eng[m.sow_id].append(m)
    for eng, er in ctx.engagements.items():
        spec = er.spec
        signed = crm.signed.get(eng, spec.value)
        budget = spec.budget if spec.budget is not None else spec.value
        declared = sorted(er.change_orders, key=lambda c: c.number)
        cos = []
        for n, (delta, on) in enumerate(crm.amendments.get(eng, []), start=1):
            budget_delta = declared[n - 1].budget_delta if n <= len(declared) else delta
            cos.append(ChangeOrder(correlation_id=f"scenario-{eng}-co{n}", change_order_id=f"{eng}-CO{n}",
                                   sow_id=eng, number=n, value_delta=delta, budget_delta=budget_delta,
                                   approval_state="approved", approved_on=on, asc606_classification="prospective"))
        change_orders += cos
        ws = psa.workspaces.get(er.workspace or "")
        if ws is not None:
            value = Decimal(ws["price_in_cents"]) / 100 if ws.get("price_in_cents") is not None else signed
            cur_budget = Decimal(ws["budget_in_cents"]) / 100 if ws.get("budget_in_cents") is not None else budget
            version = 1 + psa.change_orders.get(er.workspace or "", 0)
        else:
            value, cur_budget, version = signed, budget, 1
        fee = signed + total(c.value_delta for c in cos)
        policy = FxPolicy(**spec.fx_policy.model_dump()) if spec.fx_policy else FxPolicy(
            rate_type="corporate", rate_date_rule="work_date")
        plan: Any
        if spec.billing == "fixed_fee":
            plan = FixedFeePlan(correlation_id=f"scenario-{eng}", billing_plan_id=f"{eng}-PLAN", fee=fee,
                                milestones=ms_by_eng.get(eng, []))
        elif spec.billing == "recurring_fee" and crm.recurring.get(eng):
            lines = crm.recurring[eng]
            plan = RecurringFeePlan(correlation_id=f"scenario-{eng}", billing_plan_id=f"{eng}-PLAN",
                                    amount_per_period=total(ln[0] for ln in lines),
                                    frequency={"Monthly": "monthly", "Quarterly": "quarterly",
                                               "Annual": "annual"}.get(lines[0][3], "monthly"),  # type: ignore[arg-type]
                                    start_date=lines[0][1] or spec.start, end_date=lines[0][2] or spec.end)
        elif spec.billing == "retainer":
            plan = RetainerPlan(correlation_id=f"scenario-{eng}", billing_plan_id=f"{eng}-PLAN",
                                retainer_amount=spec.retainer_amount or spec.value, rate_card_id=spec.rate_card,
                                fx_policy=policy if spec.rate_card else None)
        else:
            # a change order raises a not-to-exceed cap by its value (docs/scenarios.md, contract terms)
            cap = spec.not_to_exceed + total(c.value_delta for c in cos) if spec.not_to_exceed is not None else None
            plan = TimeAndMaterialsPlan(correlation_id=f"scenario-{eng}", billing_plan_id=f"{eng}-PLAN",
                                        rate_card_id=spec.rate_card or "", fx_policy=policy, not_to_exceed=cap)
        sows.append(StatementOfWork(
            correlation_id=f"scenario-{eng}", xref={"psa": er.workspace or ""}, sow_id=eng, engagement_id=eng,
            currency=spec.currency, baseline=ContractVersion(version=1, value=signed, budget=budget, end_date=spec.end),
            current=ContractVersion(version=version, value=value, budget=cur_budget, end_date=spec.end),
            billing_plan=plan))
    return sows, change_orders


async def read_facts(ctx: RunContext) -> FactBundle:
    v, w = ctx.vendors, ctx.world
    psa = await _read_psa(ctx)
    crm = await _read_crm(ctx)
    sows, change_orders = _statements_of_work(ctx, psa, crm)
    opp_engagement = {er.sf_opportunity: name for name, er in ctx.engagements.items() if er.sf_opportunity}

    def engagement_in(text: str | None) -> str | None:
        # NetSuite external ids are case-insensitive (and may come back upper-cased)
        return next((name for opp, name in opp_engagement.items() if opp and text and opp.upper() in text.upper()),
                    None)

    # ---- NetSuite ------------------------------------------------------------------------------------------------
    entity_names = {e.name: e.entity_id for e in w.entities.values()}
    client_names = {c.name: c.client_id for c in w.clients.values()}
    ic_names = {f"IC {e.name}"[:83]: e.entity_id for e in w.entities.values()}
    subs = {str(s["id"]): _by_name(entity_names, s.get("name"), s.get("externalId"), "ENTITY")
            for s in await _ns_all(ctx, "subsidiary")}
    customers: dict[str, str | None] = {}
    ic_customers: dict[str, str] = {}
    for c in await _ns_all(ctx, "customer"):
        if c.get("companyName") in ic_names:
            ic_customers[str(c["id"])] = ic_names[c["companyName"]]
        else:
            customers[str(c["id"])] = _by_name(client_names, c.get("companyName"), c.get("externalId"), "CLIENT")
    jobs = {str(j["id"]): engagement_in(j.get("externalId")) or engagement_in(j.get("entityId"))
            for j in await _ns_all(ctx, "job")}
    records_of: dict[str, set[str]] = defaultdict(set)
    for eng in ctx.engagements:
        records_of[f"engagement {eng} / PSA project"] |= psa.projects_of.get(eng, set())
        records_of[f"engagement {eng} / NetSuite project"] |= {j for j, e in jobs.items() if e == eng}
    for cid, client in customers.items():
        if client is not None:
            records_of[f"client {client} / NetSuite customer"].add(cid)
    for row in await v.suiteql("SELECT id, externalid FROM timebill ORDER BY id"):
        tail = str(row.get("externalid") or "").rpartition("-")[2]
        if tail:
            records_of[f"PSA time entry {tail} / NetSuite time bill"].add(str(row["id"]))
    currencies = {str(c["id"]): c.get("symbol") or c.get("name") for c in await _ns_all(ctx, "currency")}
    fx = FxBook()
    for r in await _ns_all(ctx, "currencyRate"):
        src, dst = currencies.get(_ref(r.get("transactionCurrency")) or ""), currencies.get(_ref(r.get("baseCurrency")) or "")
        if src and dst:
            fx.add("corporate", src, dst, _day(r["effectiveDate"]), _dec(r["exchangeRate"]))
    for (rate_type, src, dst, day), rate in w.fx.items():
        if rate_type != "corporate":  # NetSuite's currency rates are the corporate ones; other types are declared
            fx.add(rate_type, src, dst, day, rate)
    contracts = []
    for so in await _ns_all(ctx, "salesOrder"):
        eng = jobs.get(_ref(so.get("job")) or "")
        if eng is None:
            continue
        lines = _lines(so, "item")
        baseline = [_dec(ln.get("amount")) for ln in lines if "baseline" in (ln.get("description") or "")]
        contracts.append(ContractFact(
            sow_id=eng, currency=_ref_name(so.get("currency")) or "", signed_baseline=crm.signed.get(eng, ZERO),
            kept_baseline=baseline[0] if len(baseline) == 1 else None, erp_value=total(_dec(ln.get("amount"))
                                                                                     for ln in lines),
            erp_change_orders=sum(1 for ln in lines if "change order" in (ln.get("description") or "")),
            psa_value=next((s.current.value for s in sows if s.sow_id == eng), None)))
    raw_invoices = await _ns_all(ctx, "invoice")
    invoices, cross_charges, tax_rates, notes, subsidiary_of = [], [], {}, {}, {}
    for rec in raw_invoices:
        memo = rec.get("memo") or ""
        ic = IC_MEMO_RE.search(memo)
        if _ref(rec.get("entity")) in ic_customers and ic is not None:
            cross_charges.append(CrossChargeFact(
                client_invoice_id=ic["invoice"], delivering_entity_id=subs.get(_ref(rec.get("subsidiary")) or "") or "",
                contracting_entity_id=ic_customers[_ref(rec.get("entity")) or ""],
                currency=_ref_name(rec.get("currency")) or "", amount=_dec(rec.get("total")),
                ref=str(rec.get("tranId") or rec["id"])))
            continue
        inv = _invoice(rec, subs, customers, jobs, engagement_in)
        if inv is not None:
            invoices.append(inv)
            tax_rates[inv.invoice_id] = _dec(rec.get("taxRate"))
            notes[inv.invoice_id] = memo
            subsidiary_of[inv.invoice_id] = inv.contracting_entity_id
    credit_memos, rebills = await _credit_memos(ctx, invoices, notes)
    raw_payments = await _ns_all(ctx, "customerPayment")
    payments, applications = [], []
    inv_by_ns = {i.xref["netsuite"]: i for i in invoices}
    pay_by_eng: dict[str, list[CashApplication]] = defaultdict(list)
    for p in raw_payments:
        currency = _ref_name(p.get("currency")) or "USD"
        pay_id = str(p.get("tranId") or p["id"])
        payments.append(Payment(correlation_id=f"ns-payment-{p['id']}", xref={"netsuite": str(p["id"])},
                                payment_id=pay_id, client_id=customers.get(_ref(p.get("customer")) or "") or "",
                                received_on=_day(p["tranDate"]), currency=currency, amount=_dec(p["payment"])))
        apps = [AppliedAmount(invoice_id=inv_by_ns[d].invoice_id if (d := _ref(a.get("doc")) or "") in inv_by_ns else d,
                              amount=_dec(a["amount"])) for a in _lines(p, "apply")]
        app = CashApplication(correlation_id=f"ns-payment-{p['id']}", application_id=f"APP-{pay_id}",
                              payment_id=pay_id, currency=currency, applications=apps,
                              unapplied=_dec(p.get("unapplied")))
        applications.append(app)
        for eng in sorted({inv_by_ns[_ref(a.get("doc")) or ""].engagement_id for a in _lines(p, "apply")
                           if (_ref(a.get("doc")) or "") in inv_by_ns}):
            pay_by_eng[eng].append(app)

    # billed = on a line of an invoice the core issued in NetSuite (the ERP is the book of record)
    billed_ids = {(ln.kind, s) for i in invoices if i.status != "void" for ln in i.lines for s in ln.source_ids}
    time_entries = [t.model_copy(update={"billing_status": "billed"}) if ("time", t.time_entry_id) in billed_ids
                    else t for t in psa.time_entries]
    expenses = [x.model_copy(update={"billing_status": "billed"}) if ("expense", x.expense_id) in billed_ids else x
                for x in psa.expenses]
    milestones = [m.model_copy(update={"status": "billed"}) if ("milestone", m.milestone_id) in billed_ids
                  and m.status == "accepted" else m for m in psa.milestones]
    unbilled = sum(1 for t in time_entries if t.approval_state == "approved" and t.billable
                   and t.billing_status != "billed")
    engagements = [Engagement(correlation_id=f"scenario-{eng}", engagement_id=eng,
                              client_id=w.clients[er.spec.client].client_id, name=er.spec.name or eng,
                              contracting_entity_id=er.spec.entity,
                              delivering_entity_ids=sorted({er.spec.entity, *er.spec.delivering_entities}),
                              currency=er.spec.currency) for eng, er in ctx.engagements.items()]
    # an opportunity shows the invoice it names; nothing written as paid yet reads as 0 paid
    crm_facts = [CrmStatusFact(eng, str(f[CRM_FIELDS[0]]), f.get(CRM_FIELDS[1]),
                               _dec(f[CRM_FIELDS[2]]) if f.get(CRM_FIELDS[2]) is not None else None,
                               _dec(f.get(CRM_FIELDS[3])))
                 for eng, f in crm.status.items() if f.get(CRM_FIELDS[0])]
    revenue = _revenue(ctx, await ctx.core.revenue_schedule(ctx), engagement_in, sows, contracts, psa, invoices)
    tax_documents = await _read_tax_documents(ctx) if ctx.scenario.master_data.tax_service else None
    gateway = await _read_gateway(ctx) if ctx.scenario.master_data.payment_gateway else None
    erp_intent = {str(p.get("tranId") or p["id"]): m[1] for p in raw_payments
                  if (m := GATEWAY_MEMO_RE.search(p.get("memo") or ""))}
    facts = Facts(
        revenue=revenue,
        invoices=invoices, time_entries=time_entries, expenses=expenses, rate_cards=psa.rate_cards, fx_rates=fx,
        engagements=engagements, statements_of_work=sows, change_orders=change_orders, contracts=contracts,
        milestones=milestones, retainers=_retainers(sows, invoices, payments, applications, crm.retainer),
        cross_charges=cross_charges, intercompany_markup_percent=ctx.scenario.master_data.intercompany_markup_percent,
        clients=list(w.clients.values()), legal_entities=list(w.entities.values()), tax_rates=dict(w.tax_rates),
        invoice_tax_rates=tax_rates, invoice_notes=notes, payments=payments, cash_applications=applications,
        crm=crm_facts, credit_memos=credit_memos, rebills=rebills, tax_documents=tax_documents,
        usage_units=psa.usage_units, usage_prices=crm.usage_prices,
        gateway_payments=gateway, erp_payment_intent=erp_intent)
    facts = await ctx.core.extend_facts(ctx, facts)
    by_eng: dict[str, list[InvoiceEvent]] = defaultdict(list)
    for i in sorted(invoices, key=lambda i: (i.invoice_date, int(i.xref["netsuite"]))):
        by_eng[i.engagement_id].append(i)
    by_inv = {i.invoice_id: i.engagement_id for i in invoices}
    cm_by_eng: dict[str, list[Any]] = defaultdict(list)
    for cm in sorted(credit_memos, key=lambda c: (c.issued_on, c.credit_memo_id)):
        cm_by_eng[by_inv.get(cm.invoice_id, "")].append(cm)
    exc = await ctx.core.exceptions()
    bundle = FactBundle(facts, raw_invoices, psa.raw_time, raw_payments, crm.status, dict(by_eng), dict(pay_by_eng),
                      unbilled, open_exceptions=sum(1 for e in exc if e.get("status") in ("open", "retrying")),
                      exceptions_total=len(exc), subsidiary_of=subsidiary_of, records_of=dict(records_of))
    bundle.credit_memos_by_engagement = dict(cm_by_eng)
    return bundle


def _revenue(ctx: RunContext, rows: list[dict[str, str]], engagement_in: Any, sows: list[StatementOfWork],
             contracts: list[ContractFact], psa: _Psa, invoices: list[InvoiceEvent]) -> list[RevenueFact]:
    """The core's revenue-recognition export, each row beside the same inputs as the vendors hold them: the ERP
    contract's value, approved PSA time up to the period end at the engagement's PSA rate card (the one on the
    deal, else the only one in the contract currency; per entry rounded), the PSA project's budget, and the
    milestone lines the ERP invoiced up to the period end."""
    sow_of = {s.sow_id: s for s in sows}
    contract_of = {c.sow_id: c for c in contracts}
    out = []
    for row in rows:
        eng = engagement_in(row["engagement_id"])
        sow = sow_of.get(eng or "")
        d = {k: _dec(row[k]) for k in ("price", "cost_to_date", "estimate_at_completion", "prior_cumulative",
                                       "cumulative_revenue", "period_revenue", "billed_to_date", "contract_asset",
                                       "contract_liability")}
        vendor: dict[str, Decimal | None] = {}
        if eng is not None and sow is not None:
            through = date.fromisoformat(row["period"] + "-01")
            through = date(through.year + through.month // 12, through.month % 12 + 1, 1)  # the next month's 1st
            contract = contract_of.get(eng)
            vendor["vendor_price"] = contract.erp_value if contract else None
            vendor["vendor_estimate_at_completion"] = sow.current.budget
            vendor["vendor_billed_to_date"] = total(ln.amount for i in invoices if i.engagement_id == eng
                                                    and i.status != "void" and i.invoice_date < through
                                                    for ln in i.lines if ln.kind == "milestone")
            spec = ctx.engagements[eng].spec
            cards = [c for c in psa.rate_cards if c.rate_card_id == spec.rate_card] if spec.rate_card else \
                [c for c in psa.rate_cards if c.versions and c.versions[0].currency == sow.currency]
            if len(cards) == 1:
                vendor["vendor_cost_to_date"] = total(
                    money(t.hours * rate_in_force(cards[0], t.role, t.region, t.work_date).rate, sow.currency)
                    for t in psa.time_entries if t.engagement_id == eng and t.approval_state == "approved"
                    and t.work_date < through)
        out.append(RevenueFact(sow_id=eng or row["sow_id"], currency=row["currency"], price=d["price"],
                               cost_to_date=d["cost_to_date"], estimate_at_completion=d["estimate_at_completion"],
                               prior_cumulative=d["prior_cumulative"], cumulative=d["cumulative_revenue"],
                               period=d["period_revenue"], billed_to_date=d["billed_to_date"],
                               contract_asset=d["contract_asset"], contract_liability=d["contract_liability"],
                               closed=row["period"], **vendor))
    return out


async def _credit_memos(ctx: RunContext, invoices: list[InvoiceEvent],
                        notes: dict[str, str]) -> tuple[list[CreditMemo], list[RebillFact]]:
    """NetSuite credit memos on the scenario's invoices: the invoice each was created from (``createdFrom``) and is
    applied to, the re-invoice its memo names and what that re-invoice's memo cites back; the entries the
    scenario's disputes wrote off (as the PSA holds them)."""
    inv_by_ns = {i.xref["netsuite"]: i for i in invoices}
    memos, rebills = [], []
    for rec in await _ns_all(ctx, "creditMemo"):
        credited = inv_by_ns.get(_ref(rec.get("createdFrom")) or "")
        m = CM_MEMO_RE.search(rec.get("memo") or "")
        if credited is None:
            continue  # not a credit on an invoice of the scenario's engagements
        cm_id = m["memo"] if m else str(rec.get("tranId") or rec["id"])
        memos.append(CreditMemo(correlation_id=f"ns-credit-memo-{rec['id']}", xref={"netsuite": str(rec["id"])},
                                credit_memo_id=cm_id, invoice_id=credited.invoice_id, issued_on=_day(rec["tranDate"]),
                                currency=_ref_name(rec.get("currency")) or "USD", amount=_dec(rec.get("total")),
                                reason=rec.get("memo") or ""))
        rebill = m["rebill"] if m and m["rebill"] != "nothing" else None
        cites = REPLACES_RE.search(notes.get(rebill or "", ""))
        applied = tuple(inv_by_ns[d].invoice_id if (d := _ref(a.get("doc")) or "") in inv_by_ns else d
                        for a in _lines(rec, "apply"))
        rebills.append(RebillFact(credit_memo_id=cm_id, credited_invoice_id=credited.invoice_id, applied_to=applied,
                                  reinvoice_id=rebill, reinvoice_cites=(cites["invoice"], cites["memo"]) if cites
                                  else None, written_off=frozenset(ctx.written_off.get(credited.engagement_id, ()))))
    return memos, rebills


async def _read_gateway(ctx: RunContext) -> list[GatewayPaymentFact]:
    """The gateway's succeeded payments and their refunds (Stripe-style lists), amounts in major units."""
    refunded: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for r in await ctx.vendors.gateway_all("refunds"):
        if r.get("status") in ("succeeded", "pending"):
            refunded[str(r["payment_intent"])] += _minor(r["amount"], str(r["currency"]))
    return [GatewayPaymentFact(intent_id=str(i["id"]), currency=str(i["currency"]).upper(),
                               received=_minor(i.get("amount_received") or 0, str(i["currency"])),
                               refunded=refunded[str(i["id"])])
            for i in await ctx.vendors.gateway_all("payment_intents") if i.get("status") == "succeeded"]


def _minor(amount: Any, currency: str) -> Decimal:
    from .expected import MINOR_UNITS

    return money(Decimal(int(amount)).scaleb(-MINOR_UNITS.get(currency.upper(), 2)), currency.upper())


async def _read_tax_documents(ctx: RunContext) -> dict[str, TaxDocumentFact]:
    """The tax service's documents (AvaTax transactions with lines and summary), by code, as it answers them."""
    out = {}
    for d in await ctx.vendors.tax_documents():
        juris: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for row in d.get("summary") or []:
            juris[str(row.get("jurisName"))] += _dec(row.get("tax"))
        out[str(d["code"])] = TaxDocumentFact(
            code=str(d["code"]), status=str(d.get("status")), total_amount=_dec(d.get("totalAmount")),
            total_tax=_dec(d.get("totalTax")), line_tax=tuple(_dec(ln.get("tax")) for ln in d.get("lines") or []),
            jurisdictions=dict(juris))
    return out


def _retainers(sows: list[StatementOfWork], invoices: list[InvoiceEvent], payments: list[Payment],
               applications: list[CashApplication], agreed: dict[str, Decimal]) -> list[RetainerFact]:
    """Invariant 6 from NetSuite: per retainer plan, the retainer invoice (the one billing the retainer itself),
    receipts = payments applied to it, and per later invoice the drawdown (its negative retainer lines) beside the
    time it bills; the stated balance is what the last drawdown line says is left."""
    out = []
    paid_on = {p.payment_id: p.received_on for p in payments}
    for sow in sows:
        plan = sow.billing_plan
        if not isinstance(plan, RetainerPlan):
            continue
        invs = sorted((i for i in invoices if i.engagement_id == sow.engagement_id and i.status != "void"),
                      key=lambda i: (i.invoice_date, int(i.xref["netsuite"])))
        retainer_invoices = [i for i in invs if i.invoice_id.upper().endswith("-RETAINER")]
        events: list[tuple[date, int, str, RetainerEvent]] = []
        for app in applications:
            for a in app.applications:
                if a.invoice_id in {i.invoice_id for i in retainer_invoices}:
                    events.append((paid_on.get(app.payment_id, date.min), 0, app.payment_id,
                                   RetainerEvent(ref=app.payment_id, kind="receipt", amount=a.amount)))
        stated: Decimal | None = None
        for i in invs:
            if i in retainer_invoices:
                continue
            drawn = [ln for ln in i.lines if ln.kind == "retainer_drawdown"]
            time_billed = total(ln.amount for ln in i.lines if ln.kind == "time")
            if drawn or time_billed:
                events.append((i.invoice_date, 1, i.invoice_id, RetainerEvent(
                    ref=i.invoice_id, kind="drawdown", amount=-total(ln.amount for ln in drawn), covers=time_billed)))
            for ln in drawn:
                m = BALANCE_RE.search(ln.description)
                stated = Decimal(m["after"]) if m else stated
        events.sort(key=lambda e: e[:3])
        out.append(RetainerFact(retainer_id=plan.billing_plan_id, currency=sow.currency,
                                events=[e[3] for e in events], stated_balance=stated,
                                agreed_amount=agreed.get(sow.engagement_id, plan.retainer_amount),
                                invoiced_amount=total(i.net_total for i in retainer_invoices)
                                if retainer_invoices else None))
    return out


def _invoice(rec: dict[str, Any], subs: dict[str, str | None], customers: dict[str, str | None],
             jobs: dict[str, str | None], engagement_in: Any) -> InvoiceEvent | None:
    memo = MEMO_RE.search(rec.get("memo") or "")
    engagement = jobs.get(_ref(rec.get("job")) or "") or engagement_in(rec.get("memo"))
    if memo is None or engagement is None:
        return None  # not an invoice the core issued for one of the scenario's engagements
    currency = _ref_name(rec.get("currency")) or "USD"
    lines = []
    for n, ln in enumerate(_lines(rec, "item"), start=1):
        m = LINE_RE.search(ln.get("description") or "")
        lines.append(InvoiceLine(line_id=f"{memo['invoice']}-{n}", kind=m["kind"] if m else "adjustment",
                                 description=ln.get("description") or "", quantity=_dec(ln.get("quantity")),
                                 unit_price=_dec(ln.get("rate")), amount=_dec(ln.get("amount")),
                                 source_ids=[s for s in (m["sources"].split(",") if m else []) if s],
                                 contract_version=int(m["version"]) if m else int(memo["version"])))
    rate, tax = _dec(rec.get("taxRate")), _dec(rec.get("taxTotal"))
    return InvoiceEvent(
        correlation_id=f"ns-invoice-{rec['id']}", xref={"netsuite": str(rec["id"]),
                                                        "netsuite_tran_id": str(rec.get("tranId") or rec["id"])},
        invoice_id=memo["invoice"], sow_id=engagement, engagement_id=engagement,
        client_id=customers.get(_ref(rec.get("entity")) or "") or "",
        contracting_entity_id=subs.get(_ref(rec.get("subsidiary")) or "") or "", invoice_date=_day(rec["tranDate"]),
        currency=currency, contract_version=int(memo["version"]), lines=_with_tax(lines, rate, tax, currency),
        net_total=_dec(rec.get("subtotal")), tax_total=tax, gross_total=_dec(rec.get("total")),
        status=invoice_status(rec),  # type: ignore[arg-type]
        booking_fx_rate=_dec(rec["exchangeRate"]) if rec.get("exchangeRate") is not None else None)


def _with_tax(lines: list[InvoiceLine], rate: Decimal, header_tax: Decimal, currency: str) -> list[InvoiceLine]:
    """NetSuite states one tax rate per invoice and computes the tax on the subtotal: a line's share is its amount
    at that rate, the rounding residue on the largest line (invariant 11 checks the header against the rules)."""
    if not lines:
        return lines
    taxes = [money(ln.amount * rate / 100, currency) for ln in lines]
    big = max(range(len(lines)), key=lambda i: lines[i].amount)
    taxes[big] += header_tax - total(taxes)
    code = "STANDARD" if rate > 0 else "NONE"
    return [ln.model_copy(update={"tax_amount": t, "tax_code": code}) for ln, t in zip(lines, taxes)]


def check_expectations(ctx: RunContext, bundle: FactBundle, expect: Expectations) -> list[str]:
    """The scenario's golden expectations, exactly (Decimal), against what the vendors hold."""
    out: list[str] = []
    by_period: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for e in expect.invoices:
        if e.period is not None:
            by_period[(e.engagement, e.period)].append(e)
    for (eng, period), wanted in sorted(by_period.items()):
        got = [i for i in bundle.invoices_by_engagement.get(eng, []) if i.invoice_date.isoformat()[:7] == period]
        if len(got) != len(wanted):
            out.append(f"engagement {eng}, {period}: expected {len(wanted)} invoice(s) in NetSuite, found {len(got)} "
                       f"({', '.join(i.invoice_id for i in got) or 'none'})")
        for n, (e, inv) in enumerate(zip(wanted, got), start=1):
            facts = {"net": inv.net_total, "tax": inv.tax_total, "gross": inv.gross_total, "currency": inv.currency,
                     "subsidiary": bundle.subsidiary_of.get(inv.invoice_id), "lines": len(inv.lines),
                     "status": inv.status}
            for name, actual in facts.items():
                want = getattr(e, name)
                if want is not None and want != actual:
                    out.append(f"engagement {eng}, {period} invoice {n} ({inv.invoice_id}): expected {name} {want}, "
                               f"NetSuite shows {actual}")
            if e.jurisdictions is not None:
                doc = (bundle.facts.tax_documents or {}).get(inv.invoice_id)
                got_j = {k: v for k, v in (doc.jurisdictions if doc else {}).items()}
                if got_j != dict(e.jurisdictions):
                    out.append(f"engagement {eng}, {period} invoice {n} ({inv.invoice_id}): expected tax by "
                               f"jurisdiction {dict(e.jurisdictions)}, the tax service holds "
                               f"{got_j if doc else 'no document'}")
    for e in expect.invoices:
        invs = [i for i in bundle.invoices_by_engagement.get(e.engagement, []) if i.status != "void"]
        if e.count is not None and len(invs) != e.count:
            out.append(f"engagement {e.engagement}: expected {e.count} invoice(s) in NetSuite, found {len(invs)} "
                       f"({', '.join(i.invoice_id for i in invs) or 'none'})")
        if e.period is None:
            if e.net is not None and total(i.net_total for i in invs) != e.net:
                out.append(f"engagement {e.engagement}: expected invoiced net {e.net}, NetSuite shows "
                           f"{total(i.net_total for i in invs)}")
            if e.currency is not None and any(i.currency != e.currency for i in invs):
                out.append(f"engagement {e.engagement}: expected currency {e.currency}, NetSuite shows "
                           f"{sorted({i.currency for i in invs})}")
            if e.status is not None and any(i.status != e.status for i in invs):
                out.append(f"engagement {e.engagement}: expected every invoice {e.status!r}, NetSuite shows "
                           f"{[(i.invoice_id, i.status) for i in invs]}")
    for eng in sorted({p.engagement for p in expect.payments}):
        wanted = [p for p in expect.payments if p.engagement == eng]
        got = bundle.payments_by_engagement.get(eng, [])
        if len(got) != len(wanted):
            out.append(f"engagement {eng}: expected {len(wanted)} payment(s) applied in NetSuite, found {len(got)}")
        for n, (e, app) in enumerate(zip(wanted, got), start=1):
            actual = {"applied": total(a.amount for a in app.applications), "unapplied": app.unapplied}
            for name, value in actual.items():
                want = getattr(e, name)
                if want is not None and want != value:
                    out.append(f"engagement {eng}, payment {n} ({app.payment_id}): expected {name} {want}, NetSuite "
                               f"shows {value}")
    rows = {(r.sow_id, r.closed): r for r in bundle.facts.revenue}
    for e in expect.revenue:
        r = rows.get((e.engagement, e.period))
        if r is None:
            out.append(f"engagement {e.engagement}: expected revenue-recognition inputs for {e.period}, the core "
                       "exported none")
            continue
        got = {"percent_complete": (r.cost_to_date / r.estimate_at_completion * 100).quantize(Decimal("0.0001"))
               if r.estimate_at_completion else None, "cumulative": r.cumulative, "period_revenue": r.period,
               "contract_asset": r.contract_asset, "contract_liability": r.contract_liability}
        for name, value in got.items():
            want = getattr(e, name)
            if want is not None and want != value:
                out.append(f"engagement {e.engagement}, {e.period} revenue inputs: expected {name} {want}, the "
                           f"export shows {value}")
    invoice_period = {i.invoice_id: i.invoice_date.isoformat()[:7] for i in bundle.facts.invoices}
    for eng in sorted({c.engagement for c in expect.credit_memos}):
        wanted = [c for c in expect.credit_memos if c.engagement == eng]
        got = bundle.credit_memos_by_engagement.get(eng, [])
        if len(got) != len(wanted):
            out.append(f"engagement {eng}: expected {len(wanted)} credit memo(s) in NetSuite, found {len(got)}")
        for n, (e, cm) in enumerate(zip(wanted, got), start=1):
            actual = {"amount": cm.amount, "currency": cm.currency, "credits_period": invoice_period.get(cm.invoice_id)}
            for name, value in actual.items():
                want = getattr(e, name)
                if want is not None and want != value:
                    out.append(f"engagement {eng}, credit memo {n} ({cm.credit_memo_id}): expected {name} {want}, "
                               f"NetSuite shows {value}")
    contracts = {c.sow_id: c for c in bundle.facts.contracts}
    sows = {s.sow_id: s for s in bundle.facts.statements_of_work}
    for c in expect.contracts:
        fact, sow = contracts.get(c.engagement), sows.get(c.engagement)
        seen = {"baseline (signed quote)": fact.signed_baseline if fact else None,
                "baseline (NetSuite contract)": fact.kept_baseline if fact else None,
                "value (NetSuite contract)": fact.erp_value if fact else None,
                "value (PSA project)": fact.psa_value if fact else None,
                "version (PSA project)": sow.current.version if sow else None}
        for name, actual in seen.items():
            want = c.version if name.startswith("version") else c.value if name.startswith("value") else c.baseline
            if want is not None and want != actual:
                out.append(f"engagement {c.engagement}: expected contract {name} {want}, found {actual}")
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
    return out


def one_to_one(bundle: FactBundle) -> Tally:
    """Invariant 14: each business object stands for one record in each system (no duplicate project, customer or
    time bill), whatever retries, replays and redeliveries happened."""
    t = Tally("14.xref_one_to_one")
    for what, records in sorted(bundle.records_of.items()):
        if records or what.endswith("PSA project") or what.endswith("NetSuite project"):
            t.same(1, len(records), f"{what}: {len(records)} record(s) {sorted(records)}", *sorted(records))
    return t


async def integration_results(ctx: RunContext, bundle: FactBundle) -> list[InvariantResult]:
    """Invariant 14: replays left the vendors unchanged (compared by the replay steps), one record per business
    object, and what the core's driver can show (audit chain, each business event taken once)."""
    replay = Tally("14.replay_idempotent")
    for check in ctx.replay_checks:
        replay.check(check.before == check.after, f"replaying {check.what} changed the vendors' records",
                     check.before_summary, check.after_summary, *check.changed)
        for system in ctx.vendors.clients:
            made = check.writes.get(system, [])
            replay.check(not made, f"replaying {check.what} wrote to {system} again: {', '.join(made[:5])}",
                         "no write", len(made), system)
    return [result_of(replay), result_of(one_to_one(bundle)), *await ctx.core.integration_results(ctx)]


def selected_invariants(scenario: Scenario) -> set[str]:
    from .scenario import INVARIANT_NAMES

    return set(INVARIANT_NAMES) if scenario.invariants == "all" else set(scenario.invariants)
