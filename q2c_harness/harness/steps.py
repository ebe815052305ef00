"""What each scenario step does. Vendor-side steps act through the vendors' public APIs as the people would (sales
in Salesforce, the delivery team in the PSA, accounts receivable in NetSuite); core-side steps call the core's
runtime (`core.CoreDriver`). `provision` loads a scenario's master data into the vendors before the first step.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from q2c_harness.canonical import Milestone

from . import fault_counts
from . import scenario as sc
from .masterdata import World
from .vendors import VendorSession, cents, psa_first

if TYPE_CHECKING:
    from .core import CoreDriver

UTC = timezone.utc


class ExpectationFailed(AssertionError):
    pass


@dataclass
class EngagementRefs:
    spec: sc.CloseQuote
    sf_account: str | None = None
    sf_opportunity: str | None = None
    sf_quote: str | None = None
    workspace: str | None = None
    milestones: dict[str, Milestone] = field(default_factory=dict)  # scenario id -> canonical (planned)
    psa_milestones: dict[str, str] = field(default_factory=dict)  # scenario id -> PSA billing_milestone id
    change_orders: list[sc.SignChangeOrder] = field(default_factory=list)


@dataclass(frozen=True)
class ReplayCheck:
    """The vendors' records before and after a replay step (invariant 14: replaying changes nothing)."""

    what: str
    before: dict[str, Any]
    after: dict[str, Any]
    writes: dict[str, list[str]] = field(default_factory=dict)  # system -> the writes the core made meanwhile

    @property
    def changed(self) -> list[str]:
        return sorted(k for k in self.before.keys() | self.after.keys() if self.before.get(k) != self.after.get(k))

    @property
    def before_summary(self) -> dict[str, Any]:
        return {k: self.before.get(k) for k in self.changed}

    @property
    def after_summary(self) -> dict[str, Any]:
        return {k: self.after.get(k) for k in self.changed}


@dataclass
class RunContext:
    scenario: sc.Scenario
    world: World
    vendors: VendorSession
    core: CoreDriver
    now: datetime
    engagements: dict[str, EngagementRefs] = field(default_factory=dict)
    psa_users: dict[str, str] = field(default_factory=dict)  # person -> PSA user id
    psa_roles: dict[str, str] = field(default_factory=dict)  # role name -> PSA role id
    psa_rate_cards: dict[str, str] = field(default_factory=dict)
    ns_ids: dict[str, dict[str, str]] = field(default_factory=dict)  # record type -> key -> internal id
    pm_user: str | None = None
    notes: list[str] = field(default_factory=list)
    fault_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # event-feed rules' counters, harvested
    replay_checks: list[ReplayCheck] = field(default_factory=list)
    written_off: dict[str, set[str]] = field(default_factory=dict)  # engagement -> PSA entries written off
    card_payments: dict[str, list[str]] = field(default_factory=dict)  # engagement -> gateway payment intent ids

    def workspace(self, engagement: str) -> str:
        ws = self.engagements[engagement].workspace
        if ws is None:
            raise ExpectationFailed(f"engagement {engagement} has no PSA workspace yet: did the core create the "
                                    f"project (a sync step after close_quote)?")
        return ws


