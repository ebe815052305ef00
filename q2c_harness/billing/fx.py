"""Foreign exchange: rate lookup under a contract's FX policy, and realized gain/loss (ASC 830-20)."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from q2c_harness.canonical import FxPolicy

from .errors import MissingFxRate, NegativeQuantity
from .rounding import minor_units, round_money

ONE = Decimal("1")

FxKey = tuple[str, str, str, date]  # (rate_type, from_currency, to_currency, on)


@dataclass(frozen=True)
class FxRateTable:
    """Rates passed in by the caller: (rate_type, from, to, date) -> units of `to` per 1 `from`.

    Lookup is exact: no inverse, no nearest date -- a missing rate is an error, not a guess.
    """

    rates: Mapping[FxKey, Decimal] = field(default_factory=dict)

    def rate(self, rate_type: str, from_currency: str, to_currency: str, on: date) -> Decimal:
        minor_units(from_currency)
        minor_units(to_currency)
        if from_currency == to_currency:
            return ONE
        try:
            value = self.rates[(rate_type, from_currency, to_currency, on)]
        except KeyError:
            raise MissingFxRate(
                f"no {rate_type} rate {from_currency}->{to_currency} for {on.isoformat()}",
                ref=f"{rate_type}:{from_currency}{to_currency}:{on.isoformat()}",
            ) from None
        if value <= 0:
            raise NegativeQuantity(f"fx rate {from_currency}->{to_currency} on {on} must be positive (got {value})")
        return value


def fx_rate_date(policy: FxPolicy, *, work_date: date, invoice_date: date) -> date:
    """The date whose rate applies, by the contract's rate-date rule."""
    if policy.rate_date_rule == "work_date":
        return work_date
    if policy.rate_date_rule == "invoice_date":
        return invoice_date
    if policy.rate_date_rule == "period_end":
        return work_date.replace(day=calendar.monthrange(work_date.year, work_date.month)[1])
    assert policy.fixed_rate_date is not None  # enforced by FxPolicy
    return policy.fixed_rate_date


def realized_fx_gain_loss(
    foreign_amount: Decimal, booking_rate: Decimal, settlement_rate: Decimal, functional_currency: str
) -> Decimal:
    """Realized gain (+) / loss (-) on settling a foreign-currency receivable (ASC 830-20).

    gain = round(foreign_amount x (settlement_rate - booking_rate)), rates in functional units
    per foreign unit. EUR 2,000 booked at 1.40, collected at 1.45 -> USD 100.00 gain.
    """
    if booking_rate <= 0 or settlement_rate <= 0:
        raise NegativeQuantity(f"fx rates must be positive (booking {booking_rate}, settlement {settlement_rate})")
    return round_money(foreign_amount * (settlement_rate - booking_rate), functional_currency)
