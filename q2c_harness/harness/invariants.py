"""Domain invariants 1-13 (docs/reference integration-core.md section 4) as executable checks.

Each ``check_*`` takes vendor-neutral facts -- canonical objects as read back from the
vendors, plus a few small fact dataclasses below -- and returns a list of ``Violation``
(empty when the invariant holds). Checks never raise on bad data: a fact that cannot be
evaluated (missing rate, unknown record) is itself reported as a violation.

Usage (scenario runner, load tests)::

    facts = Facts(invoices=[...], time_entries=[...], statements_of_work=[...], ...)
    for v in check_all(facts):
        print(v.invariant, v.message, v.expected, v.actual, v.refs)

Every field of ``Facts`` defaults to empty, so a scenario supplies only what it has; a check
with nothing to look at returns no violations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from q2c_harness.billing import (
    BillingRuleViolation,
    FxRateTable,
    determine_tax,
    fx_rate_date,
    is_valid_vat_id,
    rate_in_force,
    realized_fx_gain_loss,
    round_money,
)
from q2c_harness.billing.change_orders import current_contract_version
from q2c_harness.billing.intercompany import EliminationEntry, IntercompanyEntry
from q2c_harness.billing.time_and_materials import HeldAmount
from q2c_harness.canonical import (
    CashApplication,
    ChangeOrder,
    Client,
    ContractVersion,
    CreditMemo,
    Engagement,
    ExpenseTransaction,
    FixedFeePlan,
    FxPolicy,
    InvoiceEvent,
    LegalEntity,
    Milestone,
    Payment,
    RateCard,
    RetainerPlan,
    StatementOfWork,
    TimeAndMaterialsPlan,
    TimeTransaction,
)

ZERO = Decimal("0")
HUNDRED = Decimal("100")

TM_RATING = "1.tm_rating"
ELIGIBILITY = "2.eligibility_traceability"
SPLITS = "3.billing_splits"
FIXED_FEE = "4.fixed_fee"
CAP = "5.not_to_exceed_cap"
RETAINER = "6.retainers"
CHANGE_ORDERS = "7.change_orders"
REVENUE = "8.revenue_inputs"
FX = "9.fx"
INTERCOMPANY = "10.intercompany"
TAX = "11.tax"
CREDIT_MEMOS = "12.credit_memos"
CASH = "13.cash_application"


@dataclass(frozen=True)
class Violation:
    invariant: str  # e.g. "5.not_to_exceed_cap"
    message: str  # human explanation
    expected: Any
    actual: Any
    refs: list[str]  # record ids involved


# --- small fact types (things the canonical model does not hold as one object) ----------------

@dataclass(frozen=True)
class SplitFact:
    """How one contract-line amount was split across customers."""

    contract_line_id: str
    amount: Decimal
    currency: str
    percents: Mapping[str, Decimal]  # client_id -> percent (100 = all)
    allocated: Mapping[str, Decimal]  # client_id -> amount billed to that client
    residue_client_id: str


@dataclass(frozen=True)
class RetainerEvent:
    ref: str
    kind: str  # "receipt" | "drawdown"
    amount: Decimal


@dataclass(frozen=True)
class RetainerFact:
    """Retainer ledger in time order; ``stated_balance`` is what the ERP reports, if known."""

    retainer_id: str
    currency: str
    events: list[RetainerEvent]
    stated_balance: Decimal | None = None


@dataclass(frozen=True)
class RevenueFact:
    """Revenue inputs for one statement of work and period, as the ERP recorded them."""

    sow_id: str
    currency: str
    price: Decimal
    cost_to_date: Decimal
    estimate_at_completion: Decimal
    prior_cumulative: Decimal
    cumulative: Decimal
    period: Decimal
    billed_to_date: Decimal
    contract_asset: Decimal
    contract_liability: Decimal


@dataclass(frozen=True)
class FxSettlementFact:
    """A foreign-currency receivable and its settlement, as booked."""

    receivable_id: str
    foreign_amount: Decimal
    foreign_currency: str
    functional_currency: str
    booking_date: date
    booking_rate: Decimal
    settlement_rate: Decimal
    recorded_gain_loss: Decimal
    rate_type: str | None = None  # when set and Facts.fx_rates is given, booking_rate must match it


@dataclass
class Facts:
    """Everything the checks may look at. Supply what the scenario has; the rest stays empty."""

    invoices: list[InvoiceEvent] = field(default_factory=list)
    time_entries: list[TimeTransaction] = field(default_factory=list)
    expenses: list[ExpenseTransaction] = field(default_factory=list)
    rate_cards: list[RateCard] = field(default_factory=list)
    fx_rates: FxRateTable | None = None
    engagements: list[Engagement] = field(default_factory=list)
    statements_of_work: list[StatementOfWork] = field(default_factory=list)
    # Baselines as first seen (sow_id -> version 1), to prove the baseline never changed.
    original_baselines: dict[str, ContractVersion] = field(default_factory=dict)
    change_orders: list[ChangeOrder] = field(default_factory=list)
    # Current milestone states; when empty, the milestones inside fixed-fee plans are used.
    milestones: list[Milestone] = field(default_factory=list)
    held: list[HeldAmount] = field(default_factory=list)
    splits: list[SplitFact] = field(default_factory=list)
    retainers: list[RetainerFact] = field(default_factory=list)
    revenue: list[RevenueFact] = field(default_factory=list)
    fx_settlements: list[FxSettlementFact] = field(default_factory=list)
    intercompany: list[IntercompanyEntry] = field(default_factory=list)
    eliminations: list[EliminationEntry] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)
    legal_entities: list[LegalEntity] = field(default_factory=list)
    tax_rates: dict[str, Decimal] = field(default_factory=dict)  # country -> standard rate percent
    credit_memos: list[CreditMemo] = field(default_factory=list)
    # Invoice ids seen in an earlier read: invoices are never deleted.
    previously_seen_invoice_ids: set[str] = field(default_factory=set)
    payments: list[Payment] = field(default_factory=list)
    cash_applications: list[CashApplication] = field(default_factory=list)


def _v(invariant: str, message: str, expected: Any, actual: Any, *refs: str) -> Violation:
    return Violation(invariant, message, expected, actual, list(refs))


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)


def _sow_index(facts: Facts) -> dict[str, StatementOfWork]:
    return {s.sow_id: s for s in facts.statements_of_work}


# --- 1. T&M rating ------------------------------------------------------------------------------

def _rating_terms(sow: StatementOfWork) -> tuple[str, FxPolicy] | None:
    plan = sow.billing_plan
    if isinstance(plan, TimeAndMaterialsPlan):
        return plan.rate_card_id, plan.fx_policy
    if isinstance(plan, RetainerPlan) and plan.rate_card_id and plan.fx_policy:
        return plan.rate_card_id, plan.fx_policy
    return None


def check_tm_rating(facts: Facts) -> list[Violation]:
    """Line = round(hours x rate(version in force on work date) x fx(policy type, policy date)),
    with rate, version, fx type/date/rate stored on the line; per entry Σ billed + held = rated amount."""
    out: list[Violation] = []
    sows, cards = _sow_index(facts), {c.rate_card_id: c for c in facts.rate_cards}
    entries = {e.time_entry_id: e for e in facts.time_entries}
    billed: dict[str, Decimal] = defaultdict(lambda: ZERO)
    expected_amount: dict[str, tuple[Decimal, list[str]]] = {}
    for inv in facts.invoices:
        sow = sows.get(inv.sow_id)
        terms = _rating_terms(sow) if sow else None
        for ln in inv.lines:
            if ln.kind != "time":
                continue
            for sid in ln.source_ids:
                billed[sid] += ln.amount if len(ln.source_ids) == 1 else ZERO
            if terms is None or len(ln.source_ids) != 1 or ln.source_ids[0] not in entries:
                continue  # traceability problems are invariant 2's to report
            entry = entries[ln.source_ids[0]]
            card = cards.get(terms[0])
            refs = (inv.invoice_id, ln.line_id, entry.time_entry_id)
            if card is None:
                out.append(_v(TM_RATING, f"rate card {terms[0]} of SOW {inv.sow_id} is not among the facts",
                              terms[0], None, *refs))
                continue
            policy = terms[1]
            try:
                version, rate = rate_in_force(card, entry.role, entry.region, entry.work_date)
                on = fx_rate_date(policy, work_date=entry.work_date, invoice_date=inv.invoice_date)
                fx = facts.fx_rates.rate(policy.rate_type, version.currency, inv.currency, on) if facts.fx_rates else ln.fx_rate
            except BillingRuleViolation as exc:
                out.append(_v(TM_RATING, f"cannot re-rate entry {entry.time_entry_id}: {exc.message}", "a rate in force",
                              exc.code, *refs))
                continue
            stored = (ln.rate_card_version, ln.applied_rate, ln.fx_rate_type, ln.fx_rate_date, ln.fx_rate)
            want = (version.version, rate, policy.rate_type, on, fx)
            if stored != want:
                out.append(_v(TM_RATING, f"line {ln.line_id} stores (rate-card version, rate, fx type, fx date, fx) "
                              f"that differ from the contract's rate card and FX policy for {entry.work_date}",
                              want, stored, *refs))
                continue
            expected_amount[entry.time_entry_id] = (
                round_money(entry.hours * rate * (fx or ZERO), inv.currency), [inv.invoice_id, ln.line_id])
    for h in facts.held:
        billed[h.source_id] += h.amount
    for sid, (amount, refs) in expected_amount.items():
        if billed[sid] != amount:
            out.append(_v(TM_RATING, f"time entry {sid}: billed + held {billed[sid]} differs from "
                          f"round(hours x rate x fx) = {amount}", amount, billed[sid], sid, *refs))
    return out


# --- 2. eligibility and traceability ------------------------------------------------------------

def check_eligibility(facts: Facts) -> list[Violation]:
    """Only approved + billable entries are billed; each entry at most once per customer; every
    sourced line lists its source ids; an expense's billed + held parts sum to the expense."""
    out: list[Violation] = []
    times = {e.time_entry_id: e for e in facts.time_entries}
    expenses = {e.expense_id: e for e in facts.expenses}
    milestones = {m.milestone_id for m in _milestones(facts)}
    seen: dict[tuple[str, str], str] = {}
    expense_billed: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for inv in facts.invoices:
        if inv.status == "void":
            continue
        for ln in inv.lines:
            refs = (inv.invoice_id, ln.line_id)
            if ln.kind == "adjustment":
                continue
            if not ln.source_ids:
                out.append(_v(ELIGIBILITY, f"{ln.kind} line {ln.line_id} lists no source records",
                              "at least one source id", [], *refs))
                continue
            for sid in ln.source_ids:
                key = (sid, ln.client_id or inv.client_id)
                if key in seen:
                    out.append(_v(ELIGIBILITY, f"record {sid} billed more than once (lines {seen[key]} and "
                                  f"{ln.line_id})", 1, 2, sid, seen[key], ln.line_id))
                seen[key] = ln.line_id
                entry = times.get(sid) if ln.kind == "time" else expenses.get(sid) if ln.kind == "expense" else None
                if ln.kind in ("time", "expense") and entry is None:
                    out.append(_v(ELIGIBILITY, f"{ln.kind} line {ln.line_id} cites unknown entry {sid}",
                                  "a known entry", None, sid, *refs))
                elif ln.kind == "milestone" and milestones and sid not in milestones:
                    out.append(_v(ELIGIBILITY, f"milestone line {ln.line_id} cites unknown milestone {sid}",
                                  "a known milestone", None, sid, *refs))
                elif entry is not None and (entry.approval_state != "approved" or not entry.billable):
                    out.append(_v(ELIGIBILITY, f"entry {sid} was billed but is {entry.approval_state!r}, "
                                  f"billable={entry.billable}", ("approved", True),
                                  (entry.approval_state, entry.billable), sid, *refs))
                if ln.kind == "expense" and len(ln.source_ids) == 1:
                    expense_billed[sid] += ln.amount
    for h in facts.held:
        if h.source_id in expense_billed:
            expense_billed[h.source_id] += h.amount
    for sid, amount in expense_billed.items():
        exp = expenses.get(sid)
        if exp is not None and amount != exp.amount:
            out.append(_v(ELIGIBILITY, f"expense {sid}: amounts split across lines sum to {amount}, "
                          f"not the expense amount {exp.amount}", exp.amount, amount, sid))
    return out


