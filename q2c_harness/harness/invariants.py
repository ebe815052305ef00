"""Domain invariants 1-13 (integration-core.md section 4) as executable checks that count what they checked.

Each ``check_*`` takes `Facts` -- what the vendors hold, read back through their APIs (`facts.py`), plus what the
scenario declares (contract terms, tax rates, markup) -- and returns a `Tally`: how many facts it compared and the
`Violation` of each one that did not hold. Expectations are computed by `expected.py`, the checker's own plain
arithmetic, never by the core's billing rules, so a bug in the core is caught rather than mirrored.

An invariant that compared nothing has not been evaluated: `evaluate` reports it as "not evaluated" (a failure)
unless the scenario declared it not applicable, with a reason::

    results = evaluate(facts, not_applicable={"3.billing_splits": "one customer per engagement"})
    for r in results.values():
        print(r.invariant, r.status, r.checked, len(r.violations))

Checks never raise on bad data: a fact that cannot be evaluated (no rate in force, unknown record) is a violation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from q2c_harness.canonical import (
    CashApplication,
    ChangeOrder,
    Client,
    ContractVersion,
    CreditMemo,
    Engagement,
    ExpenseTransaction,
    FixedFeePlan,
    InvoiceEvent,
    InvoiceLine,
    LegalEntity,
    Milestone,
    Payment,
    RateCard,
    RecurringFeePlan,
    RetainerPlan,
    StatementOfWork,
    TimeAndMaterialsPlan,
    TimeTransaction,
)

from . import expected as ex
from .expected import ZERO, NoExpectation, money, total

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

HELD, VIOLATED, NOT_EVALUATED, NOT_APPLICABLE = "held", "violated", "not evaluated", "not applicable"


@dataclass(frozen=True)
class Violation:
    invariant: str  # e.g. "5.not_to_exceed_cap"
    message: str  # human explanation
    expected: Any
    actual: Any
    refs: list[str]  # record ids involved


class Tally:
    """One invariant's evaluation: every fact compared counts, every one that differs is a violation."""

    def __init__(self, invariant: str) -> None:
        self.invariant = invariant
        self.checked = 0
        self.violations: list[Violation] = []

    def check(self, holds: bool, message: str, expected: Any, actual: Any, *refs: str) -> bool:
        self.checked += 1
        if not holds:
            self.violations.append(Violation(self.invariant, message, expected, actual, [str(r) for r in refs]))
        return holds

    def fail(self, message: str, expected: Any, actual: Any, *refs: str) -> None:
        self.check(False, message, expected, actual, *refs)

    def same(self, expected: Any, actual: Any, message: str, *refs: str) -> bool:
        return self.check(expected == actual, message, expected, actual, *refs)


@dataclass(frozen=True)
class InvariantResult:
    invariant: str
    checked: int
    violations: list[Violation]
    not_applicable: str | None = None  # the scenario's reason, when it declared the invariant not applicable

    @property
    def status(self) -> Literal["held", "violated", "not evaluated", "not applicable"]:
        if self.violations:
            return VIOLATED
        if self.checked:
            return HELD
        return NOT_APPLICABLE if self.not_applicable else NOT_EVALUATED

    @property
    def ok(self) -> bool:
        return self.status in (HELD, NOT_APPLICABLE)

    def summary(self) -> str:
        if self.status == NOT_APPLICABLE:
            return f"{self.invariant}: not applicable ({self.not_applicable})"
        if self.status == NOT_EVALUATED:
            return f"{self.invariant}: NOT EVALUATED (checked nothing; declare it not applicable with a reason)"
        return f"{self.invariant}: {self.status}, {self.checked} checked, {len(self.violations)} violated"


# --- fact types beside the canonical objects ------------------------------------------------------------------

@dataclass(frozen=True)
class HeldFact:
    """An amount rated but not billed (over a cap), as the core reports it (unit tests; vendors do not hold it)."""

    source_id: str
    amount: Decimal
    reason: str = "not_to_exceed_cap"


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
    covers: Decimal | None = None  # drawdowns: the time billed on that invoice (what the retainer should cover)


@dataclass(frozen=True)
class RetainerFact:
    """Retainer ledger in time order; ``stated_balance`` is what the ERP reports, if known."""

    retainer_id: str
    currency: str
    events: list[RetainerEvent]
    stated_balance: Decimal | None = None
    agreed_amount: Decimal | None = None  # the contract's retainer (Salesforce)
    invoiced_amount: Decimal | None = None  # the retainer invoice in the ERP


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
    # the same inputs as the vendors hold them (None: not read): the contract value in the ERP, approved time to the
    # period end at the rate card as the PSA holds both, the PSA project's budget, what the ERP invoiced
    vendor_price: Decimal | None = None
    vendor_cost_to_date: Decimal | None = None
    vendor_estimate_at_completion: Decimal | None = None
    vendor_billed_to_date: Decimal | None = None
    closed: str | None = None  # the period closed (YYYY-MM)


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


@dataclass(frozen=True)
class IntercompanyFact:
    """One side of an intercompany pair (receivable in the delivering entity, payable in the contracting one)."""

    pair_id: str
    side: str  # "receivable" | "payable"
    entity_id: str
    counterparty_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class EliminationFact:
    pair_id: str
    amount: Decimal


@dataclass(frozen=True)
class CrossChargeFact:
    """An intercompany cross-charge invoice as the ERP holds it: the delivering entity bills the contracting one
    for the time it delivered on a client invoice."""

    client_invoice_id: str
    delivering_entity_id: str
    contracting_entity_id: str
    currency: str
    amount: Decimal
    ref: str


@dataclass(frozen=True)
class ContractFact:
    """A statement of work's contract value as each vendor keeps it."""

    sow_id: str
    currency: str
    signed_baseline: Decimal  # the CRM's signed (primary) quote
    kept_baseline: Decimal | None  # the ERP contract's baseline line
    erp_value: Decimal | None  # the ERP contract's value (baseline + change-order lines)
    erp_change_orders: int | None  # change-order lines on the ERP contract
    psa_value: Decimal | None  # the PSA project's price


@dataclass(frozen=True)
class RebillFact:
    """A credit-and-rebill as the ERP holds it: the credit memo, the invoice it was created from and applied to,
    the re-invoice its memo names, what the re-invoice's memo cites back, and the entries the scenario wrote off."""

    credit_memo_id: str
    credited_invoice_id: str  # the credit memo's createdFrom
    applied_to: tuple[str, ...]  # invoices its apply sublist applies it to
    reinvoice_id: str | None  # as the credit memo's memo names it
    reinvoice_cites: tuple[str, str] | None  # (invoice, credit memo) the re-invoice's memo says it replaces
    written_off: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TaxDocumentFact:
    """A tax service's document as it answers it (AvaTax transaction: code, status, totals, per-line tax and the
    summary of jurisdictions)."""

    code: str
    status: str  # Saved | Committed | Cancelled | Adjusted
    total_amount: Decimal
    total_tax: Decimal
    line_tax: tuple[Decimal, ...]
    jurisdictions: dict[str, Decimal]  # jurisName -> tax (summary rows)


@dataclass(frozen=True)
class UsageUnitFact:
    """One unit of a metered service as the PSA holds it: an issue under the quote line's story."""

    unit_id: str
    engagement_id: str
    quote_line_id: str
    day: date | None
    completed: bool


@dataclass(frozen=True)
class GatewayPaymentFact:
    """A payment the gateway took (a succeeded intent) and what it refunded of it, as the gateway answers them."""

    intent_id: str
    currency: str
    received: Decimal
    refunded: Decimal


