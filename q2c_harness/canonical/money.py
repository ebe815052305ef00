"""Money, currencies and the base every canonical object shares.

Money is always ``decimal.Decimal``; floats are refused by strict validation.
Currencies are ISO 4217 codes checked against ``CURRENCY_MINOR_UNITS``; an
unknown code is a validation error, never passed through.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# ISO 4217 active codes -> minor units (number of decimal places).
# Source: ISO 4217 list one (SIX Financial). Kept explicit so rounding is auditable.
CURRENCY_MINOR_UNITS: dict[str, int] = {
    "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2,
    "CHF": 2, "CLP": 0, "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2,
    "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2,
    "ISK": 0, "JOD": 3, "JPY": 0, "KES": 2, "KRW": 0, "KWD": 3, "MAD": 2,
    "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PEN": 2,
    "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "RSD": 2, "SAR": 2,
    "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UAH": 2,
    "USD": 2, "VND": 0, "ZAR": 2,
}


def is_known_currency(code: str) -> bool:
    return code in CURRENCY_MINOR_UNITS


def _check_currency(code: str) -> str:
    if code not in CURRENCY_MINOR_UNITS:
        raise ValueError(f"unknown currency {code!r}: not an ISO 4217 code known to q2c-harness")
    return code


CurrencyCode = Annotated[str, AfterValidator(_check_currency)]
"""An ISO 4217 alphabetic code from ``CURRENCY_MINOR_UNITS``."""

Amount = Annotated[Decimal, Field(allow_inf_nan=False)]
"""A finite Decimal (money, hours, rates). Sign rules are business rules, checked in billing/."""

Percent = Annotated[Decimal, Field(allow_inf_nan=False)]
"""A percentage as a Decimal where 100 means 100 %."""


class Strict(BaseModel):
    """Strict, closed, immutable value object."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class CanonicalObject(Strict):
    """Base of every canonical business object.

    ``correlation_id`` follows the object through every flow and log line;
    ``xref`` maps a system name (``salesforce``, ``netsuite``, ``psa``) to the
    object's id in that system.
    """

    correlation_id: Annotated[str, Field(min_length=1)]
    xref: dict[str, str] = Field(default_factory=dict)


class Money(Strict):
    amount: Amount
    currency: CurrencyCode