# --- 3. billing splits --------------------------------------------------------------------------

def check_billing_splits(facts: Facts) -> list[Violation]:
    """Percentages sum to exactly 100; allocations sum to the amount; only the designated
    residue customer deviates from round(amount x percent / 100)."""
    out: list[Violation] = []
    for s in facts.splits:
        total_pct = _sum(s.percents.values())
        if total_pct != HUNDRED:
            out.append(_v(SPLITS, f"split of {s.contract_line_id}: percentages sum to {total_pct}, not 100",
                          HUNDRED, total_pct, s.contract_line_id))
        allocated = _sum(s.allocated.values())
        if allocated != s.amount:
            out.append(_v(SPLITS, f"split of {s.contract_line_id}: allocations sum to {allocated}, not {s.amount}",
                          s.amount, allocated, s.contract_line_id))
        for client_id, pct in s.percents.items():
            if client_id == s.residue_client_id:
                continue
            want = round_money(s.amount * pct / HUNDRED, s.currency)
            got = s.allocated.get(client_id, ZERO)
            if got != want:
                out.append(_v(SPLITS, f"split of {s.contract_line_id}: client {client_id} got {got}, expected "
                              f"{want} ({pct} %); only {s.residue_client_id} may absorb residue",
                              want, got, s.contract_line_id, client_id))
    return out


