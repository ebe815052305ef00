"""Builders for canonical objects used across the billing and invariant tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from q2c_harness.canonical import (
    ChangeOrder,
    Client,
    ContractVersion,
    FixedFeePlan,
    FxPolicy,
    LegalEntity,
    Milestone,
    RateCard,
    RateCardVersion,
    RoleRate,
    StatementOfWork,
    TimeAndMaterialsPlan,
    TimeTransaction,
)

D = Decimal
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CID = "corr-1"

money = st.decimals(min_value=D("0"), max_value=D("100000"), places=2)
hours = st.decimals(min_value=D("0"), max_value=D("24"), places=2)
rates = st.decimals(min_value=D("1"), max_value=D("2000"), places=2)
fx = st.decimals(min_value=D("0.0100"), max_value=D("200.0000"), places=4)


def rate_card(*versions: RateCardVersion, rate_card_id: str = "RC-1") -> RateCard:
    return RateCard(correlation_id=CID, rate_card_id=rate_card_id, name="Standard", versions=list(versions))


def rc_version(version: int, start: date, end: date | None, rate: Decimal, currency: str = "GBP",
               role: str = "consultant", region: str = "EMEA") -> RateCardVersion:
    return RateCardVersion(version=version, effective_from=start, effective_to=end, currency=currency,
                           rates=[RoleRate(role=role, region=region, rate=rate)])


def time_entry(entry_id: str = "T-1", hrs: Decimal = D("8"), work_date: date = date(2026, 3, 10),
               approval_state: str = "approved", billable: bool = True, billing_status: str = "unbilled",
               role: str = "consultant", region: str = "EMEA", delivering_entity_id: str = "LE-UK") -> TimeTransaction:
    return TimeTransaction(
        correlation_id=CID, time_entry_id=entry_id, engagement_id="ENG-1", sow_id="SOW-1", resource_id="R-1",
        role=role, region=region, delivering_entity_id=delivering_entity_id, work_date=work_date, hours=hrs,
        approval_state=approval_state, billable=billable, billing_status=billing_status,
    )


def fx_policy(rule: str = "work_date", rate_type: str = "corporate", fixed: date | None = None) -> FxPolicy:
    return FxPolicy(rate_type=rate_type, rate_date_rule=rule, fixed_rate_date=fixed)


def tm_plan(cap: Decimal | None = None) -> TimeAndMaterialsPlan:
    return TimeAndMaterialsPlan(correlation_id=CID, billing_plan_id="BP-1", rate_card_id="RC-1",
                                fx_policy=fx_policy(), not_to_exceed=cap)


def milestone(mid: str, amount: Decimal, status: str = "accepted", accepted_on: date | None = date(2026, 3, 1)) -> Milestone:
    return Milestone(correlation_id=CID, milestone_id=mid, sow_id="SOW-1", name=f"Milestone {mid}", amount=amount,
                     due_date=date(2026, 3, 1), status=status, accepted_on=accepted_on if status in ("accepted", "billed") else None)


def ff_plan(fee: Decimal, milestones: list[Milestone]) -> FixedFeePlan:
    return FixedFeePlan(correlation_id=CID, billing_plan_id="BP-FF", fee=fee, milestones=milestones)


def sow(value: Decimal = D("10000.00"), status: str = "active", plan=None, currency: str = "USD") -> StatementOfWork:
    baseline = ContractVersion(version=1, value=value, budget=value, end_date=date(2026, 12, 31))
    return StatementOfWork(
        correlation_id=CID, sow_id="SOW-1", engagement_id="ENG-1", currency=currency, status=status,
        closed_on=date(2026, 6, 30) if status == "closed" else None, baseline=baseline, current=baseline,
        billing_plan=plan if plan is not None else tm_plan(),
    )


def change_order(co_id: str, number: int, delta: Decimal, state: str = "approved", sow_id: str = "SOW-1",
                 days: int = 0) -> ChangeOrder:
    return ChangeOrder(
        correlation_id=CID, change_order_id=co_id, sow_id=sow_id, number=number, value_delta=delta, budget_delta=delta,
        schedule_delta_days=days, approval_state=state, approved_on=date(2026, 4, 1) if state == "approved" else None,
        asc606_classification="prospective",
    )


def entity(entity_id: str, country: str, partners: list[str] | None = None, currency: str = "EUR") -> LegalEntity:
    return LegalEntity(correlation_id=CID, entity_id=entity_id, name=entity_id, functional_currency=currency,
                       country=country, tax_regime="EU_VAT" if country != "US" else "US_SALES_TAX",
                       intercompany_partners=partners or [])


def client(country: str, vat_id: str | None = None, is_business: bool = True) -> Client:
    return Client(correlation_id=CID, client_id=f"C-{country}", name="Acme", country=country,
                  billing_currency="EUR", is_business=is_business, vat_id=vat_id)