# ---- master data ------------------------------------------------------------------------------------------------
async def provision(ctx: RunContext) -> None:
    """Master data into the vendors, as each firm's admins would have set it up (idempotent per tenant)."""
    v, w = ctx.vendors, ctx.world
    # PSA: roles, people, rate cards with their versions, a project manager
    roles = sorted({p.role for p in w.people.values()} | {r.role for c in w.rate_cards.values() for x in c.versions
                                                            for r in x.rates})
    for role in roles:
        ctx.psa_roles[role] = psa_first(await v.psa("POST", "roles.json", {"role": {"name": role}}))["id"]
    pm = await v.psa("POST", "users.json", {"user": {"full_name": "Project Manager", "email_address":
                                                     "pm@example.com", "region": "GLOBAL"}})
    ctx.pm_user = psa_first(pm)["id"]
    for p in w.people.values():
        body = {"user": {"full_name": p.full_name, "email_address": p.email, "role_id": int(ctx.psa_roles[p.role]),
                         "region": p.region, "legal_entity": p.entity}}
        ctx.psa_users[p.id] = psa_first(await v.psa("POST", "users.json", body))["id"]
    await _provision_fx(ctx)
    if ctx.scenario.master_data.payment_gateway and "payments" in v.clients:
        # the scenario's clock stands still between steps, so a per-second bucket would never refill: the gateway's
        # 25/s is kept as a burst the whole scenario may not exceed 10,000 times over
        r = await v.clients["payments"].put("/__admin/quotas", json={
            "name": "requests", "kind": "token_bucket", "limit": 10_000, "rate_per_second": 25, "path": "/v1/*"})
        r.raise_for_status()
    for card in w.rate_cards.values():
        currency = card.versions[0].currency
        rc = psa_first(await v.psa("POST", "rate_cards.json", {"rate_card": {"title": card.rate_card_id,
                                                                             "currency": currency}}))
        ctx.psa_rate_cards[card.rate_card_id] = rc["id"]
        for version in card.versions:
            await _publish_psa_version(ctx, card.rate_card_id, version.effective_from,
                                       [(r.role, r.region, r.rate) for r in version.rates])
    await ctx.core.provisioned(ctx)


async def _provision_fx(ctx: RunContext) -> None:
    """Finance keeps the scenario's exchange rates in NetSuite (currency rate records, by effective date): the
    books the checker converts with. Currencies NetSuite does not have yet are skipped (nothing can be booked in
    them)."""
    if not ctx.world.fx or "netsuite" not in ctx.vendors.clients:
        return
    ids = {str(r.get("symbol") or r.get("name")): str(r["id"])
           for r in await ctx.vendors.suiteql("SELECT id, symbol, name FROM currency ORDER BY id")}
    for (rate_type, src, dst, day), rate in sorted(ctx.world.fx.items()):
        if rate_type == "corporate" and src in ids and dst in ids:
            await ctx.vendors.ns_upsert("currencyRate", f"SCENARIO-FX-{src}-{dst}-{day.isoformat()}", {
                "baseCurrency": {"id": ids[dst]}, "transactionCurrency": {"id": ids[src]}, "exchangeRate": str(rate),
                "effectiveDate": day.isoformat()})


async def _publish_psa_version(ctx: RunContext, card_id: str, effective: date,
                               rates: list[tuple[str, str, Decimal]]) -> None:
    body = {"rate_card_version": {"rate_card_id": int(ctx.psa_rate_cards[card_id]), "effective_date":
                                  effective.isoformat(),
                                  "rates": [{"role_id": int(ctx.psa_roles[role]), "region": region,
                                             "rate_in_cents": cents(rate)} for role, region, rate in rates]}}
    await ctx.vendors.psa("POST", "rate_card_versions.json", body)


# ---- clock ------------------------------------------------------------------------------------------------------
async def set_clock(ctx: RunContext, instant: datetime) -> None:
    for system in ctx.vendors.clients:
        await ctx.vendors.admin(system).set_clock(instant, freeze=True)
    ctx.now = instant
    await ctx.vendors.mint_netsuite_token()
    await ctx.core.clock_moved(instant)


def month_end(now: datetime) -> datetime:
    last = calendar.monthrange(now.year, now.month)[1]
    return datetime(now.year, now.month, last, 23, 55, tzinfo=UTC)


async def advance_clock(ctx: RunContext, st: sc.AdvanceClock) -> str:
    if st.by_seconds is not None:
        target = ctx.now + timedelta(seconds=st.by_seconds)
    elif st.to == "month_end":
        target = month_end(ctx.now)
    elif isinstance(st.to, datetime):
        target = st.to if st.to.tzinfo else st.to.replace(tzinfo=UTC)
    else:
        target = datetime.combine(st.to, time(18, 0), tzinfo=UTC)  # type: ignore[arg-type]
    if target < ctx.now:
        raise ExpectationFailed(f"advance_clock goes backwards: {target.isoformat()} < {ctx.now.isoformat()}")
    # a served core polls every few seconds: time does not pass without it reading the feeds (the PSA keeps its
    # events 9 days on the virtual clock, so a core that slept through the month would miss them)
    polled = await ctx.core.time_passes(ctx)
    await set_clock(ctx, target)
    return f"clock {target.isoformat()}" + (f" (core polled: {polled})" if polled else "")


