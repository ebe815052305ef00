"""Helpers every vendor mapping shares: external ids, money conversions, field access."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from q2c_harness.canonical import CURRENCY_MINOR_UNITS

from ..errors import BusinessError, ContractError

CENT = Decimal("0.01")


def external_id(kind: str, key: str) -> str:
    """Our key for an object in a vendor system, e.g. ``Q2C-INVOICE-INV-2026-0001``.

    Upper-cased because NetSuite external ids are case-insensitive: two canonical keys differing only in case would
    collide there, so they collide here first, visibly.
    """
    if not key:
        raise BusinessError(f"empty key for a {kind} external id", code="EMPTY_EXTERNAL_ID")
    return f"Q2C-{kind}-{key}".upper()


def to_decimal(value: Any, *, what: str, system: str | None = None) -> Decimal:
    """A vendor number (Decimal, int, numeric string; float only via its shortest repr) as a Decimal."""
    if isinstance(value, bool) or value is None:
        raise ContractError(f"{what}: expected a number, got {value!r}", system=system, code="UNEXPECTED_SHAPE")
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value)) if isinstance(value, (int, float, str)) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ContractError(f"{what}: {value!r} is not a number", system=system, code="UNEXPECTED_SHAPE") from None


def money(amount: Decimal, currency: str) -> Decimal:
    """The amount at the currency's minor units; refuses (BusinessError) rather than silently rounding."""
    places = CURRENCY_MINOR_UNITS[currency]
    exp = Decimal(1).scaleb(-places)
    q = amount.quantize(exp, rounding=ROUND_HALF_UP)
    if q != amount:
        raise BusinessError(f"{amount} {currency} has more than {places} decimal places", code="SUB_MINOR_UNIT",
                            details={"amount": str(amount), "currency": currency})
    return q


def to_cents(amount: Decimal) -> int:
    """Decimal major units -> integer hundredths (Kantata ``*_in_cents``); a sub-cent amount is refused."""
    q = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if q != amount:
        raise BusinessError(f"{amount} cannot be sent in cents without rounding", code="SUB_CENT_AMOUNT",
                            details={"amount": str(amount)})
    return int(q * 100)


def from_cents(cents: Any, *, what: str = "amount_in_cents", system: str | None = "psa") -> Decimal:
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise ContractError(f"{what}: expected integer cents, got {cents!r}", system=system, code="UNEXPECTED_SHAPE")
    return (Decimal(cents) / 100).quantize(CENT)


def need(record: dict[str, Any], key: str, *, system: str, what: str) -> Any:
    """``record[key]``, or ContractError naming the vendor and the record."""
    if key not in record or record[key] is None:
        raise ContractError(f"{system}: {what} lacks {key}", system=system, code="UNEXPECTED_SHAPE",
                            details={"missing": key})
    return record[key]


def ref_id(value: Any) -> str | None:
    """A vendor reference as an id: NetSuite ``{"id": "1", "refName": ...}``, a plain id, or None."""
    if value is None:
        return None
    if isinstance(value, dict):
        return str(value["id"]) if value.get("id") is not None else None
    return str(value)
