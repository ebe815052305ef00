"""Who contracts: the client (customer) and our legal entities."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .money import CanonicalObject, CurrencyCode, Strict

CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2 country code."""

TaxRegime = Literal["EU_VAT", "UK_VAT", "US_SALES_TAX", "IN_GST", "JP_CT", "AU_GST", "NONE"]


class PostalAddress(Strict):
    """Where a client is billed: what a tax service sources US sales tax from (state, city, ZIP)."""

    line1: str | None = None
    city: str | None = None
    region: str | None = None  # state or province code, e.g. "CA"
    postal_code: str | None = None
    country: CountryCode


class Client(CanonicalObject):
    """The customer of an engagement (Salesforce Account, NetSuite Customer)."""

    client_id: str
    name: str
    country: CountryCode
    billing_currency: CurrencyCode
    is_business: bool = True
    # VAT registration number incl. country prefix, e.g. "DE123456789"; required for reverse charge.
    vat_id: str | None = None
    # The billing address (Salesforce Account Billing*); None when the CRM holds only the country.
    address: PostalAddress | None = None


class LegalEntity(CanonicalObject):
    """One of our legal entities (NetSuite subsidiary)."""

    entity_id: str
    name: str
    functional_currency: CurrencyCode
    country: CountryCode
    tax_regime: TaxRegime
    vat_id: str | None = None
    # Entities this one may cross-charge (and be cross-charged by).
    intercompany_partners: list[str] = Field(default_factory=list)
