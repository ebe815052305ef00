"""Time-and-materials rating.

amount = round(hours x rate(role, region, rate-card version in force on the work date)
               x fx(policy rate type, policy rate date), contract currency)

Rounded once (ROUND_HALF_UP, contract currency minor units). The rate, FX rate, its
type and date, and the rate-card version are kept on the rated line for audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from q2c_harness.canonical import FxPolicy, RateCard, RateCardVersion, TimeTransaction

from .errors import NoRateInForce, OverlappingRateCardVersions
from .fx import FxRateTable, fx_rate_date
from .rounding import minor_units, require_non_negative, round_money


@dataclass(frozen=True)
class RatedLine:
    source_id: str
    work_date: date
    hours: Decimal
    role: str
    region: str
    rate_card_id: str
    rate_card_version: int
    applied_rate: Decimal  # in rate-card currency
    rate_currency: str
    fx_rate_type: str
    fx_rate_date: date
    fx_rate: Decimal
    currency: str  # contract currency
    amount: Decimal  # rounded, contract currency


def _end(v: RateCardVersion) -> date:
    return v.effective_to or date.max


def validate_rate_card(card: RateCard) -> None:
    """Versions must not overlap, and each must end on or after it starts."""
    for v in card.versions:
        if v.effective_to is not None and v.effective_to < v.effective_from:
            raise OverlappingRateCardVersions(
                f"rate card {card.rate_card_id} version {v.version} ends ({v.effective_to}) "
                f"before it starts ({v.effective_from})",
                ref=card.rate_card_id,
            )
        for role_rate in v.rates:
            require_non_negative(role_rate.rate, f"rate card {card.rate_card_id} v{v.version} rate {role_rate.role}/{role_rate.region}")
    ordered = sorted(card.versions, key=lambda v: v.effective_from)
    for earlier, later in zip(ordered, ordered[1:]):
        if later.effective_from <= _end(earlier):
            raise OverlappingRateCardVersions(
                f"rate card {card.rate_card_id}: version {earlier.version} "
                f"({earlier.effective_from}..{earlier.effective_to or 'open'}) overlaps version "
                f"{later.version} ({later.effective_from}..{later.effective_to or 'open'})",
                ref=card.rate_card_id,
            )


def rate_card_version_on(card: RateCard, on: date) -> RateCardVersion:
    validate_rate_card(card)
    for v in card.versions:
        if v.effective_from <= on <= _end(v):
            return v
    raise NoRateInForce(f"rate card {card.rate_card_id} has no version in force on {on}", ref=card.rate_card_id)


def rate_in_force(card: RateCard, role: str, region: str, on: date) -> tuple[RateCardVersion, Decimal]:
    version = rate_card_version_on(card, on)
    for r in version.rates:
        if r.role == role and r.region == region:
            return version, r.rate
    raise NoRateInForce(
        f"rate card {card.rate_card_id} v{version.version} has no rate for role {role!r} in region {region!r}",
        ref=card.rate_card_id,
    )


def rate_time_entry(
    entry: TimeTransaction,
    *,
    rate_card: RateCard,
    fx_policy: FxPolicy,
    fx_rates: FxRateTable,
    contract_currency: str,
    invoice_date: date,
) -> RatedLine:
    """Rate one time entry. Raises NegativeQuantity, NoRateInForce, MissingFxRate, UnknownCurrency."""
    minor_units(contract_currency)
    require_non_negative(entry.hours, f"time entry {entry.time_entry_id} hours")
    version, rate = rate_in_force(rate_card, entry.role, entry.region, entry.work_date)
    on = fx_rate_date(fx_policy, work_date=entry.work_date, invoice_date=invoice_date)
    fx = fx_rates.rate(fx_policy.rate_type, version.currency, contract_currency, on)
    return RatedLine(
        source_id=entry.time_entry_id,
        work_date=entry.work_date,
        hours=entry.hours,
        role=entry.role,
        region=entry.region,
        rate_card_id=rate_card.rate_card_id,
        rate_card_version=version.version,
        applied_rate=rate,
        rate_currency=version.currency,
        fx_rate_type=fx_policy.rate_type,
        fx_rate_date=on,
        fx_rate=fx,
        currency=contract_currency,
        amount=round_money(entry.hours * rate * fx, contract_currency),
    )