# --- 4. fixed fee -------------------------------------------------------------------------------

def _milestones(facts: Facts) -> list[Milestone]:
    if facts.milestones:
        return facts.milestones
    return [m for s in facts.statements_of_work if isinstance(s.billing_plan, FixedFeePlan)
            for m in s.billing_plan.milestones]


def _current_version(facts: Facts, sow: StatementOfWork) -> ContractVersion:
    cos = [c for c in facts.change_orders if c.sow_id == sow.sow_id]
    try:
        return current_contract_version(sow.baseline, cos) if cos else sow.current
    except BillingRuleViolation:
        return sow.current


def check_fixed_fee(facts: Facts) -> list[Violation]:
    """Σ schedule = fee; Σ invoiced <= baseline + approved change orders; a milestone billed
    once, and only when accepted on or before the invoice date."""
    out: list[Violation] = []
    milestones = {m.milestone_id: m for m in _milestones(facts)}
    for sow in facts.statements_of_work:
        plan = sow.billing_plan
        if not isinstance(plan, FixedFeePlan):
            continue
        schedule = _sum(m.amount for m in plan.milestones)
        if schedule != plan.fee:
            out.append(_v(FIXED_FEE, f"SOW {sow.sow_id}: milestone schedule sums to {schedule}, fee is {plan.fee}",
                          plan.fee, schedule, sow.sow_id, plan.billing_plan_id))
        invoices = [i for i in facts.invoices if i.sow_id == sow.sow_id and i.status != "void"]
        invoiced = _sum(ln.amount for i in invoices for ln in i.lines)
        limit = _current_version(facts, sow).value
        if invoiced > limit:
            out.append(_v(FIXED_FEE, f"SOW {sow.sow_id}: invoiced {invoiced} exceeds baseline + approved change "
                          f"orders {limit}", f"<= {limit}", invoiced, sow.sow_id, *[i.invoice_id for i in invoices]))
        billed_on: dict[str, str] = {}
        for inv in invoices:
            for ln in inv.lines:
                if ln.kind != "milestone":
                    continue
                for mid in ln.source_ids:
                    if mid in billed_on:
                        out.append(_v(FIXED_FEE, f"milestone {mid} billed twice ({billed_on[mid]}, {inv.invoice_id})",
                                      1, 2, mid, billed_on[mid], inv.invoice_id))
                    billed_on[mid] = inv.invoice_id
                    m = milestones.get(mid)
                    if m is None:
                        continue
                    accepted = m.status in ("accepted", "billed") and m.accepted_on is not None
                    if not accepted or m.accepted_on > inv.invoice_date:  # type: ignore[operator]
                        out.append(_v(FIXED_FEE, f"milestone {mid} billed on {inv.invoice_date} but is "
                                      f"{m.status!r} (accepted_on={m.accepted_on})",
                                      f"accepted on or before {inv.invoice_date}", (m.status, m.accepted_on),
                                      mid, inv.invoice_id))
    return out