# ---- faults -----------------------------------------------------------------------------------------------------
def fault_rules(profile: str | None, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if profile:
        out += sc.load_fault_profile(profile).get("faults", [])
    return out + list(rules)


async def apply_faults(ctx: RunContext, rules: list[dict[str, Any]], seed: int) -> int:
    await fault_counts.harvest(ctx.vendors, ctx.fault_counts)  # the rules replaced take their counters with them
    by_sim: dict[str, list[dict[str, Any]]] = {name: [] for name in ctx.vendors.clients}
    for i, rule in enumerate(rules):
        rule = {"id": rule.get("id", f"rule-{i}"), **rule}
        targets = [rule["simulator"]] if rule.get("simulator") else list(by_sim)
        for t in targets:
            if t in by_sim:
                by_sim[t].append(rule)
    for name, rs in by_sim.items():
        await ctx.vendors.admin(name).load_faults({"seed": seed, "faults": rs})
    return len(rules)


async def set_faults(ctx: RunContext, st: sc.SetFaults) -> str:
    n = await apply_faults(ctx, fault_rules(st.profile, st.rules), ctx.scenario.seed)
    return f"{n} fault rule(s)"


# ---- delivery team (PSA) ----------------------------------------------------------------------------------------
def _persons(value: str | list[str] | None, refs: EngagementRefs) -> list[str]:
    if value is None:
        return [m if isinstance(m, str) else m.person for m in refs.spec.team]
    return [value] if isinstance(value, str) else list(value)


def _weekdays(start: date, end: date) -> list[date]:
    days, d = [], start
    while d <= end:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


async def log_time(ctx: RunContext, st: sc.LogTime) -> str:
    ws = ctx.workspace(st.engagement)
    lines = st.entries or [sc.TimeLine(day=d, hours=st.hours, billable=st.billable) for d in _weekdays(*st.every_weekday)]  # type: ignore[misc]
    n = 0
    for person in _persons(st.person, ctx.engagements[st.engagement]):
        user = ctx.psa_users[person]
        for line in lines:
            entry: dict[str, Any] = {"workspace_id": int(ws), "date_performed": line.day.isoformat(),
                                     "time_in_minutes": int(line.hours * 60)}
            if line.billable is not None:
                entry["billable"] = line.billable
            if line.notes:
                entry["notes"] = line.notes
            if line.rate is not None:
                entry["rate_in_cents"] = cents(line.rate)
            await ctx.vendors.psa("POST", "time_entries.json", {"time_entry": entry}, user=user)
            n += 1
    return f"{n} time entries"


async def approve_time(ctx: RunContext, st: sc.ApproveTime) -> str:
    ws = ctx.workspace(st.engagement)
    subs = []
    for person in _persons(st.person, ctx.engagements[st.engagement]):
        body = {"timesheet_submission": {"start_date": st.period[0].isoformat(), "end_date": st.period[1].isoformat(),
                                         "workspace_id": int(ws)}}
        subs.append(psa_first(await ctx.vendors.psa("POST", "timesheet_submissions.json", body,
                                                    user=ctx.psa_users[person]))["id"])
    verb = "reject" if st.reject else "approve"
    for sid in subs:
        await ctx.vendors.psa("PUT", f"timesheet_submissions/{sid}/{verb}.json", user=ctx.pm_user)
    return f"{len(subs)} timesheet(s) {verb}d"


async def file_expense(ctx: RunContext, st: sc.FileExpense) -> str:
    ws = ctx.workspace(st.engagement)
    exp: dict[str, Any] = {"workspace_id": int(ws), "date": st.day.isoformat(), "category": st.category,
                           "amount_in_cents": cents(st.amount), "billable": st.billable}
    if st.currency:
        exp["currency"] = st.currency
    rec = psa_first(await ctx.vendors.psa("POST", "expenses.json", {"expense": exp}, user=ctx.psa_users[st.person]))
    return f"expense {rec['id']} {st.amount} {rec.get('currency')}"


async def approve_expenses(ctx: RunContext, st: sc.ApproveExpenses) -> str:
    ws = ctx.workspace(st.engagement)
    sub = psa_first(await ctx.vendors.psa("POST", "expense_report_submissions.json",
                                          {"expense_report_submission": {"workspace_id": int(ws)}},
                                          user=ctx.psa_users[st.person]))
    verb = "reject" if st.reject else "approve"
    await ctx.vendors.psa("PUT", f"expense_report_submissions/{sub['id']}/{verb}.json", user=ctx.pm_user)
    return f"expense report {sub['id']} {verb}d"


async def _milestone_id(ctx: RunContext, engagement: str, milestone: str) -> str:
    refs = ctx.engagements[engagement]
    if milestone in refs.psa_milestones:
        return refs.psa_milestones[milestone]
    ws = ctx.workspace(engagement)
    name = refs.milestones[milestone].name if milestone in refs.milestones else milestone
    for rec in await ctx.vendors.psa_all("billing_milestones", {"workspace_id": ws}):
        if rec["title"] == name:
            refs.psa_milestones[milestone] = rec["id"]
            return rec["id"]
    raise ExpectationFailed(f"engagement {engagement}: no PSA billing milestone titled {name!r} (did the core create "
                            f"the billing plan's milestones?)")


async def accept_milestone(ctx: RunContext, st: sc.AcceptMilestone) -> str:
    mid = await _milestone_id(ctx, st.engagement, st.milestone)
    await ctx.vendors.psa("PUT", f"billing_milestones/{mid}/accept.json", user=ctx.pm_user)
    return f"milestone {st.milestone} (PSA {mid}) accepted"


async def reject_milestone(ctx: RunContext, st: sc.RejectMilestone) -> str:
    mid = await _milestone_id(ctx, st.engagement, st.milestone)
    await ctx.vendors.psa("PUT", f"billing_milestones/{mid}/reject.json", {"reason": st.reason}, user=ctx.pm_user)
    return f"milestone {st.milestone} (PSA {mid}) rejected: {st.reason}"


async def publish_rate_card_version(ctx: RunContext, st: sc.PublishRateCardVersion) -> str:
    v = st.version
    await _publish_psa_version(ctx, st.rate_card, v.effective_from, [(r.role, r.region, r.rate) for r in v.rates])
    ctx.world.add_rate_card_version(st.rate_card, v)
    await ctx.core.rate_cards_changed(ctx)
    return f"rate card {st.rate_card} v{v.version} from {v.effective_from}"


# ---- sales (Salesforce) -----------------------------------------------------------------------------------------
async def close_quote(ctx: RunContext, st: sc.CloseQuote) -> str:
    """Sales: the Account, an Opportunity with its primary CPQ quote and lines, then Closed Won."""
    refs = EngagementRefs(spec=st)
    ctx.engagements[st.engagement] = refs
    for m in st.milestones:
        refs.milestones[m.id] = Milestone(correlation_id=f"scenario-{st.engagement}", milestone_id=m.id,
                                          sow_id=st.engagement, name=m.name, amount=m.amount, due_date=m.due)
    v, client = ctx.vendors, ctx.world.clients[st.client]
    existing = [e for e in ctx.engagements.values() if e.spec.client == st.client and e.sf_account]
    if existing:
        refs.sf_account = existing[0].sf_account
    else:
        acc = {"Name": client.name, "BillingCountry": client.country, "CurrencyIsoCode": client.billing_currency}
        if client.address:  # the billing address, as sales keeps it on the Account
            a = client.address
            acc.update({k: v for k, v in (("BillingStreet", a.line1), ("BillingCity", a.city),
                                          ("BillingState", a.region), ("BillingPostalCode", a.postal_code)) if v})
        if client.vat_id:
            acc["VAT_Number__c"] = client.vat_id
        refs.sf_account = (await v.sf("POST", "/sobjects/Account/", acc))["id"]
    name = st.name or f"{client.name} - {st.engagement}"
    opp: dict[str, Any] = {"Name": name[:120], "AccountId": refs.sf_account, "StageName": "Negotiation/Review",
                           "CloseDate": ctx.now.date().isoformat(), "Amount": float(st.value),
                           "CurrencyIsoCode": st.currency}
    if st.billing == "retainer":  # the integration's custom field: the retainer paid up front (Usage lines bill time)
        opp["Q2C_Retainer_Amount__c"] = float(st.retainer_amount or st.value)
    # the contract's T&M terms, as sales records them on the opportunity (the integration's custom fields)
    if st.rate_card:
        opp["Q2C_Rate_Card__c"] = st.rate_card
    if st.fx_policy:
        opp["Q2C_FX_Rate_Type__c"], opp["Q2C_FX_Rate_Date_Rule__c"] = st.fx_policy.rate_type, st.fx_policy.rate_date_rule
    if st.not_to_exceed is not None:
        opp["Q2C_Not_To_Exceed__c"] = float(st.not_to_exceed)
    refs.sf_opportunity = (await v.sf("POST", "/sobjects/Opportunity/", opp))["id"]
    refs.sf_quote = (await v.sf("POST", "/sobjects/SBQQ__Quote__c/", {
        "SBQQ__Opportunity2__c": refs.sf_opportunity, "SBQQ__Account__c": refs.sf_account, "SBQQ__Primary__c": True,
        "SBQQ__Status__c": "Approved", "SBQQ__StartDate__c": st.start.isoformat(),
        "SBQQ__EndDate__c": st.end.isoformat(), "SBQQ__NetAmount__c": float(st.value),
        "CurrencyIsoCode": st.currency}))["id"]
    if st.billing == "fixed_fee":
        lines = [{"SBQQ__Description__c": m.name, "SBQQ__Quantity__c": 1, "SBQQ__NetPrice__c": float(m.amount),
                  "SBQQ__NetTotal__c": float(m.amount), "SBQQ__ChargeType__c": "One-Time",
                  "SBQQ__EndDate__c": m.due.isoformat()} for m in st.milestones]
    elif st.billing == "recurring_fee":  # CPQ: a subscription line billed monthly over the quote's term
        lines = [{"SBQQ__Description__c": f"{name} managed services"[:255], "SBQQ__Quantity__c": 1,
                  "SBQQ__NetPrice__c": float(st.monthly_fee or st.value), "SBQQ__NetTotal__c": float(st.value),
                  "SBQQ__ChargeType__c": "Recurring", "SBQQ__BillingFrequency__c": "Monthly",
                  "SBQQ__StartDate__c": st.start.isoformat(), "SBQQ__EndDate__c": st.end.isoformat()}]
    else:
        lines = [{"SBQQ__Description__c": f"{name} professional services"[:255], "SBQQ__Quantity__c": 1,
                  "SBQQ__NetPrice__c": float(st.value), "SBQQ__NetTotal__c": float(st.value),
                  "SBQQ__ChargeType__c": "Usage", "SBQQ__StartDate__c": st.start.isoformat(),
                  "SBQQ__EndDate__c": st.end.isoformat()}]
    for u in st.usage:  # CPQ: a Usage line billed monthly in arrears, priced per unit, no quantity up front
        lines.append({"SBQQ__Description__c": u.item[:255], "SBQQ__Quantity__c": 0, "SBQQ__NetPrice__c": float(u.unit_price),
                      "SBQQ__NetTotal__c": 0, "SBQQ__ChargeType__c": "Usage", "SBQQ__BillingType__c": "Arrears",
                      "SBQQ__BillingFrequency__c": "Monthly", "SBQQ__StartDate__c": st.start.isoformat(),
                      "SBQQ__EndDate__c": st.end.isoformat()})
    for line in lines:
        await v.sf("POST", "/sobjects/SBQQ__QuoteLine__c/", {"SBQQ__Quote__c": refs.sf_quote, **line})
    await v.sf("PATCH", f"/sobjects/Opportunity/{refs.sf_opportunity}", {"StageName": "Closed Won"})
    return f"opportunity {refs.sf_opportunity} Closed Won, quote {refs.sf_quote} ({len(lines)} line(s))"


async def sign_change_order(ctx: RunContext, st: sc.SignChangeOrder) -> str:
    refs = ctx.engagements[st.engagement]
    refs.change_orders.append(st)
    for m in st.milestones:
        refs.milestones[m.id] = Milestone(correlation_id=f"scenario-{st.engagement}", milestone_id=m.id,
                                          sow_id=st.engagement, name=m.name, amount=m.amount, due_date=m.due)
    return await ctx.core.sign_change_order(ctx, refs, st)


async def receive_payment(ctx: RunContext, st: sc.ReceivePayment) -> str:
    return await ctx.core.receive_payment(ctx, st)


async def _open_invoices(ctx: RunContext, engagement: str) -> list[tuple[str, Decimal]]:
    """(invoice id as the client sees it on the invoice, amount still open) of an engagement, oldest first."""
    import re

    opp = (ctx.engagements[engagement].sf_opportunity or "").upper()
    jobs = [str(r["id"]) for r in await ctx.vendors.suiteql("SELECT id, externalid FROM job ORDER BY id")
            if opp and opp in str(r.get("externalid") or "").upper()]
    out = []
    for job in jobs:
        for row in await ctx.vendors.suiteql(f"SELECT id FROM invoice WHERE job = {job} ORDER BY id"):
            rec = await ctx.vendors.ns_get("invoice", str(row["id"]), expand=False)
            m = re.search(r"q2c invoice (\S+)", rec.get("memo") or "")
            left = Decimal(str(rec.get("amountRemaining", rec.get("total")) or 0))
            if m and left > 0:
                out.append((m[1], left))
    return out


async def pay_by_card(ctx: RunContext, st: sc.PayByCard) -> str:
    """The client pays on the gateway's pay-by-link page: the invoices it settles travel in the intent's metadata."""
    invoices = await _open_invoices(ctx, st.engagement)
    if not invoices:
        raise ExpectationFailed(f"engagement {st.engagement} has no open invoice in NetSuite to pay")
    amount = sum((a for _, a in invoices), Decimal(0)) if st.amount == "full" else Decimal(st.amount)
    refs = ctx.engagements[st.engagement]
    intent = await ctx.vendors.gateway("POST", "/v1/payment_intents", {
        "amount": cents(amount), "currency": refs.spec.currency.lower(), "payment_method": "pm_card_visa",
        "confirm": True, "description": f"{st.engagement} invoices {', '.join(i for i, _ in invoices)}",
        "metadata": {"q2c_invoices": ",".join(i for i, _ in invoices), "q2c_client": refs.spec.client,
                     "q2c_pay_seq": len(ctx.card_payments.get(st.engagement, [])) + 1}})
    ctx.card_payments.setdefault(st.engagement, []).append(intent["id"])
    return f"card payment {intent['id']} of {amount} {refs.spec.currency}: {intent['status']}"


async def refund_payment(ctx: RunContext, st: sc.RefundPayment) -> str:
    intents = ctx.card_payments.get(st.engagement, [])
    if not intents:
        raise ExpectationFailed(f"engagement {st.engagement} has no card payment to refund")
    intent_id = intents[(st.payment or len(intents)) - 1]
    params: dict[str, Any] = {"payment_intent": intent_id, "reason": st.reason}
    if st.amount != "full":
        params["amount"] = cents(Decimal(st.amount))
    refund = await ctx.vendors.gateway("POST", "/v1/refunds", params)
    return f"refund {refund['id']} of {refund['amount']} cents on {intent_id}: {refund['status']}"


async def deliver_webhooks(ctx: RunContext, st: sc.DeliverWebhooks) -> str:
    r = await ctx.vendors.clients["payments"].post("/__admin/payments/webhooks/deliver", json={})
    r.raise_for_status()
    return f"{r.json()['attempts']} webhook delivery attempt(s)"


# ---- the core ---------------------------------------------------------------------------------------------------
async def sync(ctx: RunContext, st: sc.Sync) -> str:
    return await ctx.core.sync(ctx, st.rounds)


async def billing_run(ctx: RunContext, st: sc.BillingRun) -> str:
    return await ctx.core.billing_run(ctx, st)


async def vendor_records(ctx: RunContext) -> dict[str, Any]:
    """What finance and delivery see in the vendors, compared across a replay: NetSuite invoices with their lines,
    time bills, payments, credit memos and contracts; PSA projects, milestones and budget change orders; Salesforce quotes and
    the opportunities' status fields."""
    v = ctx.vendors
    out: dict[str, Any] = {
        "netsuite invoices": await v.suiteql("SELECT id, externalid, total, memo FROM invoice ORDER BY id"),
        "netsuite invoice lines": await v.suiteql("SELECT invoice, line, amount FROM invoice_item ORDER BY invoice, "
                                                  "line"),
        "netsuite time bills": await v.suiteql("SELECT id, externalid, hours, rate FROM timebill ORDER BY id"),
        "netsuite payments": await v.suiteql("SELECT id, payment FROM customerpayment ORDER BY id"),
        "netsuite credit memos": await v.suiteql("SELECT id, externalid, total, memo FROM creditmemo ORDER BY id"),
        "netsuite contracts": await v.suiteql("SELECT id, externalid, memo FROM salesorder ORDER BY id"),
    }
    for resource in ("workspaces", "billing_milestones", "budget_change_orders"):
        out[f"psa {resource}"] = sorted((str(r["id"]), str(r.get("price_in_cents", r.get("amount_in_cents"))))
                                        for r in await v.psa_all(resource))
    for name, refs in sorted(ctx.engagements.items()):
        if refs.sf_opportunity:
            out[f"salesforce {name} quotes"] = await v.sf_query(
                f"SELECT Id, SBQQ__Status__c, SBQQ__NetAmount__c FROM SBQQ__Quote__c WHERE SBQQ__Opportunity2__c = "
                f"'{refs.sf_opportunity}' ORDER BY Id")
    return out


# POSTs that read (NetSuite's SuiteQL) do not count as writes
READ_OPERATIONS = frozenset({"suiteql"})


async def _journal_mark(ctx: RunContext, system: str) -> int:
    r = await ctx.vendors.clients[system].post("/__admin/requests/find", params={"limit": 1}, json={})
    r.raise_for_status()
    return int(r.json()["total"])


async def _writes_since(ctx: RunContext, system: str, mark: int) -> list[str]:
    r = await ctx.vendors.clients[system].post("/__admin/requests/find", params={"limit": 10_000},
                                               json={"since_seq": mark})
    r.raise_for_status()
    return [f"{e['method']} {e['path']}" for e in r.json()["requests"]
            if e["method"] not in ("GET", "HEAD") and e.get("operation") not in READ_OPERATIONS]


async def replay(ctx: RunContext, st: sc.Replay) -> str:
    """Replaying what was already done must change nothing at the vendors and write nothing to them (a rewrite
    touches the record: a Salesforce change event, a new last-modified date another sync picks up)."""
    before = await vendor_records(ctx)
    marks = {s: await _journal_mark(ctx, s) for s in ctx.vendors.clients}
    detail = await ctx.core.replay(ctx, st)
    writes = {s: w for s in ctx.vendors.clients if (w := await _writes_since(ctx, s, marks[s]))}
    after = await vendor_records(ctx)
    check = ReplayCheck(f"{st.day or 'the whole run'} x{st.times}", before, after, writes)
    ctx.replay_checks.append(check)
    return (f"{detail}; vendors {'unchanged' if not check.changed else 'CHANGED: ' + ', '.join(check.changed)}"
            + (f"; {sum(map(len, writes.values()))} write(s) to {', '.join(sorted(writes))}" if writes else
               ", nothing written"))


async def redeliver(ctx: RunContext, st: sc.Redeliver) -> str:
    return await ctx.core.redeliver(ctx, st)


async def resolve_exception(ctx: RunContext, st: sc.ResolveException) -> str:
    return await ctx.core.resolve_exception(ctx, st)


async def dispute_invoice(ctx: RunContext, st: sc.DisputeInvoice) -> str:
    """The disputed entries as the PSA holds them (the person's time on each day), then billing-ops' correction."""
    ws = ctx.workspace(st.engagement)
    wanted = {(ctx.psa_users[w.person], w.day.isoformat()) for w in st.write_off}
    ids = sorted(str(e["id"]) for e in await ctx.vendors.psa_all("time_entries")
                 if str(e["workspace_id"]) == str(ws) and (e["user_id"], str(e["date_performed"])[:10]) in wanted)
    if not ids:
        raise ExpectationFailed(f"engagement {st.engagement}: no PSA time entry of {sorted(wanted)} to write off")
    ctx.written_off.setdefault(st.engagement, set()).update(ids)
    return await ctx.core.dispute_invoice(ctx, st, ids)


async def report_usage(ctx: RunContext, st: sc.ReportUsage) -> str:
    ws = ctx.workspace(st.engagement)
    parent = next((s for s in await ctx.vendors.psa_all("stories", {"workspace_id": ws}) if s["title"] == st.item
                   and not s.get("parent_id")), None)
    if parent is None:
        raise ExpectationFailed(f"engagement {st.engagement}: no PSA story {st.item!r} (did the core create the quote "
                                "line's story?)")
    for n in range(st.count + st.open):
        body = {"story": {"title": f"{st.item} {st.day.isoformat()} #{n + 1}", "workspace_id": int(ws),
                          "parent_id": int(parent["id"]), "story_type": "issue", "due_date": st.day.isoformat(),
                          "state": "completed" if n < st.count else "started"}}
        await ctx.vendors.psa("POST", "stories.json", body, user=ctx.pm_user)
    return f"{st.count} {st.item} completed ({st.open} open) under PSA story {parent['id']}"


async def close_period(ctx: RunContext, st: sc.ClosePeriod) -> str:
    return await ctx.core.close_period(ctx, st)


async def expect(ctx: RunContext, st: sc.Expect) -> str:
    from .facts import check_expectations, read_facts

    bundle = await read_facts(ctx)
    failures = check_expectations(ctx, bundle, sc.Expectations(invoices=st.invoices, exceptions=st.exceptions))
    if failures:
        raise ExpectationFailed("; ".join(failures))
    return "expectations hold"


EXECUTORS = {
    "close_quote": close_quote, "log_time": log_time, "approve_time": approve_time, "file_expense": file_expense,
    "approve_expenses": approve_expenses, "accept_milestone": accept_milestone, "reject_milestone": reject_milestone,
    "sign_change_order": sign_change_order, "publish_rate_card_version": publish_rate_card_version,
    "advance_clock": advance_clock, "sync": sync, "billing_run": billing_run, "receive_payment": receive_payment,
    "pay_by_card": pay_by_card, "refund_payment": refund_payment, "deliver_webhooks": deliver_webhooks,
    "replay": replay, "redeliver": redeliver, "resolve_exception": resolve_exception, "dispute_invoice": dispute_invoice,
    "close_period": close_period, "report_usage": report_usage, "set_faults": set_faults, "expect": expect,
}
assert set(EXECUTORS) == set(sc.STEP_KINDS)


def describe(st: Any) -> str:
    data = st.model_dump(exclude={"kind"}, exclude_defaults=True, mode="json")
    short = ", ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, (list, dict)))
    return f"{st.kind}({short})"
