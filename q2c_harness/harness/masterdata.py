"""A scenario's master data as canonical objects, with names, emails and VAT ids filled in by Faker.

Faker runs on one seeded instance per scenario (``Faker([...]).seed_instance(seed)``) and never uses relative
dates, so the same seed gives the same people, clients and entities on any day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from faker import Faker

from q2c_harness.canonical import Client, LegalEntity, PostalAddress, RateCard, RateCardVersion, RoleRate

from .scenario import MasterData, PersonSpec, RateCardVersionSpec, Scenario

LOCALES = {"US": "en_US", "GB": "en_GB", "IN": "en_IN", "DE": "de_DE", "FR": "fr_FR", "IE": "en_IE",
           "AU": "en_AU", "CA": "en_CA"}
TAX_REGIMES = {"US": "US_SALES_TAX", "GB": "UK_VAT", "IN": "IN_GST", "JP": "JP_CT", "AU": "AU_GST"}
EU = {"DE", "FR", "IE", "NL", "ES", "IT", "BE", "AT", "PT", "FI", "SE", "DK", "PL"}


@dataclass(frozen=True)
class Person:
    id: str
    full_name: str
    email: str
    role: str
    region: str
    entity: str


@dataclass
class World:
    """Everything a scenario's steps and checks refer to by id."""

    entities: dict[str, LegalEntity] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    rate_cards: dict[str, RateCard] = field(default_factory=dict)
    # (rate type, from, to, day) -> units of `to` per `from`, as the scenario declares them
    fx: dict[tuple[str, str, str, date], Decimal] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    tax_rates: dict[str, Decimal] = field(default_factory=dict)

    def add_rate_card_version(self, card_id: str, spec: RateCardVersionSpec) -> RateCard:
        card = self.rate_cards[card_id]
        versions = [v for v in card.versions if v.version != spec.version] + [_version(spec)]
        versions.sort(key=lambda v: v.version)
        # the previous open-ended version now ends the day before the new one starts
        fixed = []
        for i, v in enumerate(versions):
            if i + 1 < len(versions) and v.effective_to is None:
                v = v.model_copy(update={"effective_to": versions[i + 1].effective_from - timedelta(days=1)})
            fixed.append(v)
        card = card.model_copy(update={"versions": fixed})
        self.rate_cards[card_id] = card
        return card


def _version(v: RateCardVersionSpec) -> RateCardVersion:
    return RateCardVersion(version=v.version, effective_from=v.effective_from, effective_to=v.effective_to,
                           currency=v.currency, rates=[RoleRate(role=r.role, region=r.region, rate=r.rate)
                                                       for r in v.rates])


def _faker(seed: int) -> Faker:
    fake = Faker(sorted(set(LOCALES.values())))
    fake.seed_instance(seed)
    return fake


def _people(md: MasterData) -> list[PersonSpec]:
    out = list(md.people)
    for g in md.generate_people:
        out += [PersonSpec(id=f"{g.prefix}{i}", role=g.role, region=g.region, entity=g.entity)
                for i in range(1, g.count + 1)]
    return out


def build_world(scenario: Scenario) -> World:
    md, fake = scenario.master_data, _faker(scenario.seed)
    world = World()
    for e in md.legal_entities:
        loc = fake[LOCALES.get(e.country, "en_US")]
        regime = e.tax_regime or TAX_REGIMES.get(e.country, "EU_VAT" if e.country in EU else "NONE")
        world.entities[e.id] = LegalEntity(
            correlation_id=f"md-entity-{e.id}", entity_id=e.id,
            name=e.name or f"{loc.company()} {e.country} Ltd"[:80], functional_currency=e.currency,
            country=e.country, tax_regime=regime,  # type: ignore[arg-type]
            intercompany_partners=e.intercompany_partners or [o.id for o in md.legal_entities if o.id != e.id])
    for c in md.clients:
        loc = fake[LOCALES.get(c.country, "en_US")]
        world.clients[c.id] = Client(correlation_id=f"md-client-{c.id}", client_id=c.id,
                                     name=c.name or loc.company()[:80], country=c.country,
                                     billing_currency=c.currency, vat_id=c.vat_id,
                                     address=PostalAddress(country=c.country, **c.address.model_dump())
                                     if c.address else None)
    for rc in md.rate_cards:
        world.rate_cards[rc.id] = RateCard(correlation_id=f"md-ratecard-{rc.id}", rate_card_id=rc.id,
                                           name=rc.name or f"{rc.id} rates", versions=[_version(v) for v in rc.versions])
    world.fx = {(r.type, r.from_, r.to, r.day): r.rate for r in md.fx_rates}
    world.tax_rates = dict(md.tax_rates)
    for p in _people(md):
        entity = world.entities.get(p.entity)
        loc = fake[LOCALES.get(entity.country if entity else "US", "en_US")]
        name = p.name or loc.name()
        email = p.email or f"{p.id.lower()}.{name.split()[-1].lower()}@example.com".replace("'", "")
        world.people[p.id] = Person(p.id, name, email, p.role, p.region, p.entity)
    return world