# --- 5. not-to-exceed cap -----------------------------------------------------------------------

def check_not_to_exceed_cap(facts: Facts) -> list[Violation]:
    """Σ billed <= cap per SOW and customer; excess is held (not dropped) only once the cap is used."""
    out: list[Violation] = []
    sow_of_entry = {e.time_entry_id: e.sow_id for e in facts.time_entries}
    sow_of_entry.update({e.expense_id: e.sow_id for e in facts.expenses})
    for sow in facts.statements_of_work:
        plan = sow.billing_plan
        if not isinstance(plan, TimeAndMaterialsPlan) or plan.not_to_exceed is None:
            continue
        by_client: dict[str, Decimal] = defaultdict(lambda: ZERO)
        invoices = [i for i in facts.invoices if i.sow_id == sow.sow_id and i.status != "void"]
        for inv in invoices:
            for ln in inv.lines:
                if ln.kind in ("time", "expense"):
                    by_client[ln.client_id or inv.client_id] += ln.amount
        for client_id, billed in by_client.items():
            if billed > plan.not_to_exceed:
                out.append(_v(CAP, f"SOW {sow.sow_id}, client {client_id}: billed {billed} exceeds the not-to-exceed "
                              f"cap {plan.not_to_exceed}", f"<= {plan.not_to_exceed}", billed, sow.sow_id, client_id,
                              *[i.invoice_id for i in invoices]))
        held = [h for h in facts.held if h.reason == "not_to_exceed_cap" and sow_of_entry.get(h.source_id) == sow.sow_id]
        total_billed = _sum(by_client.values())
        if held and total_billed < plan.not_to_exceed:
            out.append(_v(CAP, f"SOW {sow.sow_id}: {_sum(h.amount for h in held)} held over the cap while only "
                          f"{total_billed} of {plan.not_to_exceed} is billed", plan.not_to_exceed, total_billed,
                          sow.sow_id, *[h.source_id for h in held]))
    return out


