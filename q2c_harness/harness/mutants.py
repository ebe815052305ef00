"""Mutants: plausible integration bugs injected into the core, one at a time, to prove the scenario suite catches
them (`q2c scenario prove`, harness/prove.py).

A mutant names where the core looks a function up (``"q2c_harness.flows.time_to_invoice:rate_time_entry"``: the
module attribute the flow calls, so patching it changes what the flow does) and how the bug changes it:

- ``result=f``: ``f(out, *args, **kwargs)`` turns the real result into the buggy one;
- ``args=f``: ``f(args, kwargs) -> (args, kwargs)`` changes what the real function is called with;
- ``replace=f``: ``f(original, witness) -> function`` for bugs that change behaviour, which call
  ``witness.changed()`` where they deviate.

The witness counts how often the mutated code ran and how often it changed something (an output or the call);
a mutant whose code never ran, or never changed anything, was not reached: the suite has no scenario for it.

Users register their own: a Python file given to ``q2c scenario prove --mutants FILE`` that defines
``MUTANTS = [Mutant(...), ...]``, or an entry point in the group ``q2c_harness.mutants`` naming such a list.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "q2c_harness.mutants"


@dataclass
class Witness:
    calls: int = 0
    changes: int = 0

    def ran(self) -> None:
        self.calls += 1

    def changed(self) -> None:
        self.changes += 1


@dataclass(frozen=True)
class Mutant:
    id: str  # "area.bug", e.g. "rating.ten_percent_over"
    bug: str  # the bug, as a reviewer would describe it
    targets: tuple[str, ...]  # "module:attribute[.attribute]" where the core looks the function up
    result: Callable[..., Any] | None = None
    args: Callable[[tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]] | None = None
    replace: Callable[[Callable[..., Any], Witness], Callable[..., Any]] | None = None
    scenarios: tuple[str, ...] = ()  # scenarios expected to reach it (run first)
    guards: tuple[str, ...] = ()  # the invariants or expectations meant to catch it (documentation)

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.result, self.args, self.replace)) != 1:
            raise ValueError(f"mutant {self.id}: give exactly one of result, args, replace")
        if not self.targets:
            raise ValueError(f"mutant {self.id}: no target")

    def wrap(self, original: Callable[..., Any], witness: Witness) -> Callable[..., Any]:
        if self.replace is not None:
            fn = self.replace(original, witness)

            def replaced(*a: Any, **k: Any) -> Any:
                witness.ran()
                return fn(*a, **k)
            return replaced
        result, args = self.result, self.args

        def mutated(*a: Any, **k: Any) -> Any:
            witness.ran()
            if args is not None:
                a2, k2 = args(a, dict(k))
                if (a2, k2) != (a, k):
                    witness.changed()
                return original(*a2, **k2)
            out = original(*a, **k)
            new = result(out, *a, **k)  # type: ignore[misc]
            if new != out:
                witness.changed()
            return new
        return mutated


def resolve(target: str) -> tuple[Any, str]:
    """(owner object, attribute name) of ``"module:attr"`` or ``"module:Class.method"``; ImportError /
    AttributeError when the core has moved it (the catalogue must follow the core)."""
    module, _, path = target.partition(":")
    owner: Any = importlib.import_module(module)
    *parents, name = path.split(".")
    for p in parents:
        owner = getattr(owner, p)
    getattr(owner, name)  # it must exist
    return owner, name


def activate(mutant: Mutant) -> Witness:
    """Patch every target with the mutated function (for the rest of this process)."""
    witness = Witness()
    for target in mutant.targets:
        owner, name = resolve(target)
        original = getattr(owner, name)
        if isinstance(owner, type) and isinstance(owner.__dict__.get(name), (staticmethod, classmethod)):
            raise TypeError(f"mutant {mutant.id}: {target} is a static/class method; target its callers")
        setattr(owner, name, mutant.wrap(original, witness))
    return witness


# ---- helpers the catalogue's bugs are written with --------------------------------------------------------------
_counter = itertools.count(1)


def _replace_fields(obj: Any, **changes: Any) -> Any:
    if hasattr(obj, "model_copy"):
        return obj.model_copy(update=changes)
    return dataclasses.replace(obj, **changes)


def _kw(**changes: Callable[[Any], Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]:
    """An ``args`` bug that rewrites keyword arguments: ``_kw(currency=lambda c: "USD")``."""
    def f(a: tuple[Any, ...], k: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        k = dict(k)
        for name, change in changes.items():
            if name in k:
                k[name] = change(k[name])
        return a, k
    return f


def _tax_rate_25(out: Any, *a: Any, **k: Any) -> Any:
    return dataclasses.replace(out, rate_percent=Decimal("25")) if out.rate_percent == Decimal("20") else out


def _no_uk_vat(out: Any, seller: Any, *a: Any, **k: Any) -> Any:
    return dataclasses.replace(out, tax_code="OUTSIDE_SCOPE", rate_percent=Decimal("0")) \
        if seller.country == "GB" else out


def _no_reverse_charge(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def determine(seller: Any, customer: Any, rates: Any) -> Any:
        out = original(seller, customer, rates)
        if out.tax_code == "REVERSE_CHARGE":
            w.changed()
            return dataclasses.replace(out, tax_code="STANDARD", rate_percent=rates[seller.country], note=None)
        return out
    return determine


def _previous_version(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def version_on(card: Any, on: Any) -> Any:
        v = original(card, on)
        older = [x for x in card.versions if x.effective_from < v.effective_from]
        if older:
            w.changed()
            return max(older, key=lambda x: x.effective_from)
        return v
    return version_on


def _inverse_fx(out: Decimal, *a: Any, **k: Any) -> Decimal:
    return (Decimal(1) / out).quantize(Decimal("0.000001")) if out != 1 else out


def _invoice_date_fx(a: tuple[Any, ...], k: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    policy = a[0] if a else k["policy"]
    return a, {**k, "work_date": k["invoice_date"]} if policy.rate_date_rule == "work_date" else k


def _drop_last_line(a: tuple[Any, ...], k: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    lines = k.get("lines", [])
    return a, {**k, "lines": lines[:-1]} if len(lines) > 1 else k


def _duplicate_first_line(a: tuple[Any, ...], k: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    lines = k.get("lines", [])
    if not lines:
        return a, k
    dup = lines[0].model_copy(update={"line_id": lines[0].line_id + "-2"})
    return a, {**k, "lines": [*lines, dup]}


def _per_delivery_key(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def handle(self: Any, source: str, event_id: str, *rest: Any, **kw: Any) -> Any:
        if source == "psa":
            w.changed()
            event_id = f"{event_id}.{next(_counter)}"  # keyed by the delivery, not the event
        return original(self, source, event_id, *rest, **kw)
    return handle


def _key_per_attempt(out: str, *a: Any, **k: Any) -> str:
    return f"{out}:attempt-{next(_counter)}"


def _baseline_lost(out: Any, sow: Any, co: Any) -> Any:
    return out.model_copy(update={"baseline": out.current})


def _applied_twice(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def apply(sow: Any, co: Any) -> Any:
        once = original(sow, co)
        w.changed()
        return original(once, co.model_copy(update={"number": co.number + 1}))
    return apply


def _milestone_ninety_percent(out: Any, *a: Any, **k: Any) -> Any:
    amount = (out.amount * Decimal("0.9")).quantize(Decimal("0.01"))
    return out.model_copy(update={"amount": amount, "unit_price": amount})


def _bill_milestone_on_rejection(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def plan(ctx: Any, event: dict[str, Any], record: dict[str, Any], cid: str) -> Any:
        if event.get("event_type") == "billing_milestone:rejected":
            w.changed()  # bills what the client rejected, as if accepted that day
            event = {**event, "event_type": "billing_milestone:accepted"}
            record = {**record, "acceptance_state": "accepted",
                      "accepted_at": record.get("rejected_at") or record.get("updated_at")}
        return original(ctx, event, record, cid)
    return plan


def _retainer_not_capped(out: Decimal, *a: Any, **k: Any) -> Decimal:
    return out + Decimal("10000")  # counts receipts the client has not paid


def _no_drawdown(out: tuple[Any, dict[str, Any]], *a: Any, **k: Any) -> tuple[Any, dict[str, Any]]:
    line, info = out
    return (None, {**info, "drawdown": "0"}) if line is not None else out


def _no_cross_charges(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def write(ctx: Any, rated: dict[str, Any]) -> list[dict[str, Any]]:
        if rated.get("charges"):
            w.changed()
        return []
    return write


def _first_entity(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def contracting(self: Any, country: str) -> Any:
        right = original(self, country)
        first = self.legal_entities[sorted(self.legal_entities)[0]]
        if first.entity_id != right.entity_id:
            w.changed()
        return first
    return contracting


def _skip_cash_status(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def write(self: Any, flow: str, business_key: str, step: str, **kw: Any) -> Any:
        if step == "sf-payment-status":
            w.changed()
            return {"id": None}
        return original(self, flow, business_key, step, **kw)
    return write


def _other_engagement(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def engagement_of_invoice(self: Any, invoice_id: str) -> str | None:
        right = original(self, invoice_id)
        others = sorted(e["engagement"]["engagement_id"] for e in self.engagements()
                        if e["engagement"]["engagement_id"] != right)
        if right is not None and others:
            w.changed()
            return others[0]
        return right
    return engagement_of_invoice


def _swallow_business_errors(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    from q2c_harness.errors import BusinessError

    def owned(area: str, ctx: Any, fn: Callable[..., Any]) -> Callable[..., Any]:
        inner = original(area, ctx, fn)

        def run(message: dict[str, Any]) -> Any:
            try:
                return inner(message)
            except BusinessError:
                w.changed()  # logged nowhere, parked nowhere: the work is silently dropped
                return {"status": "done"}
        run.__name__, run.__qualname__ = inner.__name__, inner.__qualname__
        return run
    return owned


def _bill_everything(out: list[Any], entries: Iterable[Any], *a: Any, **k: Any) -> list[Any]:
    return list(entries)


def _period_of_next_month(out: str, *a: Any, **k: Any) -> str:
    year, month = int(out[:4]), int(out[5:7])
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def _round_down(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    from decimal import ROUND_DOWN

    def round_money(amount: Decimal, currency: str) -> Decimal:
        right = original(amount, currency)
        down = amount.quantize(Decimal(1).scaleb(right.as_tuple().exponent), rounding=ROUND_DOWN)
        if down != right:
            w.changed()
        return down
    return round_money


def _default_rate_card(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def terms(ctx: Any, opp: dict[str, Any]) -> dict[str, Any]:
        out = original(ctx, opp)
        if out["rate_card_id"] != ctx.ref.default_rate_card:
            w.changed()  # ignores the rate card sales put on the opportunity
            return {**out, "rate_card_id": ctx.ref.default_rate_card}
        return out
    return terms


def _tax_fallback(error_class: str) -> Callable[[Callable[..., Any], Witness], Callable[..., Any]]:
    """quote_tax that, on an error of ``error_class``, posts the invoice with the rate table's tax instead."""
    def make(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
        from q2c_harness import errors

        cls = getattr(errors, error_class)

        def quote(ctx: Any, rated: dict[str, Any]) -> dict[str, Any]:
            try:
                return original(ctx, rated)
            except cls:
                w.changed()
                return rated
        return quote
    return make


def _tax_not_committed(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def commit(ctx: Any, invoice_id: str) -> dict[str, Any]:
        w.changed()
        return {"code": invoice_id, "status": "Saved"}
    return commit


def _tax_not_voided(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def void(ctx: Any, invoice_id: str, reason: str = "DocVoided") -> Any:
        if getattr(ctx.vendors, "tax", None) is not None:
            w.changed()  # the credited invoice's tax stays committed: reported to the authorities as owed
        return None
    return void


def _no_tax_service(out: bool, *a: Any, **k: Any) -> bool:
    return False


def _rate_to_cents(out: Decimal, *a: Any, **k: Any) -> Decimal:
    return out.quantize(Decimal("0.01"))


def _refunds_ignored(original: Callable[..., Any], w: Witness) -> Callable[..., Any]:
    def apply(ctx: Any, intent: dict[str, Any], refunds: list[dict[str, Any]], ns_payment_id: str) -> dict[str, Any]:
        w.changed()  # the refund is taken in, and the ERP payment keeps the refunded cash
        return {"id": ns_payment_id}
    return apply


def _all_to_first_invoice(out: dict[str, Decimal], amount: Decimal, *a: Any, **k: Any) -> dict[str, Decimal]:
    first = next(iter(out), None)
    return {first: amount, **{i: Decimal(0) for i in out if i != first}} if first is not None else out


def _minor_as_major(out: Decimal, amount: int, currency: str) -> Decimal:
    return Decimal(int(amount)).quantize(out)


def _credit_net_only(out: tuple[dict[str, Any], list[Any]], *a: Any, **k: Any) -> tuple[dict[str, Any], list[Any]]:
    body, lines = out
    return {**body, "taxRate": "0"}, lines  # the tax the invoice charged is not credited


def _rebill_everything(out: list[Any], lines: Iterable[Any], *a: Any, **k: Any) -> list[Any]:
    return list(lines)


def _no_back_reference(a: tuple[Any, ...], k: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return a, {**k, "memo_note": None} if k.get("memo_note") else k


def _baseline_price(out: Decimal, sow: Any, *a: Any, **k: Any) -> Decimal:
    return sow.baseline.value  # the change order never reaches the transaction price


def _asset_for_liability(out: Any, *a: Any, **k: Any) -> Any:
    return dataclasses.replace(out, contract_asset=out.contract_liability, contract_liability=out.contract_asset)


def _no_proration(out: Any, plan: Any, *a: Any, **k: Any) -> Any:
    if out is None or out.amount == plan.amount_per_period:
        return out
    return dataclasses.replace(out, amount=plan.amount_per_period)  # a part month billed as a whole one


def _open_units_too(out: list[Any], stories: list[Any], period: str, *a: Any, **k: Any) -> list[Any]:
    return [s for s in stories if s.get("story_type") == "issue" and str(s.get("due_date") or "")[:7] == period]


T2I = "q2c_harness.flows.time_to_invoice"
RI = "q2c_harness.flows.revenue_inputs"
CR = "q2c_harness.flows.credit_and_rebill"
CASH = "q2c_harness.flows.cash_to_crm"
TAXSVC = "q2c_harness.flows.tax_service"
MS = "q2c_harness.flows.milestone_to_invoice"
Q2P = "q2c_harness.flows.quote_to_project"

BUILTIN: list[Mutant] = [
    Mutant("rating.ten_percent_over", "time rated 10 % over the rate card", (f"{T2I}:rate_time_entry",),
           result=lambda out, *a, **k: _replace_fields(out, amount=(out.amount * Decimal("1.1")).quantize(
               Decimal("0.01"))), scenarios=("multi_entity_tm",), guards=("1.tm_rating",)),
    Mutant("rating.previous_card_version", "after a rate change, time is rated with the previous rate-card version",
           ("q2c_harness.billing.rating:rate_card_version_on",), replace=_previous_version,
           scenarios=("multi_entity_tm",), guards=("1.tm_rating",)),
    Mutant("rating.default_rate_card", "the firm's default rate card instead of the one sales put on the deal",
           (f"{Q2P}:tm_terms",), replace=_default_rate_card, scenarios=("cross_border_vat_fx",),
           guards=("1.tm_rating",)),
    Mutant("rating.rounded_down", "line amounts truncated instead of rounded half up",
           ("q2c_harness.billing.rating:round_money",), replace=_round_down, scenarios=("cross_border_vat_fx",),
           guards=("1.tm_rating", "9.fx")),
    Mutant("fx.inverse_rate", "the FX rate applied the wrong way round (EUR->USD for USD->EUR)",
           ("q2c_harness.billing.fx:FxRateTable.rate",), result=_inverse_fx, scenarios=("cross_border_vat_fx",),
           guards=("9.fx", "1.tm_rating")),
    Mutant("fx.invoice_date", "the FX rate of the invoice date instead of the contract's work-date rule",
           ("q2c_harness.billing.rating:fx_rate_date",), args=_invoice_date_fx, scenarios=("cross_border_vat_fx",),
           guards=("9.fx",)),
    Mutant("tax.vat_25_percent", "UK VAT at 25 % instead of 20 %",
           (f"{T2I}:determine_tax", f"{MS}:determine_tax", f"{Q2P}:determine_tax"), result=_tax_rate_25,
           scenarios=("cross_border_vat_fx", "fixed_fee_change_order"), guards=("11.tax",)),
    Mutant("tax.no_uk_vat", "no VAT on invoices of the UK entity",
           (f"{T2I}:determine_tax", f"{MS}:determine_tax", f"{Q2P}:determine_tax"), result=_no_uk_vat,
           scenarios=("cross_border_vat_fx", "fixed_fee_change_order"), guards=("11.tax",)),
    Mutant("tax.no_reverse_charge", "VAT charged on an EU cross-border B2B service",
           (f"{T2I}:determine_tax", f"{MS}:determine_tax", f"{Q2P}:determine_tax"), replace=_no_reverse_charge,
           scenarios=("cross_border_vat_fx",), guards=("11.tax",)),
    Mutant("tax.service_ignored", "the tax service configured but never asked: the rate table's tax is posted",
           (f"{TAXSVC}:uses_tax_service",), result=_no_tax_service, scenarios=("tax_service_outage",),
           guards=("11.tax", "expectations")),
    Mutant("tax.untaxed_when_refused", "an invoice the tax service cannot tax (incomplete address) posted untaxed",
           (f"{TAXSVC}:quote_tax",), replace=_tax_fallback("BusinessError"), scenarios=("tax_service_outage",),
           guards=("11.tax", "expectations")),
    Mutant("tax.outage_fallback", "during a tax-service outage the rate table's tax is posted and never reconciled",
           (f"{TAXSVC}:quote_tax",), replace=_tax_fallback("TransientError"), scenarios=("tax_service_outage",),
           guards=("11.tax", "expectations")),
    Mutant("tax.not_committed", "the tax document is never committed once the invoice posts",
           (f"{TAXSVC}:commit_tax",), replace=_tax_not_committed, scenarios=("tax_service_outage",),
           guards=("11.tax",)),
    Mutant("tax.credit_not_voided", "an invoice credited in full keeps its tax document committed",
           (f"{TAXSVC}:void_tax",), replace=_tax_not_voided, scenarios=("disputed_invoice_refunded",),
           guards=("11.tax",)),
    Mutant("tax.rate_to_cents", "the service's tax posted to NetSuite as a rate rounded to two decimals",
           ("q2c_harness.connectors.mapping.tax:effective_rate",), result=_rate_to_cents,
           scenarios=("tax_service_outage",), guards=("11.tax", "expectations")),
    Mutant("billing.line_dropped", "the last line of an invoice is dropped", (f"{T2I}:assemble_invoice",),
           args=_drop_last_line, scenarios=("multi_entity_tm",), guards=("expectations", "1.tm_rating")),
    Mutant("billing.line_duplicated", "the first line of an invoice is billed twice", (f"{T2I}:assemble_invoice",),
           args=_duplicate_first_line, scenarios=("multi_entity_tm",), guards=("2.eligibility_traceability",)),
    Mutant("billing.unbillable_time_billed", "non-billable time is billed", (f"{T2I}:select_billable",),
           result=_bill_everything, scenarios=("fixed_fee_change_order",), guards=("2.eligibility_traceability",)),
    Mutant("billing.wrong_period", "approved time staged for the next month's billing run", (f"{T2I}:period_of",),
           result=_period_of_next_month, scenarios=("duplicates_and_replay",), guards=("expectations",)),
    Mutant("cap.ignored", "time billed past the statement of work's not-to-exceed cap",
           (f"{T2I}:bill_time_and_materials",), args=_kw(not_to_exceed=lambda cap: None),
           scenarios=("cross_border_vat_fx",), guards=("5.not_to_exceed_cap",)),
    Mutant("inbox.dedupe_off", "PSA events keyed by the delivery, so a redelivered event is taken in again",
           ("q2c_harness.flows.intake:Intake._handle",), replace=_per_delivery_key,
           scenarios=("duplicates_and_replay",), guards=("14.exactly_once",)),
    Mutant("idempotency.key_per_attempt", "an idempotency key that changes per attempt",
           ("q2c_harness.flows.context:key_for",), result=_key_per_attempt, scenarios=("duplicates_and_replay",),
           guards=("14.replay_idempotent", "14.xref_one_to_one")),
    Mutant("change_order.baseline_lost", "the change order overwrites the signed baseline",
           ("q2c_harness.flows.change_order:apply_change_order",), result=_baseline_lost,
           scenarios=("fixed_fee_change_order",), guards=("7.change_orders",)),
    Mutant("change_order.applied_twice", "a change order applied twice",
           ("q2c_harness.flows.change_order:apply_change_order",), replace=_applied_twice,
           scenarios=("fixed_fee_change_order",), guards=("7.change_orders",)),
    Mutant("milestone.ninety_percent", "a milestone billed at 90 % of its amount", (f"{MS}:bill_milestone",),
           result=_milestone_ninety_percent, scenarios=("fixed_fee_change_order",), guards=("4.fixed_fee",)),
    Mutant("milestone.billed_when_rejected", "a rejected milestone billed as if accepted",
           (f"{MS}:plan_milestone_invoice",), replace=_bill_milestone_on_rejection,
           scenarios=("exceptions_and_resolution",), guards=("4.fixed_fee",)),
    Mutant("retainer.overdrawn", "the retainer balance counts cash not received, so a drawdown overdraws it",
           (f"{T2I}:retainer_received",), result=_retainer_not_capped, scenarios=("retainer_drawdown",),
           guards=("6.retainers",)),
    Mutant("retainer.no_drawdown", "time billed in full with retainer money left", (f"{T2I}:draw_down",),
           result=_no_drawdown, scenarios=("retainer_drawdown",), guards=("6.retainers",)),
    Mutant("intercompany.omitted", "no cross-charge for time another entity delivered",
           (f"{T2I}:write_cross_charges",), replace=_no_cross_charges, scenarios=("multi_entity_tm",),
           guards=("10.intercompany",)),
    Mutant("intercompany.markup_ignored", "cross-charges at a flat 5 % whatever markup is agreed",
           (f"{T2I}:cross_charge",), args=_kw(markup_percent=lambda m: Decimal("5")),
           scenarios=("multi_entity_tm",), guards=("10.intercompany",)),
    Mutant("entity.wrong_subsidiary", "every client contracted with the first subsidiary",
           ("q2c_harness.flows.reference:ReferenceData.contracting_entity",), replace=_first_entity,
           scenarios=("cross_border_vat_fx", "multi_entity_tm"), guards=("10.intercompany",)),
    Mutant("entity.base_currency", "invoices in the account's base currency (USD) whatever the contract says",
           (f"{T2I}:assemble_invoice", f"{MS}:assemble_invoice"), args=_kw(currency=lambda c: "USD"),
           scenarios=("fixed_fee_change_order", "cross_border_vat_fx"), guards=("expectations",)),
    Mutant("cash.wrong_engagement", "a payment's status written to another engagement's opportunity",
           ("q2c_harness.flows.store:FlowStore.engagement_of_invoice",), replace=_other_engagement,
           scenarios=("exceptions_and_resolution",), guards=("13.cash_application",)),
    Mutant("cash.status_not_written", "the paid status never reaches the CRM",
           ("q2c_harness.flows.context:FlowContext.write",), replace=_skip_cash_status,
           scenarios=("multi_entity_tm",), guards=("13.cash_application",)),
    Mutant("credit_memo.net_only", "a credit memo credits the invoice's net and leaves its VAT owed",
           (f"{CR}:credit_memo_body",), result=_credit_net_only, scenarios=("credit_and_rebill",),
           guards=("12.credit_memos", "13.cash_application")),
    Mutant("credit_memo.written_off_rebilled", "the re-invoice bills the written-off entries again",
           (f"{CR}:kept_lines",), result=_rebill_everything, scenarios=("credit_and_rebill",),
           guards=("12.credit_memos", "expectations")),
    Mutant("credit_memo.unlinked_reinvoice", "the re-invoice does not name the invoice and credit memo it replaces",
           (f"{CR}:write_invoice",), args=_no_back_reference, scenarios=("credit_and_rebill",),
           guards=("12.credit_memos",)),
    Mutant("revenue.baseline_price", "revenue recognized on the signed price, the change order left out",
           (f"{RI}:transaction_price",), result=_baseline_price, scenarios=("fixed_fee_change_order",),
           guards=("8.revenue_inputs", "expectations")),
    Mutant("revenue.asset_for_liability", "billing ahead of revenue reported as a contract asset, not a liability",
           (f"{RI}:contract_position",), result=_asset_for_liability, scenarios=("fixed_fee_change_order",),
           guards=("8.revenue_inputs",)),
    Mutant("recurring.no_proration", "a managed-services fee billed in full for the part months of its term",
           (f"{T2I}:monthly_fee_for",), result=_no_proration, scenarios=("managed_services",),
           guards=("4.fixed_fee", "expectations")),
    Mutant("usage.open_units_billed", "metered usage billed for units still open in the PSA",
           (f"{T2I}:completed_units",), result=_open_units_too, scenarios=("usage_billing",),
           guards=("2.eligibility_traceability", "expectations")),
    Mutant("cash.refund_ignored", "a gateway refund taken in but never netted off the ERP payment",
           (f"{CASH}:apply_gateway_refunds",), replace=_refunds_ignored,
           scenarios=("partial_payment_then_rest", "payment_disruption"), guards=("13.cash_application",)),
    Mutant("cash.all_to_first_invoice", "a gateway payment applied in full to the first invoice it names",
           (f"{CASH}:allocate",), result=_all_to_first_invoice, scenarios=("partial_payment_then_rest",),
           guards=("expectations", "13.cash_application")),
    Mutant("cash.cents_as_units", "the gateway's amounts (in cents) read as currency units",
           ("q2c_harness.connectors.mapping.payments:from_minor",), result=_minor_as_major,
           scenarios=("partial_payment_then_rest",), guards=("13.cash_application", "expectations")),
    Mutant("exceptions.swallowed", "a business exception swallowed instead of parked",
           (f"{T2I}:owned", f"{MS}:owned"), replace=_swallow_business_errors,
           scenarios=("exceptions_and_resolution",), guards=("expectations",)),
]


def load_file(path: str | Path) -> list[Mutant]:
    """``MUTANTS`` from a user's Python file."""
    p = Path(path)
    spec = importlib.util.spec_from_file_location(f"q2c_user_mutants_{p.stem}", p)
    if spec is None or spec.loader is None:
        raise ValueError(f"{p}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = getattr(module, "MUTANTS", None)
    if not isinstance(found, (list, tuple)) or not all(isinstance(m, Mutant) for m in found):
        raise ValueError(f"{p}: define MUTANTS = [Mutant(...), ...]")
    return list(found)


def registered() -> list[Mutant]:
    """Mutants other packages register under the ``q2c_harness.mutants`` entry point group."""
    out: list[Mutant] = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        value = ep.load()
        out += [value] if isinstance(value, Mutant) else list(value)
    return out


def catalogue(files: Iterable[str | Path] = ()) -> list[Mutant]:
    """Built-in, then registered, then file mutants; ids must be unique."""
    out = [*BUILTIN, *registered(), *(m for f in files for m in load_file(f))]
    seen: dict[str, Mutant] = {}
    for m in out:
        if m.id in seen:
            raise ValueError(f"two mutants are called {m.id!r}")
        seen[m.id] = m
    return copy.copy(out)

