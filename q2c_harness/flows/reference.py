"""Reference data the flows need and no vendor event carries: our legal entities (-> NetSuite subsidiaries), which
entity contracts for which client country, rate cards, the FX policy and rates, tax rates, intercompany markup and the
NetSuite service items per invoice line kind.

NetSuite master records are found by external id (``Q2C-ENTITY-<id>``, ``Q2C-ITEM-<KIND>``, ``Q2C-RESOURCE-<psa user
id>``, ``Q2C-ICCUST-<contracting>-<delivering>``); ``provision.py`` creates them for the simulators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from q2c_harness.billing import FxRateTable
from q2c_harness.canonical import FxPolicy, LegalEntity, RateCard, RateCardVersion, RoleRate
from q2c_harness.connectors.mapping import external_id
from q2c_harness.errors import BusinessError

ITEM_KINDS = ("time", "expense", "milestone", "adjustment", "intercompany")


def entity_eid(entity_id: str) -> str:
    return external_id("ENTITY", entity_id)


def item_eid(kind: str) -> str:
    return external_id("ITEM", kind)


def resource_eid(psa_user_id: str) -> str:
    return external_id("RESOURCE", str(psa_user_id))


def ic_customer_eid(contracting: str, delivering: str) -> str:
    return external_id("ICCUST", f"{contracting}-{delivering}")


@dataclass(frozen=True)
class ReferenceData:
    legal_entities: dict[str, LegalEntity]
    country_entity: dict[str, str]  # client country -> contracting entity id
    rate_cards: dict[str, RateCard]
    default_rate_card: str
    fx_policy: FxPolicy
    fx_rates: FxRateTable = field(default_factory=FxRateTable)
    tax_rates: dict[str, Decimal] = field(default_factory=dict)
    ic_markup_percent: Decimal = Decimal("0")
    owners: dict[str, str] = field(default_factory=lambda: {
        "quote": "sales-ops", "billing": "billing-ops", "milestone": "billing-ops", "change_order": "pmo",
        "cash": "ar-team", "intake": "integration-team", "milestone_acceptance": "delivery"})

    def contracting_entity(self, country: str) -> LegalEntity:
        entity_id = self.country_entity.get(country)
        if entity_id is None or entity_id not in self.legal_entities:
            raise BusinessError(f"no legal entity contracts with clients in {country}", system="q2c",
                                code="NO_LEGAL_ENTITY", details={"country": country})
        return self.legal_entities[entity_id]

    def entity(self, entity_id: str) -> LegalEntity:
        try:
            return self.legal_entities[entity_id]
        except KeyError:
            raise BusinessError(f"unknown legal entity {entity_id!r}", system="q2c", code="UNKNOWN_LEGAL_ENTITY",
                                details={"entity_id": entity_id}) from None


def demo_reference() -> ReferenceData:
    """Three entities (US, UK, DE), one USD rate card, standard tax rates; what tests and the benchmark use."""
    entities = {
        "US01": LegalEntity(correlation_id="ref", entity_id="US01", name="Q2C Consulting Inc.",
                            functional_currency="USD", country="US", tax_regime="US_SALES_TAX",
                            intercompany_partners=["UK01", "DE01"]),
        "UK01": LegalEntity(correlation_id="ref", entity_id="UK01", name="Q2C Consulting Ltd",
                            functional_currency="GBP", country="GB", tax_regime="UK_VAT", vat_id="GB123456789",
                            intercompany_partners=["US01", "DE01"]),
        "DE01": LegalEntity(correlation_id="ref", entity_id="DE01", name="Q2C Consulting GmbH",
                            functional_currency="EUR", country="DE", tax_regime="EU_VAT", vat_id="DE123456789",
                            intercompany_partners=["US01", "UK01"]),
    }
    rates = [RoleRate(role=r, region=g, rate=Decimal(v)) for r, g, v in (
        ("Consultant", "NA", "150.00"), ("Consultant", "EMEA", "140.00"), ("Architect", "NA", "210.00"),
        ("Architect", "EMEA", "195.00"), ("Manager", "NA", "180.00"), ("Manager", "EMEA", "170.00"))]
    card = RateCard(correlation_id="ref", rate_card_id="RC-STD", name="Standard",
                    versions=[RateCardVersion(version=1, effective_from=date(2020, 1, 1), currency="USD",
                                              rates=rates)])
    return ReferenceData(
        legal_entities=entities, country_entity={"US": "US01", "CA": "US01", "GB": "UK01", "DE": "DE01"},
        rate_cards={"RC-STD": card}, default_rate_card="RC-STD",
        fx_policy=FxPolicy(rate_type="corporate", rate_date_rule="invoice_date"),
        tax_rates={"US": Decimal("0"), "GB": Decimal("20"), "DE": Decimal("19")},
        ic_markup_percent=Decimal("5"))
