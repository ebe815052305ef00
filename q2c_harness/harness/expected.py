"""What the checker expects, computed its own plain way from vendor facts and the scenario's declared data.

The invariants must catch a bug in the core's billing rules, not mirror it, so nothing here comes from
``q2c_harness.billing`` (a test enforces it): each rule is written out once more, as a finance person states it.

- Money: ROUND_HALF_UP to the currency's minor units, per line (what a scenario declares: ``rounding: per_line``).
- Rates: the rate-card version with the latest start on or before the work date; the rate for the entry's role
  and region in it.
- FX: 1 unit of ``from`` = rate units of ``to``; the rate in force on a day is the one with the latest effective
  date on or before it (NetSuite's currency rate records); the date is the contract's rate-date rule applied to the
  work date (work date, invoice date, end of the work month, or a fixed date).
- Tax on services (seller = contracting entity, buyer = client): same country -> that country's standard rate;
  both in the EU, buyer a business -> reverse charge (0, the buyer's VAT id, a note); buyer a business elsewhere ->
  outside the scope of the seller's VAT (0); a consumer abroad -> the seller's standard rate.
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
ONE = Decimal("1")
HUNDRED = Decimal("100")

# ISO 4217 minor units of the currencies a scenario may use; anything else is a scenario error
MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "INR": 2, "CAD": 2, "AUD": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2,
               "PLN": 2, "SGD": 2, "NZD": 2, "ZAR": 2, "MXN": 2, "BRL": 2, "CNY": 2, "HKD": 2, "JPY": 0, "KRW": 0,
               "BHD": 3, "KWD": 3}
EU = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
VAT_PREFIX = {"GR": "EL"}  # Greece's VAT ids start with EL


class NoExpectation(ValueError):
    """The facts do not say what should be (no rate in force, no FX rate on the day): itself a finding."""


def money(amount: Decimal, currency: str) -> Decimal:
    if currency not in MINOR_UNITS:
        raise NoExpectation(f"currency {currency!r} has no known minor units")
    return amount.quantize(Decimal(1).scaleb(-MINOR_UNITS[currency]), rounding=ROUND_HALF_UP)


def total(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)


# ---- rate cards ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RateInForce:
    version: int
    currency: str
    rate: Decimal


def rate_in_force(card: object, role: str, region: str, on: date) -> RateInForce:
    """``card``: anything with ``versions`` of (version, effective_from, currency, rates of (role, region, rate))."""
    versions = sorted((v for v in card.versions if v.effective_from <= on),  # type: ignore[attr-defined]
                      key=lambda v: v.effective_from)
    if not versions:
        raise NoExpectation(f"no rate-card version in force on {on}")
    v = versions[-1]
    for r in v.rates:
        if r.role == role and r.region == region:
            return RateInForce(v.version, v.currency, r.rate)
    raise NoExpectation(f"rate-card version {v.version} has no rate for {role}/{region}")


# ---- FX --------------------------------------------------------------------------------------------------------
@dataclass
class FxBook:
    """Exchange rates by (rate type, from, to): effective date -> units of ``to`` per ``from``."""

    rates: dict[tuple[str, str, str], list[tuple[date, Decimal]]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, str, date, Decimal]]) -> FxBook:
        book = cls()
        for rate_type, src, dst, day, rate in rows:
            book.add(rate_type, src, dst, day, rate)
        return book

    def add(self, rate_type: str, src: str, dst: str, day: date, rate: Decimal) -> None:
        series = self.rates[(rate_type, src, dst)]
        series[:] = sorted([p for p in series if p[0] != day] + [(day, rate)])

    def rate(self, rate_type: str, src: str, dst: str, on: date) -> Decimal:
        if src == dst:
            return ONE
        series = self.rates.get((rate_type, src, dst), [])
        i = bisect_right([d for d, _ in series], on)
        if i == 0:
            raise NoExpectation(f"no {rate_type} rate {src}->{dst} in force on {on}")
        return series[i - 1][1]

    def __bool__(self) -> bool:
        return any(self.rates.values())


def fx_date(rule: str, *, work_date: date, invoice_date: date, fixed: date | None = None) -> date:
    if rule == "work_date":
        return work_date
    if rule == "invoice_date":
        return invoice_date
    if rule == "period_end":
        return work_date.replace(day=calendar.monthrange(work_date.year, work_date.month)[1])
    if rule == "fixed" and fixed is not None:
        return fixed
    raise NoExpectation(f"rate-date rule {rule!r} without its date")


# ---- tax -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaxExpectation:
    code: str  # STANDARD | REVERSE_CHARGE | OUTSIDE_SCOPE
    rate: Decimal

    @property
    def reverse_charge(self) -> bool:
        return self.code == "REVERSE_CHARGE"


def vat_id_valid(vat_id: str | None, country: str) -> bool:
    prefix = VAT_PREFIX.get(country, country)
    return bool(vat_id) and vat_id[:2] == prefix and 4 <= len(vat_id) <= 14 and vat_id[2:].isalnum()  # type: ignore[index]


def tax_for(seller_country: str, buyer_country: str, buyer_is_business: bool,
            standard_rates: Mapping[str, Decimal]) -> TaxExpectation:
    def standard(country: str) -> TaxExpectation:
        if country not in standard_rates:
            raise NoExpectation(f"the scenario declares no standard tax rate for {country}")
        return TaxExpectation("STANDARD", standard_rates[country])

    if seller_country == buyer_country:
        return standard(seller_country)
    if buyer_is_business and seller_country in EU and buyer_country in EU:
        return TaxExpectation("REVERSE_CHARGE", ZERO)
    if buyer_is_business:
        return TaxExpectation("OUTSIDE_SCOPE", ZERO)
    return standard(seller_country)


# ---- contracts, intercompany, FX settlement ----------------------------------------------------------------------
def contract_value(baseline: Decimal, approved_deltas: Iterable[Decimal]) -> Decimal:
    return baseline + total(approved_deltas)


def cross_charge(cost: Decimal, markup_percent: Decimal, currency: str) -> Decimal:
    return money(cost * (ONE + markup_percent / HUNDRED), currency)


def realized_gain(foreign_amount: Decimal, booking_rate: Decimal, settlement_rate: Decimal,
                  functional_currency: str) -> Decimal:
    """ASC 830-20: EUR 2,000 booked at 1.40 and collected at 1.45 is a USD 100.00 gain."""
    return money(foreign_amount * (settlement_rate - booking_rate), functional_currency)


def monthly_fee(fee: Decimal, start: date, end: date | None, year: int, month: int, currency: str) -> Decimal | None:
    """A monthly fee for one calendar month: the whole fee when the term covers the month, else fee x the days it
    covers / the days in the month, rounded half up; None when the term does not reach the month."""
    import calendar

    days_in_month = calendar.monthrange(year, month)[1]
    first, last = date(year, month, 1), date(year, month, days_in_month)
    lo, hi = max(first, start), min(last, end) if end is not None else last
    if lo > hi:
        return None
    days = (hi - lo).days + 1
    return fee if days == days_in_month else money(fee * days / days_in_month, currency)