@dataclass(frozen=True)
class CrmStatusFact:
    """The invoice status an engagement's opportunity shows, beside the invoice it names in the ERP."""

    engagement_id: str
    invoice_number: str | None
    status: str | None
    amount_invoiced: Decimal | None
    amount_paid: Decimal | None


@dataclass
class Facts:
    """Everything the checks may look at. Supply what the scenario has; the rest stays empty."""

    invoices: list[InvoiceEvent] = field(default_factory=list)
    time_entries: list[TimeTransaction] = field(default_factory=list)
    expenses: list[ExpenseTransaction] = field(default_factory=list)
    rate_cards: list[RateCard] = field(default_factory=list)
    fx_rates: Any = None  # anything with .rate(rate_type, from, to, on) -> Decimal, e.g. expected.FxBook
    engagements: list[Engagement] = field(default_factory=list)
    statements_of_work: list[StatementOfWork] = field(default_factory=list)
    # Baselines as the vendors keep them (sow_id -> version 1), to prove the baseline never changed.
    original_baselines: dict[str, ContractVersion] = field(default_factory=dict)
    change_orders: list[ChangeOrder] = field(default_factory=list)
    contracts: list[ContractFact] = field(default_factory=list)
    # Current milestone states; when empty, the milestones inside fixed-fee plans are used.
    milestones: list[Milestone] = field(default_factory=list)
    # amounts held over a cap, when the core reports them (HeldFact-shaped); None: not known (vendor facts)
    held: list[Any] | None = None
    splits: list[SplitFact] = field(default_factory=list)
    # engagement -> client -> percent, as the contract declares (an engagement absent here bills its client 100 %)
    customer_splits: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    retainers: list[RetainerFact] = field(default_factory=list)
    revenue: list[RevenueFact] = field(default_factory=list)
    fx_settlements: list[FxSettlementFact] = field(default_factory=list)
    intercompany: list[Any] = field(default_factory=list)  # IntercompanyFact-shaped
    eliminations: list[Any] = field(default_factory=list)  # EliminationFact-shaped
    cross_charges: list[CrossChargeFact] | None = None  # None: the ERP was not read for them
    intercompany_markup_percent: Decimal | None = None  # declared; with cross_charges, the expected markup
    clients: list[Client] = field(default_factory=list)
    legal_entities: list[LegalEntity] = field(default_factory=list)
    tax_rates: dict[str, Decimal] = field(default_factory=dict)  # country -> standard rate percent (declared)
    invoice_tax_rates: dict[str, Decimal] = field(default_factory=dict)  # invoice id -> the ERP's header rate
    invoice_notes: dict[str, str] = field(default_factory=dict)  # invoice id -> memo text the client sees
    # the tax service's documents by code (None: tax comes from the declared rates; no tax service)
    tax_documents: dict[str, TaxDocumentFact] | None = None
    credit_memos: list[CreditMemo] = field(default_factory=list)
    rebills: list[RebillFact] = field(default_factory=list)
    usage_units: dict[str, UsageUnitFact] = field(default_factory=dict)  # unit (PSA story) id -> the unit
    usage_prices: dict[str, Decimal] = field(default_factory=dict)  # quote line id -> unit price (the CRM quote)
    # Invoice ids seen in an earlier read: invoices are never deleted.
    previously_seen_invoice_ids: set[str] = field(default_factory=set)
    payments: list[Payment] = field(default_factory=list)
    cash_applications: list[CashApplication] = field(default_factory=list)
    # the gateway's payments (None: no gateway); with the ERP payment each became (its id -> the intent it names)
    gateway_payments: list[GatewayPaymentFact] | None = None
    erp_payment_intent: dict[str, str] = field(default_factory=dict)
    crm: list[CrmStatusFact] = field(default_factory=list)
    # CRM status labels by ERP invoice status, as the integration specifies them
    crm_status_labels: dict[str, str] = field(default_factory=lambda: {
        "posted": "Invoiced", "partially_paid": "Partially Paid", "paid": "Paid", "void": "Void"})


def _index(items: Iterable[Any], key: str) -> dict[str, Any]:
    return {getattr(i, key): i for i in items}


def _credited_in_full(facts: Facts) -> set[str]:
    credited: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for cm in facts.credit_memos:
        credited[cm.invoice_id] += cm.amount
    return {i.invoice_id for i in facts.invoices if i.gross_total > 0 and credited.get(i.invoice_id) == i.gross_total}


def _live(facts: Facts) -> list[InvoiceEvent]:
    """The invoices that bill something: not void, not reversed in full by credit memos."""
    reversed_ = _credited_in_full(facts) if facts.credit_memos else set()
    return [i for i in facts.invoices if i.status != "void" and i.invoice_id not in reversed_]


def _milestones(facts: Facts) -> list[Milestone]:
    if facts.milestones:
        return facts.milestones
    return [m for s in facts.statements_of_work if isinstance(s.billing_plan, FixedFeePlan)
            for m in s.billing_plan.milestones]


def _terms(sow: StatementOfWork | None) -> tuple[str, Any] | None:
    """(rate card id, FX policy) of a statement of work that rates time."""
    plan = sow.billing_plan if sow else None
    if isinstance(plan, TimeAndMaterialsPlan):
        return plan.rate_card_id, plan.fx_policy
    if isinstance(plan, RetainerPlan) and plan.rate_card_id and plan.fx_policy:
        return plan.rate_card_id, plan.fx_policy
    return None


def _approved_deltas(facts: Facts, sow_id: str, field_name: str = "value_delta") -> list[Decimal]:
    return [getattr(c, field_name) for c in facts.change_orders
            if c.sow_id == sow_id and c.approval_state == "approved"]


@dataclass(frozen=True)
class Rated:
    amount: Decimal
    version: int
    rate: Decimal
    card_currency: str
    fx: Decimal
    fx_date: date
    rate_type: str


def rate_time(facts: Facts, inv: InvoiceEvent, entry: TimeTransaction) -> Rated:
    """hours x rate (version in force on the work date) x fx (policy type and date), rounded per line."""
    sow = _index(facts.statements_of_work, "sow_id").get(inv.sow_id)
    terms = _terms(sow)
    if terms is None:
        raise NoExpectation(f"SOW {inv.sow_id} has no rate card and FX policy among the facts")
    card = _index(facts.rate_cards, "rate_card_id").get(terms[0])
    if card is None:
        raise NoExpectation(f"rate card {terms[0]} of SOW {inv.sow_id} is not among the facts")
    policy = terms[1]
    rif = ex.rate_in_force(card, entry.role, entry.region, entry.work_date)
    on = ex.fx_date(policy.rate_date_rule, work_date=entry.work_date, invoice_date=inv.invoice_date,
                    fixed=policy.fixed_rate_date)
    if rif.currency == inv.currency:
        fx = ex.ONE
    elif facts.fx_rates is None:
        raise NoExpectation(f"no FX rates among the facts for {rif.currency}->{inv.currency}")
    else:
        try:
            fx = facts.fx_rates.rate(policy.rate_type, rif.currency, inv.currency, on)
        except NoExpectation:
            raise
        except Exception as exc:  # another table's "missing rate"
            raise NoExpectation(str(getattr(exc, "message", exc))) from None
    return Rated(money(entry.hours * rif.rate * fx, inv.currency), rif.version, rif.rate, rif.currency, fx, on,
                 policy.rate_type)