# --- 6. retainers -------------------------------------------------------------------------------

def check_retainers(facts: Facts) -> list[Violation]:
    """Applied <= remaining balance at each drawdown; balance = received - applied >= 0."""
    out: list[Violation] = []
    for r in facts.retainers:
        received = applied = ZERO
        for ev in r.events:
            if ev.amount < 0:
                out.append(_v(RETAINER, f"retainer {r.retainer_id}: {ev.kind} {ev.ref} is negative", ">= 0", ev.amount,
                              r.retainer_id, ev.ref))
            if ev.kind == "receipt":
                received += ev.amount
            else:
                if ev.amount > received - applied:
                    out.append(_v(RETAINER, f"retainer {r.retainer_id}: drawdown {ev.ref} of {ev.amount} exceeds the "
                                  f"remaining balance {received - applied}", f"<= {received - applied}", ev.amount,
                                  r.retainer_id, ev.ref))
                applied += ev.amount
        if r.stated_balance is not None and r.stated_balance != received - applied:
            out.append(_v(RETAINER, f"retainer {r.retainer_id}: stated balance {r.stated_balance} is not received "
                          f"{received} - applied {applied}", received - applied, r.stated_balance, r.retainer_id))
    return out


# --- 7. change orders ---------------------------------------------------------------------------

def check_change_orders(facts: Facts) -> list[Violation]:
    """Baseline immutable; current = baseline + Σ approved deltas (version 1 + #approved); every
    invoice and line names an existing contract version; no change order approved after close."""
    out: list[Violation] = []
    for sow in facts.statements_of_work:
        first = facts.original_baselines.get(sow.sow_id)
        if first is not None and first != sow.baseline:
            out.append(_v(CHANGE_ORDERS, f"SOW {sow.sow_id}: baseline changed since first seen", first, sow.baseline,
                          sow.sow_id))
        cos = [c for c in facts.change_orders if c.sow_id == sow.sow_id]
        try:
            want = current_contract_version(sow.baseline, cos)
        except BillingRuleViolation as exc:
            out.append(_v(CHANGE_ORDERS, f"SOW {sow.sow_id}: {exc.message}", "consistent change orders", exc.code,
                          sow.sow_id))
            continue
        got = (sow.current.version, sow.current.value, sow.current.budget)
        if got != (want.version, want.value, want.budget):
            out.append(_v(CHANGE_ORDERS, f"SOW {sow.sow_id}: current (version, value, budget) is not baseline + "
                          f"approved change orders", (want.version, want.value, want.budget), got, sow.sow_id,
                          *[c.change_order_id for c in cos if c.approval_state == "approved"]))
        if sow.closed_on is not None:
            for c in cos:
                if c.approval_state == "approved" and c.approved_on is not None and c.approved_on > sow.closed_on:
                    out.append(_v(CHANGE_ORDERS, f"change order {c.change_order_id} approved on {c.approved_on} after "
                                  f"SOW {sow.sow_id} closed on {sow.closed_on}", f"<= {sow.closed_on}", c.approved_on,
                                  c.change_order_id, sow.sow_id))
        for inv in facts.invoices:
            if inv.sow_id != sow.sow_id:
                continue
            if not 1 <= inv.contract_version <= want.version:
                out.append(_v(CHANGE_ORDERS, f"invoice {inv.invoice_id} bills against contract version "
                              f"{inv.contract_version}, which does not exist (1..{want.version})",
                              f"1..{want.version}", inv.contract_version, inv.invoice_id, sow.sow_id))
            for ln in inv.lines:
                if ln.contract_version != inv.contract_version:
                    out.append(_v(CHANGE_ORDERS, f"line {ln.line_id} bills against version {ln.contract_version}, "
                                  f"its invoice {inv.invoice_id} against {inv.contract_version}",
                                  inv.contract_version, ln.contract_version, inv.invoice_id, ln.line_id))
    return out


