"""Rounding: ROUND_HALF_UP to the currency's ISO 4217 minor units (JPY 0, USD 2, KWD 3 ...).

Round once, at the end of each documented formula -- never intermediate products --
so a recomputation from the stored inputs gives the same cents.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from q2c_harness.canonical.money import CURRENCY_MINOR_UNITS

from .errors import AmountNotInMinorUnits, NegativeQuantity, UnknownCurrency

ZERO = Decimal("0")


def minor_units(currency: str) -> int:
    try:
        return CURRENCY_MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {currency!r}: not an ISO 4217 code known to q2c-harness") from None


def quantum(currency: str) -> Decimal:
    """The smallest unit: Decimal('0.01') for USD, Decimal('1') for JPY."""
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """ROUND_HALF_UP (half away from zero) to the currency's minor units."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def require_minor_units(amount: Decimal, currency: str, what: str) -> None:
    """Refuse an amount with sub-minor-unit precision instead of silently rounding it."""
    if amount != round_money(amount, currency):
        raise AmountNotInMinorUnits(
            f"{what} = {amount} has more than {minor_units(currency)} decimals for {currency}", ref=what
        )


def require_non_negative(value: Decimal, what: str) -> None:
    if value < 0:
        raise NegativeQuantity(f"{what} must not be negative (got {value})", ref=what)