def _time_lines(facts: Facts) -> Iterable[tuple[InvoiceEvent, InvoiceLine, TimeTransaction]]:
    entries = _index(facts.time_entries, "time_entry_id")
    for inv in _live(facts):
        for ln in inv.lines:
            if ln.kind == "time" and len(ln.source_ids) == 1 and ln.source_ids[0] in entries:
                yield inv, ln, entries[ln.source_ids[0]]


def _held_under_cap(facts: Facts) -> set[str]:
    """The time entries billed short because the cap ran out. Where the ERP alone is read (the core reports no held
    amounts) that is at most one entry per capped statement of work, once its billing has reached the cap; any
    other short entry is a rating error."""
    if facts.held is not None:
        return set()
    sows = _index(facts.statements_of_work, "sow_id")
    short: dict[str, list[str]] = defaultdict(list)
    for inv, ln, entry in _time_lines(facts):
        if not _capped(sows.get(inv.sow_id)):
            continue
        try:
            if ln.amount < rate_time(facts, inv, entry).amount:
                short[inv.sow_id].append(entry.time_entry_id)
        except NoExpectation:
            continue
    out = set()
    for sow_id, sids in short.items():
        spent = total(ln.amount for i in _live(facts) if i.sow_id == sow_id for ln in i.lines
                      if ln.kind in ("time", "expense"))
        if len(sids) == 1 and spent == sows[sow_id].billing_plan.not_to_exceed:  # type: ignore[union-attr]
            out.add(sids[0])
    return out


def _capped(sow: StatementOfWork | None) -> bool:
    return isinstance(sow.billing_plan if sow else None, TimeAndMaterialsPlan) and \
        sow.billing_plan.not_to_exceed is not None  # type: ignore[union-attr]


# --- 1. T&M rating ------------------------------------------------------------------------------------------------

def check_tm_rating(facts: Facts) -> Tally:
    """Per time entry: billed (+ held) = round(hours x rate in force on the work date x fx); a line that states its
    rate-card version, rate and FX states the ones the contract's rate card and FX policy give."""
    t = Tally(TM_RATING)
    sows = _index(facts.statements_of_work, "sow_id")
    billed: dict[str, Decimal] = defaultdict(lambda: ZERO)
    want: dict[str, tuple[Decimal, InvoiceEvent, InvoiceLine]] = {}
    for inv, ln, entry in _time_lines(facts):
        refs = (inv.invoice_id, ln.line_id, entry.time_entry_id)
        billed[entry.time_entry_id] += ln.amount
        try:
            r = rate_time(facts, inv, entry)
        except NoExpectation as exc:
            t.fail(f"cannot re-rate time entry {entry.time_entry_id}: {exc}", "a rate in force", None, *refs)
            continue
        want[entry.time_entry_id] = (r.amount, inv, ln)
        if ln.rate_card_version is not None or ln.applied_rate is not None:
            stored = (ln.rate_card_version, ln.applied_rate, ln.fx_rate_type, ln.fx_rate_date, ln.fx_rate)
            t.same((r.version, r.rate, r.rate_type, r.fx_date, r.fx), stored,
                   f"line {ln.line_id} states (rate-card version, rate, fx type, fx date, fx) other than the "
                   f"contract's rate card and FX policy give for {entry.work_date}", *refs)
    for h in facts.held or []:
        billed[h.source_id] += h.amount
    _check_usage_rating(t, facts)
    partial = _held_under_cap(facts)
    for sid, (amount, inv, ln) in want.items():
        if sid in partial:
            continue  # the rest of it held under the cap: invariant 5 judges the total
        t.same(amount, billed[sid], f"time entry {sid} ({inv.invoice_id}) billed {billed[sid]}, "
               f"round(hours x rate x fx) is {amount}", sid, inv.invoice_id, ln.line_id)
    return t


def _check_usage_rating(t: Tally, facts: Facts) -> None:
    """A usage line bills one unit per source at the unit price of the quote line the units belong to."""
    for inv in _live(facts):
        for ln in inv.lines:
            if ln.kind != "usage":
                continue
            refs = (inv.invoice_id, ln.line_id)
            quote_lines = {u.quote_line_id for s in ln.source_ids if (u := facts.usage_units.get(s))}
            if not t.check(len(quote_lines) == 1 and next(iter(quote_lines)) in facts.usage_prices,
                           f"usage line {ln.line_id}: its units belong to quote lines {sorted(quote_lines)}, not one "
                           "priced quote line", "one quote line", sorted(quote_lines), *refs):
                continue
            price = facts.usage_prices[next(iter(quote_lines))]
            t.same((Decimal(len(ln.source_ids)), money(len(ln.source_ids) * price, inv.currency)),
                   (ln.quantity, ln.amount), f"usage line {ln.line_id}: {len(ln.source_ids)} unit(s) at {price} "
                   f"(the quote's unit price), the invoice bills {ln.quantity} for {ln.amount}", *refs)


# --- 2. eligibility and traceability ------------------------------------------------------------------------------

def check_eligibility(facts: Facts) -> Tally:
    """Only approved + billable entries are billed; each record at most once per customer; every sourced line lists
    its source ids; an expense's billed + held parts sum to the expense."""
    t = Tally(ELIGIBILITY)
    times, expenses = _index(facts.time_entries, "time_entry_id"), _index(facts.expenses, "expense_id")
    milestones = {m.milestone_id for m in _milestones(facts)}
    seen: dict[tuple[str, str], str] = {}
    expense_billed: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for inv in _live(facts):
        for ln in inv.lines:
            refs = (inv.invoice_id, ln.line_id)
            if ln.kind in ("adjustment", "retainer_drawdown"):
                continue
            if not t.check(bool(ln.source_ids), f"{ln.kind} line {ln.line_id} lists no source records",
                           "at least one source id", [], *refs):
                continue
            for sid in ln.source_ids:
                key = (sid, ln.client_id or inv.client_id)
                t.check(key not in seen, f"record {sid} billed more than once (lines {seen.get(key)} and "
                        f"{ln.line_id})", 1, 2, sid, *refs)
                seen[key] = ln.line_id
                record = times.get(sid) if ln.kind == "time" else expenses.get(sid) if ln.kind == "expense" else None
                if ln.kind in ("time", "expense"):
                    if t.check(record is not None, f"{ln.kind} line {ln.line_id} cites unknown entry {sid}",
                               "a known entry", None, sid, *refs):
                        t.check(record.approval_state == "approved" and record.billable,  # type: ignore[union-attr]
                                f"entry {sid} was billed but is {record.approval_state!r}, "  # type: ignore[union-attr]
                                f"billable={record.billable}", ("approved", True),  # type: ignore[union-attr]
                                (record.approval_state, record.billable), sid, *refs)  # type: ignore[union-attr]
                elif ln.kind == "usage":
                    unit = facts.usage_units.get(sid)
                    if t.check(unit is not None and unit.engagement_id == inv.engagement_id, f"usage line "
                               f"{ln.line_id} cites {sid}, not a unit the PSA reports for {inv.engagement_id}",
                               "a reported unit", sid, *refs):
                        t.check(unit.completed and unit.day is not None and unit.day <= inv.invoice_date,  # type: ignore[union-attr]
                                f"unit {sid} was billed but is not completed by {inv.invoice_date}",
                                "completed on or before the invoice date", (unit.completed, unit.day),  # type: ignore[union-attr]
                                sid, *refs)
                elif ln.kind == "milestone" and milestones:
                    t.check(sid in milestones, f"milestone line {ln.line_id} cites unknown milestone {sid}",
                            "a known milestone", None, sid, *refs)
                if ln.kind == "expense" and len(ln.source_ids) == 1:
                    expense_billed[sid] += ln.amount
    for h in facts.held or []:
        if h.source_id in expense_billed:
            expense_billed[h.source_id] += h.amount
    for sid, amount in expense_billed.items():
        if sid in expenses:
            t.same(expenses[sid].amount, amount, f"expense {sid}: billed {amount}, the expense is "
                   f"{expenses[sid].amount}", sid)
    return t