# --- 8. revenue inputs --------------------------------------------------------------------------

def check_revenue_inputs(facts: Facts) -> list[Violation]:
    """0 <= p = cost / EAC <= 1; cumulative = round(p x price) <= price; period = cumulative - prior;
    billed - recognized = liability (if > 0) or -asset (if < 0)."""
    out: list[Violation] = []
    for r in facts.revenue:
        if r.estimate_at_completion <= 0 or not 0 <= r.cost_to_date <= r.estimate_at_completion:
            out.append(_v(REVENUE, f"SOW {r.sow_id}: progress {r.cost_to_date}/{r.estimate_at_completion} is outside "
                          f"0..1", "0 <= cost <= EAC", (r.cost_to_date, r.estimate_at_completion), r.sow_id))
            continue
        want = round_money(r.cost_to_date / r.estimate_at_completion * r.price, r.currency)
        if r.cumulative != want:
            out.append(_v(REVENUE, f"SOW {r.sow_id}: cumulative revenue is not round(progress x price)", want,
                          r.cumulative, r.sow_id))
        if r.cumulative > r.price:
            out.append(_v(REVENUE, f"SOW {r.sow_id}: recognized {r.cumulative} exceeds price {r.price}",
                          f"<= {r.price}", r.cumulative, r.sow_id))
        if r.period != r.cumulative - r.prior_cumulative:
            out.append(_v(REVENUE, f"SOW {r.sow_id}: period revenue is not cumulative - prior",
                          r.cumulative - r.prior_cumulative, r.period, r.sow_id))
        net = r.billed_to_date - r.cumulative
        want_pos = (max(net, ZERO), max(-net, ZERO))
        if (r.contract_liability, r.contract_asset) != want_pos:
            out.append(_v(REVENUE, f"SOW {r.sow_id}: (contract liability, contract asset) must come from billed "
                          f"{r.billed_to_date} - recognized {r.cumulative}", want_pos,
                          (r.contract_liability, r.contract_asset), r.sow_id))
    return out


# --- 9. FX --------------------------------------------------------------------------------------

def check_fx(facts: Facts) -> list[Violation]:
    """Booked at the transaction-date rate; realized gain = round(FC x (settlement - booking))."""
    out: list[Violation] = []
    for s in facts.fx_settlements:
        if s.rate_type and facts.fx_rates is not None:
            try:
                want_rate = facts.fx_rates.rate(s.rate_type, s.foreign_currency, s.functional_currency, s.booking_date)
            except BillingRuleViolation as exc:
                out.append(_v(FX, f"receivable {s.receivable_id}: {exc.message}", "a booking rate", exc.code,
                              s.receivable_id))
            else:
                if want_rate != s.booking_rate:
                    out.append(_v(FX, f"receivable {s.receivable_id} booked at {s.booking_rate}, not the "
                                  f"{s.booking_date} {s.rate_type} rate", want_rate, s.booking_rate, s.receivable_id))
        try:
            want = realized_fx_gain_loss(s.foreign_amount, s.booking_rate, s.settlement_rate, s.functional_currency)
        except BillingRuleViolation as exc:
            out.append(_v(FX, f"receivable {s.receivable_id}: {exc.message}", "valid rates", exc.code, s.receivable_id))
            continue
        if want != s.recorded_gain_loss:
            out.append(_v(FX, f"receivable {s.receivable_id}: realized FX gain/loss should be {s.foreign_amount} "
                          f"{s.foreign_currency} x ({s.settlement_rate} - {s.booking_rate})", want,
                          s.recorded_gain_loss, s.receivable_id))
    return out


# --- 10. intercompany ---------------------------------------------------------------------------

