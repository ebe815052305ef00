"""Gateway (Stripe-style) objects <-> the canonical payment (pure).

- A succeeded PaymentIntent is a canonical `Payment` of ``amount_received`` in the currency's major units (Stripe
  amounts are integers in the smallest unit: docs.stripe.com/currencies#minor-units), received on its creation day.
- The invoices a payment settles travel in the intent's ``metadata[q2c_invoices]`` (comma-separated invoice ids,
  set by the pay-by-link page that showed the invoice), and the client in ``metadata[q2c_client]``.
- Its NetSuite customer payment has the external id ``Q2C-PAYMENT-<intent id>``: one per intent, however often the
  gateway tells us.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from q2c_harness.canonical import CURRENCY_MINOR_UNITS, Payment

INVOICES_KEY = "q2c_invoices"
CLIENT_KEY = "q2c_client"


def from_minor(amount: int, currency: str) -> Decimal:
    places = CURRENCY_MINOR_UNITS.get(currency.upper(), 2)
    return (Decimal(int(amount)) / (Decimal(10) ** places)).quantize(Decimal(1).scaleb(-places))


def to_minor(amount: Decimal, currency: str) -> int:
    return int((amount * (Decimal(10) ** CURRENCY_MINOR_UNITS.get(currency.upper(), 2))).to_integral_value())


def payment_from_intent(intent: dict[str, Any], *, correlation_id: str) -> Payment:
    currency = str(intent["currency"]).upper()
    meta = intent.get("metadata") or {}
    return Payment(correlation_id=correlation_id, xref={"payments": str(intent["id"])},
                   payment_id=str(intent["id"]), client_id=str(meta.get(CLIENT_KEY) or intent.get("customer") or ""),
                   received_on=datetime.fromtimestamp(int(intent["created"]), timezone.utc).date(),
                   currency=currency, amount=from_minor(int(intent.get("amount_received") or 0), currency))


def invoices_of(intent: dict[str, Any]) -> list[str]:
    """The invoice ids the payment settles, in the order the client chose them."""
    raw = str((intent.get("metadata") or {}).get(INVOICES_KEY) or "")
    return [i.strip() for i in raw.split(",") if i.strip()]


def payment_external_id(intent_id: str) -> str:
    return f"Q2C-PAYMENT-{intent_id}"