# --- 3. billing splits --------------------------------------------------------------------------------------------

def check_billing_splits(facts: Facts) -> Tally:
    """Each invoice bills a customer the contract names; percentages sum to exactly 100; allocations sum to the
    amount; only the designated residue customer deviates from round(amount x percent / 100)."""
    t = Tally(SPLITS)
    engagements = _index(facts.engagements, "engagement_id")
    for inv in _live(facts):
        eng = engagements.get(inv.engagement_id)
        if eng is None:
            continue
        split = facts.customer_splits.get(eng.engagement_id) or {eng.client_id: ex.HUNDRED}
        t.check(inv.client_id in split, f"invoice {inv.invoice_id} bills customer {inv.client_id!r}; the contract "
                f"of {eng.engagement_id} names {sorted(split)}", sorted(split), inv.client_id, inv.invoice_id)
    for s in facts.splits:
        t.same(ex.HUNDRED, total(s.percents.values()), f"split of {s.contract_line_id}: percentages do not sum "
               "to 100", s.contract_line_id)
        t.same(s.amount, total(s.allocated.values()), f"split of {s.contract_line_id}: allocations do not sum to "
               f"{s.amount}", s.contract_line_id)
        for client_id, pct in s.percents.items():
            if client_id != s.residue_client_id:
                t.same(money(s.amount * pct / ex.HUNDRED, s.currency), s.allocated.get(client_id, ZERO),
                       f"split of {s.contract_line_id}: client {client_id} ({pct} %) got other than its share; only "
                       f"{s.residue_client_id} may absorb residue", s.contract_line_id, client_id)
    return t


# --- 4. fixed fee -------------------------------------------------------------------------------------------------

def _contract_value(facts: Facts, sow: StatementOfWork) -> Decimal:
    return ex.contract_value(sow.baseline.value, _approved_deltas(facts, sow.sow_id))


def _check_recurring(t: Tally, facts: Facts, sow: StatementOfWork, plan: RecurringFeePlan) -> None:
    """A monthly fee: each calendar month billed once, in or after the month, for the fee prorated by the days the
    term covers (the first and last months); none outside the term, none skipped up to the last month billed."""
    billed: dict[str, str] = {}
    for inv in sorted((i for i in _live(facts) if i.sow_id == sow.sow_id), key=lambda i: i.invoice_date):
        for ln in inv.lines:
            if ln.kind != "recurring_fee":
                continue
            month = (ln.source_ids[0] if ln.source_ids else "").rpartition(":")[2]
            refs = (sow.sow_id, inv.invoice_id, ln.line_id)
            if not t.check(len(month) == 7 and month[4] == "-", f"recurring line {ln.line_id} names no month",
                           "<plan>:<YYYY-MM>", ln.source_ids, *refs):
                continue
            t.check(month not in billed, f"SOW {sow.sow_id}: month {month} billed twice ({billed.get(month)}, "
                    f"{inv.invoice_id})", 1, 2, *refs)
            billed[month] = inv.invoice_id
            want = ex.monthly_fee(plan.amount_per_period, plan.start_date, plan.end_date, int(month[:4]),
                                  int(month[5:]), sow.currency)
            if not t.check(want is not None, f"SOW {sow.sow_id}: month {month} is outside the term "
                           f"{plan.start_date}..{plan.end_date}", "a month of the term", month, *refs):
                continue
            t.same(want, ln.amount, f"SOW {sow.sow_id}: the fee for {month} is {want} (prorated by days), invoice "
                   f"{inv.invoice_id} bills {ln.amount}", *refs)
            t.check(inv.invoice_date.isoformat()[:7] >= month, f"SOW {sow.sow_id}: {month} billed in advance on "
                    f"{inv.invoice_date}", f">= {month}", inv.invoice_date.isoformat(), *refs)
    if billed:
        y, m = plan.start_date.year, plan.start_date.month
        while f"{y}-{m:02d}" <= max(billed):
            t.check(f"{y}-{m:02d}" in billed, f"SOW {sow.sow_id}: month {y}-{m:02d} of the term was never billed",
                    "billed", None, sow.sow_id)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def check_fixed_fee(facts: Facts) -> Tally:
    """Σ schedule = fee; Σ invoiced <= baseline + approved change orders; a milestone billed once, for its amount,
    and only when accepted on or before the invoice date. A recurring (managed-services) fee: see
    `_check_recurring`."""
    t = Tally(FIXED_FEE)
    milestones = _index(_milestones(facts), "milestone_id")
    for sow in facts.statements_of_work:
        plan = sow.billing_plan
        if isinstance(plan, RecurringFeePlan) and plan.frequency == "monthly":
            _check_recurring(t, facts, sow, plan)
        if not isinstance(plan, FixedFeePlan):
            continue
        t.same(plan.fee, total(m.amount for m in plan.milestones), f"SOW {sow.sow_id}: the milestone schedule does "
               f"not sum to the fee", sow.sow_id, plan.billing_plan_id)
        invoices = [i for i in _live(facts) if i.sow_id == sow.sow_id]
        invoiced = total(ln.amount for i in invoices for ln in i.lines if ln.kind == "milestone")
        limit = _contract_value(facts, sow)
        t.check(invoiced <= limit, f"SOW {sow.sow_id}: milestones invoiced {invoiced} exceed baseline + approved "
                f"change orders {limit}", f"<= {limit}", invoiced, sow.sow_id, *[i.invoice_id for i in invoices])
        billed_on: dict[str, str] = {}
        for inv in invoices:
            for ln in inv.lines:
                if ln.kind != "milestone":
                    continue
                for mid in ln.source_ids:
                    t.check(mid not in billed_on, f"milestone {mid} billed twice ({billed_on.get(mid)}, "
                            f"{inv.invoice_id})", 1, 2, mid, inv.invoice_id)
                    billed_on[mid] = inv.invoice_id
                    m = milestones.get(mid)
                    if not t.check(m is not None, f"milestone line {ln.line_id} cites milestone {mid}, which the "
                                   "PSA does not hold", "a known milestone", mid, inv.invoice_id):
                        continue
                    accepted = m.accepted_on is not None and m.status in ("accepted", "billed")
                    t.check(accepted and m.accepted_on <= inv.invoice_date,  # type: ignore[operator]
                            f"milestone {mid} billed on {inv.invoice_date} but is {m.status!r} "
                            f"(accepted_on={m.accepted_on})", f"accepted on or before {inv.invoice_date}",
                            (m.status, m.accepted_on), mid, inv.invoice_id)
                    if len(ln.source_ids) == 1:
                        t.same(m.amount, ln.amount, f"milestone {mid} ({m.name}) is worth {m.amount}, invoice "
                               f"{inv.invoice_id} bills {ln.amount}", mid, inv.invoice_id)
    return t


# --- 5. not-to-exceed cap -----------------------------------------------------------------------------------------