def check_intercompany(facts: Facts) -> list[Violation]:
    """Invoicing entity = the engagement's contracting entity; each IC receivable equals its
    mirror IC payable; eliminations net to zero per pair and overall."""
    out: list[Violation] = []
    engagements = {e.engagement_id: e for e in facts.engagements}
    for inv in facts.invoices:
        eng = engagements.get(inv.engagement_id)
        if eng is not None and eng.contracting_entity_id != inv.contracting_entity_id:
            out.append(_v(INTERCOMPANY, f"invoice {inv.invoice_id} issued by {inv.contracting_entity_id}, but the "
                          f"engagement's contracting entity is {eng.contracting_entity_id}",
                          eng.contracting_entity_id, inv.contracting_entity_id, inv.invoice_id, eng.engagement_id))
    pairs: dict[str, list[IntercompanyEntry]] = defaultdict(list)
    for e in facts.intercompany:
        pairs[e.pair_id].append(e)
    for pair_id, entries in pairs.items():
        rec = [e for e in entries if e.side == "receivable"]
        pay = [e for e in entries if e.side == "payable"]
        if len(rec) != 1 or len(pay) != 1:
            out.append(_v(INTERCOMPANY, f"IC pair {pair_id} needs one receivable and one payable",
                          (1, 1), (len(rec), len(pay)), pair_id))
            continue
        r, p = rec[0], pay[0]
        if (r.amount, r.currency) != (p.amount, p.currency):
            out.append(_v(INTERCOMPANY, f"IC pair {pair_id}: receivable in {r.entity_id} does not mirror payable in "
                          f"{p.entity_id}", (r.amount, r.currency), (p.amount, p.currency), pair_id))
        if (r.entity_id, r.counterparty_id) != (p.counterparty_id, p.entity_id):
            out.append(_v(INTERCOMPANY, f"IC pair {pair_id}: entities are not each other's counterparty",
                          (r.entity_id, r.counterparty_id), (p.counterparty_id, p.entity_id), pair_id))
    elim: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for el in facts.eliminations:
        elim[el.pair_id] += el.amount
    for pair_id, total in elim.items():
        if total != 0:
            out.append(_v(INTERCOMPANY, f"eliminations for IC pair {pair_id} net to {total}, not zero", ZERO, total,
                          pair_id))
    return out


# --- 11. tax ------------------------------------------------------------------------------------

def check_tax(facts: Facts) -> list[Violation]:
    """Stated net = Σ lines, tax = Σ line tax, gross = net + tax. Reverse charge: VAT 0, a valid
    customer VAT id and the reverse-charge note. With clients, entities and rates known, each
    line carries the tax code the rules determine (EU cross-border B2B -> reverse charge)."""
    out: list[Violation] = []
    clients = {c.client_id: c for c in facts.clients}
    entities = {e.entity_id: e for e in facts.legal_entities}
    for inv in facts.invoices:
        net, tax = _sum(ln.amount for ln in inv.lines), _sum(ln.tax_amount for ln in inv.lines)
        if (inv.net_total, inv.tax_total) != (net, tax):
            out.append(_v(TAX, f"invoice {inv.invoice_id}: stated net/tax differ from its lines", (net, tax),
                          (inv.net_total, inv.tax_total), inv.invoice_id))
        if inv.gross_total != inv.net_total + inv.tax_total:
            out.append(_v(TAX, f"invoice {inv.invoice_id}: gross is not net + tax", inv.net_total + inv.tax_total,
                          inv.gross_total, inv.invoice_id))
        client, seller = clients.get(inv.client_id), entities.get(inv.contracting_entity_id)
        if any(ln.tax_code == "REVERSE_CHARGE" for ln in inv.lines):
            rc_tax = _sum(ln.tax_amount for ln in inv.lines if ln.tax_code == "REVERSE_CHARGE")
            if rc_tax != 0:
                out.append(_v(TAX, f"invoice {inv.invoice_id}: reverse-charge lines carry VAT", ZERO, rc_tax,
                              inv.invoice_id))
            country = client.country if client else (inv.customer_vat_id or "")[:2]
            if not is_valid_vat_id(inv.customer_vat_id, country):
                out.append(_v(TAX, f"invoice {inv.invoice_id}: reverse charge needs a valid customer VAT id",
                              "a VAT id with the customer's country prefix", inv.customer_vat_id, inv.invoice_id))
            if not inv.reverse_charge_note:
                out.append(_v(TAX, f"invoice {inv.invoice_id}: reverse charge without the reverse-charge note",
                              "a reverse-charge note", inv.reverse_charge_note, inv.invoice_id))
        if client is not None and seller is not None and facts.tax_rates:
            try:
                want = determine_tax(seller, client, facts.tax_rates).tax_code
            except BillingRuleViolation as exc:
                out.append(_v(TAX, f"invoice {inv.invoice_id}: {exc.message}", "a determinable tax code", exc.code,
                              inv.invoice_id, client.client_id))
                continue
            wrong = [ln.line_id for ln in inv.lines if ln.tax_code != want]
            if wrong:
                out.append(_v(TAX, f"invoice {inv.invoice_id} from {seller.country} to {client.country} "
                              f"(business={client.is_business}) must use tax code {want}", want,
                              sorted({ln.tax_code for ln in inv.lines}), inv.invoice_id, *wrong))
    return out


# --- 12. credit memos ---------------------------------------------------------------------------

