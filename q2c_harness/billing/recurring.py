"""Recurring fees for managed services: one flat line per period, each period billed once,
only within the plan's dates; monthly fees per calendar month, the first and last months prorated by days."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from q2c_harness.canonical import InvoiceLine, RecurringFeePlan

from .errors import AlreadyBilled, IneligibleEntry
from .rounding import require_minor_units, require_non_negative, round_money

_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}


def period_key(plan: RecurringFeePlan, period_start: date) -> str:
    """Stable source id of one period, e.g. ``BP-9:2026-04-01``; periods start on the plan's
    start day stepped by its frequency."""
    step = _MONTHS[plan.frequency]
    months = (period_start.year - plan.start_date.year) * 12 + period_start.month - plan.start_date.month
    if period_start.day != plan.start_date.day or months % step or months < 0:
        raise IneligibleEntry(
            f"{period_start} is not a {plan.frequency} period start of billing plan {plan.billing_plan_id} "
            f"(starting {plan.start_date})",
            ref=plan.billing_plan_id,
        )
    if plan.end_date is not None and period_start > plan.end_date:
        raise IneligibleEntry(f"{period_start} is after billing plan {plan.billing_plan_id} ends ({plan.end_date})",
                              ref=plan.billing_plan_id)
    return f"{plan.billing_plan_id}:{period_start.isoformat()}"


def bill_recurring_fee(
    plan: RecurringFeePlan,
    *,
    period_start: date,
    invoice_id: str,
    contract_version: int,
    currency: str,
    billed_source_ids: Iterable[str] = (),
) -> InvoiceLine:
    """Raises IneligibleEntry (not a period of the plan), AlreadyBilled, NegativeQuantity."""
    key = period_key(plan, period_start)
    if key in set(billed_source_ids):
        raise AlreadyBilled(f"period {key} is already billed", ref=key)
    require_non_negative(plan.amount_per_period, f"billing plan {plan.billing_plan_id} amount_per_period")
    require_minor_units(plan.amount_per_period, currency, f"billing plan {plan.billing_plan_id} amount_per_period")
    return InvoiceLine(
        line_id=f"{invoice_id}-{key}",
        kind="recurring_fee",
        description=f"{plan.frequency} fee from {period_start.isoformat()}",
        quantity=Decimal("1"),
        unit_price=plan.amount_per_period,
        amount=plan.amount_per_period,
        source_ids=[key],
        contract_version=contract_version,
    )


@dataclass(frozen=True)
class FeePeriod:
    """One calendar month of a monthly fee: the days the plan covers in it and what they cost."""

    key: str  # stable source id, e.g. ``BP-9:2026-04``
    start: date
    end: date
    days: int
    days_in_month: int
    amount: Decimal


def monthly_fee_for(plan: RecurringFeePlan, period: str, currency: str) -> FeePeriod | None:
    """The monthly fee of calendar month ``period`` (``YYYY-MM``): in full for a month the plan covers entirely,
    else prorated by days, ``round(fee x days covered / days in the month)`` half up (a first month from the start
    date, a last month to the end date). None when the plan does not cover the month.
    Raises IneligibleEntry (not a monthly plan), NegativeQuantity, AmountNotInMinorUnits."""
    if plan.frequency != "monthly":
        raise IneligibleEntry(f"billing plan {plan.billing_plan_id} bills {plan.frequency}: only monthly fees are "
                              "billed per calendar month", ref=plan.billing_plan_id)
    require_non_negative(plan.amount_per_period, f"billing plan {plan.billing_plan_id} amount_per_period")
    require_minor_units(plan.amount_per_period, currency, f"billing plan {plan.billing_plan_id} amount_per_period")
    year, month = int(period[:4]), int(period[5:7])
    dim = calendar.monthrange(year, month)[1]
    first, last = date(year, month, 1), date(year, month, dim)
    start = max(first, plan.start_date)
    end = min(last, plan.end_date) if plan.end_date is not None else last
    if start > end:
        return None
    days = (end - start).days + 1
    amount = plan.amount_per_period if days == dim else round_money(plan.amount_per_period * days / dim, currency)
    return FeePeriod(f"{plan.billing_plan_id}:{period}", start, end, days, dim, amount)


def recurring_fee_line(fee: FeePeriod, *, invoice_id: str, contract_version: int) -> InvoiceLine:
    prorated = "" if fee.days == fee.days_in_month else f", {fee.days} of {fee.days_in_month} days"
    return InvoiceLine(line_id=f"{invoice_id}-{fee.key}", kind="recurring_fee",
                       description=f"Managed services {fee.start.isoformat()}..{fee.end.isoformat()}{prorated}",
                       quantity=Decimal("1"), unit_price=fee.amount, amount=fee.amount, source_ids=[fee.key],
                       contract_version=contract_version)