def check_not_to_exceed_cap(facts: Facts) -> Tally:
    """Σ billed <= cap per SOW and customer; what is over the cap is held, and only once the cap is used: Σ billed
    = min(cap, Σ rated approved time and expenses of the billed periods)."""
    t = Tally(CAP)
    for sow in facts.statements_of_work:
        plan = sow.billing_plan
        if not isinstance(plan, TimeAndMaterialsPlan) or plan.not_to_exceed is None:
            continue
        cap = plan.not_to_exceed
        invoices = [i for i in _live(facts) if i.sow_id == sow.sow_id]
        by_client: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for inv in invoices:
            for ln in inv.lines:
                if ln.kind in ("time", "expense"):
                    by_client[ln.client_id or inv.client_id] += ln.amount
        for client_id, billed in by_client.items():
            t.check(billed <= cap, f"SOW {sow.sow_id}, client {client_id}: billed {billed} exceeds the "
                    f"not-to-exceed cap {cap}", f"<= {cap}", billed, sow.sow_id, client_id)
        if not invoices:
            continue
        last = max(i.invoice_date for i in invoices)
        inv = max(invoices, key=lambda i: i.invoice_date)
        try:
            rated = total(rate_time(facts, inv, e).amount for e in facts.time_entries
                          if e.sow_id == sow.sow_id and e.approval_state == "approved" and e.billable
                          and e.work_date <= last)
        except NoExpectation as exc:
            t.fail(f"SOW {sow.sow_id}: cannot rate its time to check the cap: {exc}", "rated time", None, sow.sow_id)
            continue
        rated += total(x.amount for x in facts.expenses if x.sow_id == sow.sow_id and x.approval_state == "approved"
                       and x.billable and x.incurred_on <= last)
        billed = total(by_client.values())
        t.same(min(cap, rated), billed, f"SOW {sow.sow_id}: {rated} of approved work against a cap of {cap}: "
               f"billed must be the smaller, what is over held", sow.sow_id, *[i.invoice_id for i in invoices])
    return t


# --- 6. retainers -------------------------------------------------------------------------------------------------

def check_retainers(facts: Facts) -> Tally:
    """The retainer invoiced is the one agreed; each drawdown = min(time it covers, remaining balance);
    balance = received - applied >= 0, as stated."""
    t = Tally(RETAINER)
    for r in facts.retainers:
        if r.agreed_amount is not None:
            t.same(r.agreed_amount, r.invoiced_amount, f"retainer {r.retainer_id}: the retainer invoice does not "
                   "bill the retainer agreed", r.retainer_id)
        received = applied = ZERO
        for ev in r.events:
            t.check(ev.amount >= 0, f"retainer {r.retainer_id}: {ev.kind} {ev.ref} is negative", ">= 0", ev.amount,
                    r.retainer_id, ev.ref)
            if ev.kind == "receipt":
                received += ev.amount
                continue
            balance = received - applied
            t.check(ev.amount <= balance, f"retainer {r.retainer_id}: drawdown {ev.ref} of {ev.amount} exceeds the "
                    f"remaining balance {balance}", f"<= {balance}", ev.amount, r.retainer_id, ev.ref)
            if ev.covers is not None:
                t.same(min(ev.covers, max(balance, ZERO)), ev.amount, f"retainer {r.retainer_id}: {ev.ref} bills "
                       f"{ev.covers} of time with {balance} left on the retainer: the drawdown must cover what "
                       "the balance allows", r.retainer_id, ev.ref)
            applied += ev.amount
        if r.stated_balance is not None:
            t.same(received - applied, r.stated_balance, f"retainer {r.retainer_id}: stated balance is not received "
                   f"{received} - applied {applied}", r.retainer_id)
    return t


# --- 7. change orders ---------------------------------------------------------------------------------------------

def check_change_orders(facts: Facts) -> Tally:
    """Baseline immutable and the same in every system; current = baseline + Σ approved deltas (version 1 +
    #approved) in the PSA and the ERP; each change order once; every invoice and line names an existing version;
    no change order approved after close."""
    t = Tally(CHANGE_ORDERS)
    contracts = _index(facts.contracts, "sow_id")
    for sow in facts.statements_of_work:
        first = facts.original_baselines.get(sow.sow_id)
        if first is not None:
            t.same(first, sow.baseline, f"SOW {sow.sow_id}: the baseline changed since it was signed", sow.sow_id)
        cos = [c for c in facts.change_orders if c.sow_id == sow.sow_id]
        approved = [c for c in cos if c.approval_state == "approved"]
        want = (1 + len(approved), _contract_value(facts, sow),
                ex.contract_value(sow.baseline.budget, _approved_deltas(facts, sow.sow_id, "budget_delta")))
        t.same(want, (sow.current.version, sow.current.value, sow.current.budget), f"SOW {sow.sow_id}: current "
               "(version, value, budget) is not baseline + approved change orders", sow.sow_id,
               *[c.change_order_id for c in approved])
        c = contracts.get(sow.sow_id)
        if c is not None:
            value = _contract_value(facts, sow)
            t.same(c.signed_baseline, c.kept_baseline, f"SOW {sow.sow_id}: the ERP contract's baseline is not the "
                   "signed quote's value", sow.sow_id)
            t.same(value, c.erp_value, f"SOW {sow.sow_id}: the ERP contract is not baseline + approved change "
                   "orders", sow.sow_id)
            t.same(len(approved), c.erp_change_orders, f"SOW {sow.sow_id}: the ERP contract carries other than "
                   "one line per approved change order", sow.sow_id)
            t.same(value, c.psa_value, f"SOW {sow.sow_id}: the PSA project's price is not baseline + approved "
                   "change orders", sow.sow_id)
        if sow.closed_on is not None:
            for co in approved:
                t.check(co.approved_on is None or co.approved_on <= sow.closed_on, f"change order "
                        f"{co.change_order_id} approved on {co.approved_on} after SOW {sow.sow_id} closed on "
                        f"{sow.closed_on}", f"<= {sow.closed_on}", co.approved_on, co.change_order_id, sow.sow_id)
        for inv in facts.invoices:
            if inv.sow_id != sow.sow_id:
                continue
            t.check(1 <= inv.contract_version <= want[0], f"invoice {inv.invoice_id} bills against contract version "
                    f"{inv.contract_version}, which does not exist (1..{want[0]})", f"1..{want[0]}",
                    inv.contract_version, inv.invoice_id, sow.sow_id)
            for ln in inv.lines:
                t.same(inv.contract_version, ln.contract_version, f"line {ln.line_id} bills against another version "
                       f"than its invoice {inv.invoice_id}", inv.invoice_id, ln.line_id)
    return t


# --- 8. revenue inputs --------------------------------------------------------------------------------------------

