"""Tax codes for services, incl. the EU reverse charge for cross-border B2B (VAT Directive Art. 44/196).

Rules, in order (seller = contracting entity, customer = client):
1. same country                         -> STANDARD at the country's rate from ``tax_rates``
2. both in the EU, customer a business  -> REVERSE_CHARGE: VAT 0, customer VAT id required,
                                           reverse-charge note on the invoice
3. customer a business, other country   -> OUTSIDE_SCOPE: place of supply is the customer's country
   (outside the EU)                        (Art. 44), no seller VAT
4. consumer in another country          -> STANDARD at the seller's rate (OSS not modelled)

tax = round(net x rate / 100) per line, HALF_UP to the currency's minor units; gross = net + Σ tax.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from q2c_harness.canonical import Client, LegalEntity

from .errors import MissingCustomerVatId, UnknownTaxRate
from .rounding import ZERO, round_money

EU_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
REVERSE_CHARGE_NOTE = "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)"
# Greece uses "EL" as its VAT prefix.
_VAT_PREFIX = {"GR": "EL"}
_VAT_ID = re.compile(r"^[A-Z]{2}[0-9A-Z+*]{2,12}$")


@dataclass(frozen=True)
class TaxDetermination:
    tax_code: str  # STANDARD | REVERSE_CHARGE | OUTSIDE_SCOPE
    rate_percent: Decimal
    note: str | None = None


def is_valid_vat_id(vat_id: str | None, country: str) -> bool:
    """Format check with the customer's country prefix (VIES lookup is the connector's job)."""
    if not vat_id:
        return False
    return bool(_VAT_ID.match(vat_id)) and vat_id[:2] == _VAT_PREFIX.get(country, country)


def determine_tax(seller: LegalEntity, customer: Client, tax_rates: Mapping[str, Decimal]) -> TaxDetermination:
    """Tax code for a service invoice. Raises MissingCustomerVatId, UnknownTaxRate."""

    def standard(country: str) -> TaxDetermination:
        if country not in tax_rates:
            raise UnknownTaxRate(f"no standard tax rate configured for country {country}", ref=seller.entity_id)
        return TaxDetermination("STANDARD", tax_rates[country])

    if seller.country == customer.country:
        return standard(seller.country)
    if customer.is_business and seller.country in EU_COUNTRIES and customer.country in EU_COUNTRIES:
        if not is_valid_vat_id(customer.vat_id, customer.country):
            raise MissingCustomerVatId(
                f"client {customer.client_id} ({customer.country}) needs a valid VAT id for reverse charge "
                f"from {seller.entity_id} ({seller.country}); got {customer.vat_id!r}",
                ref=customer.client_id,
            )
        return TaxDetermination("REVERSE_CHARGE", ZERO, REVERSE_CHARGE_NOTE)
    if customer.is_business:
        return TaxDetermination("OUTSIDE_SCOPE", ZERO)
    return standard(seller.country)


def tax_amount(net: Decimal, determination: TaxDetermination, currency: str) -> Decimal:
    return round_money(net * determination.rate_percent / Decimal("100"), currency)


# Where a tax service sources sales tax from the destination address, the state and ZIP decide the jurisdictions
# (AvaTax: "a complete address ... gives the most accurate rates", developer.avalara.com/avatax/address-validation/);
# VAT needs only the country.
_ADDRESS_SOURCED = frozenset({"US", "CA"})


def missing_tax_attributes(customer: Client) -> list[str]:
    """What the client's record lacks for a tax service to determine its tax (empty: complete). An invoice for a
    client with gaps is held as a business exception, never posted untaxed."""
    if customer.country not in _ADDRESS_SOURCED:
        return []
    addr = customer.address
    missing = []
    if addr is None or not addr.region:
        missing.append("billing state")
    if addr is None or not addr.postal_code:
        missing.append("billing postal code")
    return missing