def check_credit_memos(facts: Facts) -> list[Violation]:
    """Each credit memo references exactly one existing invoice, in its currency; Σ credits <=
    invoice total; no invoice seen before has disappeared."""
    out: list[Violation] = []
    invoices = {i.invoice_id: i for i in facts.invoices}
    credited: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for cm in facts.credit_memos:
        inv = invoices.get(cm.invoice_id)
        if inv is None:
            out.append(_v(CREDIT_MEMOS, f"credit memo {cm.credit_memo_id} references unknown invoice {cm.invoice_id}",
                          "an existing invoice", cm.invoice_id, cm.credit_memo_id))
            continue
        if cm.currency != inv.currency:
            out.append(_v(CREDIT_MEMOS, f"credit memo {cm.credit_memo_id} currency differs from invoice "
                          f"{inv.invoice_id}", inv.currency, cm.currency, cm.credit_memo_id, inv.invoice_id))
        credited[inv.invoice_id] += cm.amount
    for invoice_id, total in credited.items():
        gross = invoices[invoice_id].gross_total
        if total > gross:
            out.append(_v(CREDIT_MEMOS, f"credits on invoice {invoice_id} total {total}, above its gross {gross}",
                          f"<= {gross}", total, invoice_id,
                          *[c.credit_memo_id for c in facts.credit_memos if c.invoice_id == invoice_id]))
    missing = sorted(facts.previously_seen_invoice_ids - invoices.keys())
    if missing:
        out.append(_v(CREDIT_MEMOS, f"invoices were deleted: {missing} (credit them instead)", [], missing, *missing))
    return out


# --- 13. cash application -----------------------------------------------------------------------

def check_cash_application(facts: Facts) -> list[Violation]:
    """Payment = Σ applied + unapplied + deductions; unapplied >= 0; Σ applied to an invoice <=
    gross - credits; status is Paid exactly when the open balance is zero."""
    out: list[Violation] = []
    payments = {p.payment_id: p for p in facts.payments}
    applied: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for app in facts.cash_applications:
        for a in app.applications:
            applied[a.invoice_id] += a.amount
        p = payments.get(app.payment_id)
        if app.unapplied < 0:
            out.append(_v(CASH, f"cash application {app.application_id}: unapplied is negative", ">= 0", app.unapplied,
                          app.application_id, app.payment_id))
        if p is None:
            out.append(_v(CASH, f"cash application {app.application_id} cites unknown payment {app.payment_id}",
                          "a known payment", None, app.application_id))
            continue
        total = app.applied_total + app.unapplied + app.deductions
        if total != p.amount:
            out.append(_v(CASH, f"payment {p.payment_id}: applied {app.applied_total} + unapplied {app.unapplied} + "
                          f"deductions {app.deductions} != payment", p.amount, total, p.payment_id,
                          app.application_id))
    credits: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for cm in facts.credit_memos:
        credits[cm.invoice_id] += cm.amount
    for inv in facts.invoices:
        if inv.status in ("draft", "void"):
            continue
        open_balance = inv.gross_total - credits[inv.invoice_id] - applied[inv.invoice_id]
        if open_balance < 0:
            out.append(_v(CASH, f"invoice {inv.invoice_id}: applied {applied[inv.invoice_id]} exceeds its open "
                          f"balance", f"<= {inv.gross_total - credits[inv.invoice_id]}", applied[inv.invoice_id],
                          inv.invoice_id))
        if (inv.status == "paid") != (open_balance == 0):
            out.append(_v(CASH, f"invoice {inv.invoice_id} is {inv.status!r} with open balance {open_balance}",
                          "paid" if open_balance == 0 else "not paid", inv.status, inv.invoice_id))
    return out


CHECKS: dict[str, Callable[[Facts], list[Violation]]] = {
    TM_RATING: check_tm_rating,
    ELIGIBILITY: check_eligibility,
    SPLITS: check_billing_splits,
    FIXED_FEE: check_fixed_fee,
    CAP: check_not_to_exceed_cap,
    RETAINER: check_retainers,
    CHANGE_ORDERS: check_change_orders,
    REVENUE: check_revenue_inputs,
    FX: check_fx,
    INTERCOMPANY: check_intercompany,
    TAX: check_tax,
    CREDIT_MEMOS: check_credit_memos,
    CASH: check_cash_application,
}


def check_all(facts: Facts) -> list[Violation]:
    """Run every invariant check (1-13) and return all violations, in invariant order."""
    return [v for check in CHECKS.values() for v in check(facts)]