def check_revenue_inputs(facts: Facts) -> Tally:
    """0 <= p = cost / EAC <= 1; cumulative = round(p x price) <= price; period = cumulative - prior;
    billed - recognized = liability (if > 0) or -asset (if < 0)."""
    t = Tally(REVENUE)
    last: dict[str, RevenueFact] = {}
    for r in sorted(facts.revenue, key=lambda r: (r.sow_id, r.closed or "")):
        before = last.get(r.sow_id)
        if before is not None and r.closed is not None:  # each close catches up on the one before
            t.same(before.cumulative, r.prior_cumulative, f"SOW {r.sow_id} {r.closed}: prior cumulative is not "
                   f"{before.closed}'s cumulative revenue", r.sow_id)
        last[r.sow_id] = r
        if not t.check(r.estimate_at_completion > 0 and 0 <= r.cost_to_date <= r.estimate_at_completion,
                       f"SOW {r.sow_id}: progress {r.cost_to_date}/{r.estimate_at_completion} is outside 0..1",
                       "0 <= cost <= EAC", (r.cost_to_date, r.estimate_at_completion), r.sow_id):
            continue
        t.same(money(r.cost_to_date / r.estimate_at_completion * r.price, r.currency), r.cumulative,
               f"SOW {r.sow_id}: cumulative revenue is not round(progress x price)", r.sow_id)
        t.check(r.cumulative <= r.price, f"SOW {r.sow_id}: recognized {r.cumulative} exceeds price {r.price}",
                f"<= {r.price}", r.cumulative, r.sow_id)
        t.same(r.cumulative - r.prior_cumulative, r.period, f"SOW {r.sow_id}: period revenue is not cumulative - "
               "prior", r.sow_id)
        net = r.billed_to_date - r.cumulative
        t.same((max(net, ZERO), max(-net, ZERO)), (r.contract_liability, r.contract_asset), f"SOW {r.sow_id}: "
               f"(contract liability, contract asset) must come from billed {r.billed_to_date} - recognized "
               f"{r.cumulative}", r.sow_id)
        for what, vendor, stated in (("price (the ERP contract's value)", r.vendor_price, r.price),
                                     ("cost to date (approved PSA time at the rate card)", r.vendor_cost_to_date,
                                      r.cost_to_date),
                                     ("estimate at completion (the PSA project's budget)",
                                      r.vendor_estimate_at_completion, r.estimate_at_completion),
                                     ("billed to date (the ERP's milestone invoices)", r.vendor_billed_to_date,
                                      r.billed_to_date)):
            if vendor is not None:
                t.same(vendor, stated, f"SOW {r.sow_id}: the revenue inputs state {what} {stated}, the vendors hold "
                       f"{vendor}", r.sow_id)
    return t


# --- 9. FX --------------------------------------------------------------------------------------------------------

def check_fx(facts: Facts) -> Tally:
    """Time rated in another currency is converted at the rate the books hold for the policy's date, in the right
    direction; receivables are booked at the transaction-date rate; realized gain = round(FC x (settlement -
    booking))."""
    t = Tally(FX)
    partial = _held_under_cap(facts)
    held: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for h in facts.held or []:
        held[h.source_id] += h.amount
    for inv, ln, entry in _time_lines(facts):
        try:
            r = rate_time(facts, inv, entry)
        except NoExpectation:
            continue  # invariant 1 reports what is missing
        if r.card_currency == inv.currency or entry.time_entry_id in partial:
            continue  # no conversion, or partly held under a cap (invariants 1 and 5 judge those)
        got = ln.amount + held[entry.time_entry_id]
        hint = ""
        if got != r.amount and r.fx:
            if got == money(entry.hours * r.rate / r.fx, inv.currency):
                hint = " (the inverse rate was used)"
            elif got == money(entry.hours * r.rate, inv.currency):
                hint = " (not converted)"
        t.same(r.amount, got, f"time entry {entry.time_entry_id}: {entry.hours} h x {r.rate} {r.card_currency} "
               f"at the {r.rate_type} {r.card_currency}->{inv.currency} rate of {r.fx_date} ({r.fx}) is "
               f"{r.amount} {inv.currency}{hint}", entry.time_entry_id, inv.invoice_id, ln.line_id)
    for s in facts.fx_settlements:
        if s.rate_type and facts.fx_rates is not None:
            try:
                want = facts.fx_rates.rate(s.rate_type, s.foreign_currency, s.functional_currency, s.booking_date)
            except Exception as exc:  # noqa: BLE001 - a missing rate is the finding
                t.fail(f"receivable {s.receivable_id}: {getattr(exc, 'message', exc)}", "a booking rate", None,
                       s.receivable_id)
            else:
                t.same(want, s.booking_rate, f"receivable {s.receivable_id} not booked at the {s.booking_date} "
                       f"{s.rate_type} rate", s.receivable_id)
        if not t.check(s.booking_rate > 0 and s.settlement_rate > 0, f"receivable {s.receivable_id}: rates must be "
                       "positive", "> 0", (s.booking_rate, s.settlement_rate), s.receivable_id):
            continue
        t.same(ex.realized_gain(s.foreign_amount, s.booking_rate, s.settlement_rate, s.functional_currency),
               s.recorded_gain_loss, f"receivable {s.receivable_id}: realized FX gain/loss should be "
               f"{s.foreign_amount} {s.foreign_currency} x ({s.settlement_rate} - {s.booking_rate})", s.receivable_id)
    return t


# --- 10. intercompany ---------------------------------------------------------------------------------------------

def check_intercompany(facts: Facts) -> Tally:
    """Invoicing entity = the engagement's contracting entity; time another entity delivered is cross-charged to the
    contracting entity at cost x (1 + markup); each IC receivable equals its mirror payable; eliminations net to
    zero per pair."""
    t = Tally(INTERCOMPANY)
    engagements = _index(facts.engagements, "engagement_id")
    for inv in _live(facts):
        eng = engagements.get(inv.engagement_id)
        if eng is not None:
            t.same(eng.contracting_entity_id, inv.contracting_entity_id, f"invoice {inv.invoice_id} is issued by "
                   f"{inv.contracting_entity_id!r}, the engagement's contracting entity is "
                   f"{eng.contracting_entity_id!r}", inv.invoice_id, eng.engagement_id)
    if facts.cross_charges is not None and facts.intercompany_markup_percent is not None:
        delivered: dict[tuple[str, str], tuple[Decimal, InvoiceEvent]] = {}
        for inv, ln, entry in _time_lines(facts):
            if entry.delivering_entity_id and entry.delivering_entity_id != inv.contracting_entity_id:
                key = (inv.invoice_id, entry.delivering_entity_id)
                delivered[key] = (delivered.get(key, (ZERO, inv))[0] + ln.amount, inv)
        charged = {(c.client_invoice_id, c.delivering_entity_id): c for c in facts.cross_charges}
        for (invoice_id, entity), (cost, inv) in sorted(delivered.items(), key=lambda kv: kv[0]):
            want = ex.cross_charge(cost, facts.intercompany_markup_percent, inv.currency)
            c = charged.pop((invoice_id, entity), None)
            if not t.check(c is not None, f"{entity} delivered {cost} {inv.currency} of invoice {invoice_id}; no "
                           f"cross-charge to {inv.contracting_entity_id} is in the ERP", want, None, invoice_id,
                           entity):
                continue
            t.same((want, inv.currency, inv.contracting_entity_id), (c.amount, c.currency, c.contracting_entity_id),
                   f"cross-charge {c.ref}: {entity} delivered {cost} on {invoice_id}, at "
                   f"{facts.intercompany_markup_percent} % markup", c.ref, invoice_id, entity)
        for c in charged.values():
            t.fail(f"cross-charge {c.ref} from {c.delivering_entity_id} on {c.client_invoice_id} bills time that entity "
                   "did not deliver there", None, c.amount, c.ref)
    pairs: dict[str, list[Any]] = defaultdict(list)
    for e in facts.intercompany:
        pairs[e.pair_id].append(e)
    for pair_id, entries in pairs.items():
        rec = [e for e in entries if e.side == "receivable"]
        pay = [e for e in entries if e.side == "payable"]
        if not t.same((1, 1), (len(rec), len(pay)), f"IC pair {pair_id} needs one receivable and one payable",
                      pair_id):
            continue
        r, p = rec[0], pay[0]
        t.same((r.amount, r.currency), (p.amount, p.currency), f"IC pair {pair_id}: the receivable in {r.entity_id} "
               f"does not mirror the payable in {p.entity_id}", pair_id)
        t.same((r.entity_id, r.counterparty_id), (p.counterparty_id, p.entity_id), f"IC pair {pair_id}: entities "
               "are not each other's counterparty", pair_id)
    elim: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for el in facts.eliminations:
        elim[el.pair_id] += el.amount
    for pair_id, amount in elim.items():
        t.same(ZERO, amount, f"eliminations for IC pair {pair_id} do not net to zero", pair_id)
    return t


# --- 11. tax ------------------------------------------------------------------------------------------------------

def check_tax(facts: Facts) -> Tally:
    """Net = Σ lines, tax = Σ line tax, gross = net + tax; the tax rate is the one the seller and buyer give (same
    country: its standard rate; EU B2B across borders: reverse charge with the buyer's valid VAT id and the note;
    a business elsewhere: outside scope) and the tax is round(net x rate)."""
    t = Tally(TAX)
    clients, entities = _index(facts.clients, "client_id"), _index(facts.legal_entities, "entity_id")
    if facts.tax_documents is not None and facts.credit_memos:  # credited in full: no tax owed, the document void
        for inv in facts.invoices:
            if inv.status != "void" and inv.invoice_id in _credited_in_full(facts):
                _check_tax_document(t, inv, facts.tax_documents.get(inv.invoice_id), "Cancelled")
    for inv in _live(facts):
        net, tax = total(ln.amount for ln in inv.lines), total(ln.tax_amount for ln in inv.lines)
        t.same((net, tax), (inv.net_total, inv.tax_total), f"invoice {inv.invoice_id}: stated net/tax differ from "
               "its lines", inv.invoice_id)
        t.same(inv.net_total + inv.tax_total, inv.gross_total, f"invoice {inv.invoice_id}: gross is not net + tax",
               inv.invoice_id)
        if facts.tax_documents is not None:  # the tax service's own answer is the expectation
            _check_tax_document(t, inv, facts.tax_documents.get(inv.invoice_id), "Committed")
            continue
        client, seller = clients.get(inv.client_id), entities.get(inv.contracting_entity_id)
        if client is None or seller is None or not facts.tax_rates:
            continue
        try:
            want = ex.tax_for(seller.country, client.country, client.is_business, facts.tax_rates)
        except NoExpectation as exc:
            t.fail(f"invoice {inv.invoice_id}: {exc}", "a declared tax rate", None, inv.invoice_id)
            continue
        what = f"invoice {inv.invoice_id} from {seller.country} to {client.country} (business={client.is_business})"
        header = facts.invoice_tax_rates.get(inv.invoice_id)
        if header is not None:
            t.same(want.rate, header, f"{what}: tax rate must be {want.rate} % ({want.code})", inv.invoice_id)
            t.same(money(inv.net_total * want.rate / ex.HUNDRED, inv.currency), inv.tax_total,
                   f"{what}: tax must be round(net {inv.net_total} x {want.rate} %)", inv.invoice_id)
        else:
            for ln in inv.lines:
                t.same((want.code, money(ln.amount * want.rate / ex.HUNDRED, inv.currency)),
                       (ln.tax_code, ln.tax_amount), f"{what}: line {ln.line_id} must carry {want.code} at "
                       f"{want.rate} %", inv.invoice_id, ln.line_id)
        if want.reverse_charge:
            vat_id = inv.customer_vat_id or client.vat_id
            t.check(ex.vat_id_valid(vat_id, client.country), f"{what}: reverse charge needs the customer's valid VAT "
                    "id", f"a {client.country} VAT id", vat_id, inv.invoice_id)
            note = inv.reverse_charge_note or facts.invoice_notes.get(inv.invoice_id, "")
            t.check("reverse charge" in (note or "").lower(), f"{what}: reverse charge without the reverse-charge "
                    "note", "a reverse-charge note", note, inv.invoice_id)
    return t


def _check_tax_document(t: Tally, inv: InvoiceEvent, doc: TaxDocumentFact | None, status: str) -> None:
    """An invoice taxed by the service: its document (code = invoice id) is committed (voided once the invoice is
    credited in full), for the invoice's net, and the invoice carries exactly the tax the document holds, which is
    the sum of its lines and of its jurisdictions."""
    what = f"invoice {inv.invoice_id}"
    if not t.check(doc is not None, f"{what}: posted without a tax document in the tax service",
                   "a committed document with code = the invoice id", None, inv.invoice_id):
        return
    assert doc is not None
    t.same(status, doc.status, f"{what}: its tax document is {doc.status}, not {status}", inv.invoice_id)
    t.same(inv.net_total, doc.total_amount, f"{what}: the tax service taxed another amount than the invoice's net",
           inv.invoice_id)
    t.same(doc.total_tax, inv.tax_total, f"{what}: the ERP's tax is not the tax service's", inv.invoice_id)
    t.same(doc.total_tax, total(doc.line_tax), f"{what}: the document's lines do not add up to its tax",
           inv.invoice_id)
    t.same(doc.total_tax, total(doc.jurisdictions.values()), f"{what}: the document's jurisdictions do not add up "
           "to its tax", inv.invoice_id)


# --- 12. credit memos ---------------------------------------------------------------------------------------------

def check_credit_memos(facts: Facts) -> Tally:
    """Each credit memo references exactly one existing invoice, in its currency; Σ credits <= invoice total; no
    invoice seen before has disappeared."""
    t = Tally(CREDIT_MEMOS)
    invoices = _index(facts.invoices, "invoice_id")
    credited: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for cm in facts.credit_memos:
        inv = invoices.get(cm.invoice_id)
        if not t.check(inv is not None, f"credit memo {cm.credit_memo_id} references unknown invoice "
                       f"{cm.invoice_id}", "an existing invoice", cm.invoice_id, cm.credit_memo_id):
            continue
        t.same(inv.currency, cm.currency, f"credit memo {cm.credit_memo_id} is in another currency than invoice "
               f"{inv.invoice_id}", cm.credit_memo_id, inv.invoice_id)
        credited[inv.invoice_id] += cm.amount
    for invoice_id, amount in credited.items():
        gross = invoices[invoice_id].gross_total
        t.check(amount <= gross, f"credits on invoice {invoice_id} total {amount}, above its gross {gross}",
                f"<= {gross}", amount, invoice_id)
    for invoice_id in sorted(facts.previously_seen_invoice_ids):
        t.check(invoice_id in invoices, f"invoice {invoice_id} was deleted (credit it instead)", invoice_id, None,
                invoice_id)
    memos = _index(facts.credit_memos, "credit_memo_id")
    for rb in facts.rebills:
        _check_rebill(t, rb, invoices, memos.get(rb.credit_memo_id))
    return t


def _line_key(ln: InvoiceLine) -> tuple[str, tuple[str, ...], Decimal]:
    return ln.kind, tuple(sorted(ln.source_ids)), ln.amount


def _check_rebill(t: Tally, rb: RebillFact, invoices: Mapping[str, InvoiceEvent], cm: CreditMemo | None) -> None:
    """Credit and rebill: the credit memo reverses the invoice it was created from in full (gross, tax included)
    and is applied to nothing else; it and the re-invoice name each other; the re-invoice bills exactly the
    credited invoice's lines but the written-off entries', for the same customer, entity and currency."""
    refs = (rb.credit_memo_id, rb.credited_invoice_id)
    inv = invoices.get(rb.credited_invoice_id)
    if cm is None or inv is None:
        return  # an unknown invoice is already a violation above
    t.same(inv.gross_total, cm.amount, f"credit memo {cm.credit_memo_id} credits {cm.amount}, not the gross "
           f"{inv.gross_total} of invoice {inv.invoice_id} it replaces", *refs)
    t.check(set(rb.applied_to) <= {inv.invoice_id}, f"credit memo {cm.credit_memo_id} is applied to "
            f"{sorted(rb.applied_to)}, not only to invoice {inv.invoice_id} it was created from",
            [inv.invoice_id], sorted(rb.applied_to), *refs)
    new = invoices.get(rb.reinvoice_id or "")
    if not t.check(new is not None, f"credit memo {cm.credit_memo_id} names re-invoice {rb.reinvoice_id!r}, which "
                   "the ERP does not hold", "an existing re-invoice", rb.reinvoice_id, *refs):
        return
    t.same((inv.invoice_id, cm.credit_memo_id), rb.reinvoice_cites, f"re-invoice {new.invoice_id} does not name "  # type: ignore[union-attr]
           f"the invoice and credit memo it replaces", new.invoice_id, *refs)  # type: ignore[union-attr]
    t.same((inv.client_id, inv.contracting_entity_id, inv.currency),
           (new.client_id, new.contracting_entity_id, new.currency),  # type: ignore[union-attr]
           f"re-invoice {new.invoice_id} bills another customer, entity or currency than {inv.invoice_id}",  # type: ignore[union-attr]
           new.invoice_id, *refs)  # type: ignore[union-attr]
    want = sorted(_line_key(ln) for ln in inv.lines if not set(ln.source_ids) & rb.written_off)
    t.same(want, sorted(_line_key(ln) for ln in new.lines),  # type: ignore[union-attr]
           f"re-invoice {new.invoice_id} does not bill exactly the lines of {inv.invoice_id} without the written-off "  # type: ignore[union-attr]
           f"entries {sorted(rb.written_off)}", new.invoice_id, *refs)  # type: ignore[union-attr]


# --- 13. cash application -----------------------------------------------------------------------------------------

def check_cash_application(facts: Facts) -> Tally:
    """Payment = Σ applied + unapplied + deductions; unapplied >= 0; Σ applied to an invoice <= gross - credits;
    status is Paid exactly when the open balance is zero; the CRM shows the status and amounts of the invoice it
    names as the ERP holds them."""
    t = Tally(CASH)
    payments = _index(facts.payments, "payment_id")
    applied: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for app in facts.cash_applications:
        for a in app.applications:
            applied[a.invoice_id] += a.amount
        t.check(app.unapplied >= 0, f"cash application {app.application_id}: unapplied is negative", ">= 0",
                app.unapplied, app.application_id, app.payment_id)
        p = payments.get(app.payment_id)
        if not t.check(p is not None, f"cash application {app.application_id} cites unknown payment "
                       f"{app.payment_id}", "a known payment", None, app.application_id):
            continue
        t.same(p.amount, total(a.amount for a in app.applications) + app.unapplied + app.deductions,  # type: ignore[union-attr]
               f"payment {app.payment_id}: applied + unapplied + deductions is not the payment", app.payment_id,
               app.application_id)
    credits: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for cm in facts.credit_memos:
        credits[cm.invoice_id] += cm.amount
    by_number: dict[str, InvoiceEvent] = {}
    for inv in facts.invoices:
        by_number[inv.xref.get("netsuite_tran_id", inv.invoice_id)] = inv
        if inv.status in ("draft", "void"):
            continue
        open_balance = inv.gross_total - credits[inv.invoice_id] - applied[inv.invoice_id]
        t.check(open_balance >= 0, f"invoice {inv.invoice_id}: applied {applied[inv.invoice_id]} exceeds its open "
                "balance", f"<= {inv.gross_total - credits[inv.invoice_id]}", applied[inv.invoice_id], inv.invoice_id)
        t.same("paid" if open_balance == 0 else "not paid", "paid" if inv.status == "paid" else "not paid",
               f"invoice {inv.invoice_id} is {inv.status!r} with open balance {open_balance}", inv.invoice_id)
    if facts.gateway_payments is not None:
        _check_gateway_cash(t, facts)
    for c in facts.crm:
        inv = by_number.get(c.invoice_number or "")
        if not t.check(inv is not None and inv.engagement_id == c.engagement_id, f"engagement {c.engagement_id}: the "
                       f"CRM names invoice {c.invoice_number!r}, not one of its invoices in the ERP",
                       "an invoice of the engagement", c.invoice_number, c.engagement_id):
            continue
        paid = applied[inv.invoice_id]  # type: ignore[union-attr]
        t.same((facts.crm_status_labels.get(inv.status, inv.status), inv.gross_total, paid),  # type: ignore[union-attr]
               (c.status, c.amount_invoiced, c.amount_paid), f"engagement {c.engagement_id}: the CRM's (status, "
               f"invoiced, paid) for invoice {c.invoice_number} differ from the ERP's", c.engagement_id,
               inv.invoice_id)  # type: ignore[union-attr]
    return t


def _check_gateway_cash(t: Tally, facts: Facts) -> None:
    """Each gateway payment is one ERP payment holding what was received net of refunds; per currency, cash applied
    in the ERP = payments received at the gateway - unapplied in the ERP - refunds at the gateway."""
    apps = _index(facts.cash_applications, "payment_id")
    erp_of: dict[str, list[str]] = defaultdict(list)
    for pid, intent in facts.erp_payment_intent.items():
        erp_of[intent].append(pid)
    pays = _index(facts.payments, "payment_id")
    for g in facts.gateway_payments or []:
        got = erp_of.get(g.intent_id, [])
        if not t.same(1, len(got), f"gateway payment {g.intent_id} is {len(got)} payment(s) in the ERP {got}",
                      g.intent_id, *got):
            continue
        p = pays.get(got[0])
        t.same(g.received - g.refunded, p.amount if p else None, f"gateway payment {g.intent_id}: the ERP payment "
               f"is not what was received ({g.received}) net of refunds ({g.refunded})", g.intent_id, got[0])
    for currency in sorted({g.currency for g in facts.gateway_payments or []}):
        gw = [g for g in facts.gateway_payments or [] if g.currency == currency]
        ours = [apps[p] for p, i in facts.erp_payment_intent.items() if p in apps and apps[p].currency == currency]
        applied = total(a.applied_total for a in ours)
        want = total(g.received for g in gw) - total(a.unapplied for a in ours) - total(g.refunded for g in gw)
        t.same(want, applied, f"{currency}: cash applied in the ERP is not payments received - unapplied - refunds",
               currency)


CHECKS: dict[str, Callable[[Facts], Tally]] = {
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


def result_of(tally: Tally, not_applicable: str | None = None) -> InvariantResult:
    return InvariantResult(tally.invariant, tally.checked, list(tally.violations), not_applicable)


def evaluate(facts: Facts, *, only: Iterable[str] | None = None,
             not_applicable: Mapping[str, str] | None = None) -> dict[str, InvariantResult]:
    """Every invariant check (1-13), or ``only`` those, with what each checked."""
    na = dict(not_applicable or {})
    names = [n for n in CHECKS if only is None or n in set(only)]
    return {n: result_of(CHECKS[n](facts), na.get(n)) for n in names}


def check_all(facts: Facts) -> list[Violation]:
    """Every violation of invariants 1-13, in invariant order."""
    return [v for r in evaluate(facts).values() for v in r.violations]
