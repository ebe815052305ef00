"""What was sold: engagement, statement of work, billing plan, rate card, milestones, change orders."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from .money import Amount, CanonicalObject, CurrencyCode, Strict

ApprovalState = Literal["draft", "submitted", "approved", "rejected"]


class Engagement(CanonicalObject):
    """The project sold to a client (Salesforce Opportunity -> PSA workspace -> NetSuite project).

    The contracting entity invoices the client; delivering entities supply people
    and cross-charge the contracting entity.
    """

    engagement_id: str
    client_id: str
    name: str
    contracting_entity_id: str
    delivering_entity_ids: list[str] = Field(default_factory=list)
    currency: CurrencyCode


class ContractVersion(Strict):
    """One numbered version of a statement of work's commercial terms.

    Version 1 is the signed baseline; each approved change order makes the next version.
    """

    version: Annotated[int, Field(ge=1)]
    value: Amount
    budget: Amount
    end_date: date | None = None
    change_order_id: str | None = None  # None for the baseline


class FxPolicy(Strict):
    """How contract-currency amounts are derived from rate-card currency.

    Like Oracle's PROJECT_RATE_TYPE / RATE_DATE_CODE per project: the type of rate
    and the date whose rate applies are contract policy, stored on each rated line.
    """

    rate_type: Literal["spot", "corporate", "average", "user"]
    rate_date_rule: Literal["work_date", "invoice_date", "period_end", "fixed"]
    fixed_rate_date: date | None = None

    @model_validator(mode="after")
    def _fixed_needs_date(self) -> FxPolicy:
        if (self.rate_date_rule == "fixed") != (self.fixed_rate_date is not None):
            raise ValueError("fixed_rate_date is required exactly when rate_date_rule is 'fixed'")
        return self


class RoleRate(Strict):
    role: str
    region: str
    rate: Amount  # per hour, in the version's currency


class RateCardVersion(Strict):
    """Rates in force from ``effective_from`` to ``effective_to`` (both inclusive; open-ended if None)."""

    version: Annotated[int, Field(ge=1)]
    effective_from: date
    effective_to: date | None = None
    currency: CurrencyCode
    rates: list[RoleRate]


class RateCard(CanonicalObject):
    rate_card_id: str
    name: str
    versions: list[RateCardVersion]


class Milestone(CanonicalObject):
    """A fixed-fee billing milestone. Billable once, and only once accepted by the client."""

    milestone_id: str
    sow_id: str
    name: str
    amount: Amount
    due_date: date
    status: Literal["planned", "completed", "accepted", "billed"] = "planned"
    accepted_on: date | None = None


class TimeAndMaterialsPlan(CanonicalObject):
    kind: Literal["time_and_materials"] = "time_and_materials"
    billing_plan_id: str
    rate_card_id: str
    fx_policy: FxPolicy
    not_to_exceed: Amount | None = None  # cap in contract currency; excess is held, not dropped


class FixedFeePlan(CanonicalObject):
    kind: Literal["fixed_fee"] = "fixed_fee"
    billing_plan_id: str
    fee: Amount
    milestones: list[Milestone]


class RetainerPlan(CanonicalObject):
    """Client pays in advance; work draws the retainer down (a liability until applied)."""

    kind: Literal["retainer"] = "retainer"
    billing_plan_id: str
    retainer_amount: Amount
    rate_card_id: str | None = None
    fx_policy: FxPolicy | None = None


class RecurringFeePlan(CanonicalObject):
    """Managed services: a flat fee per period."""

    kind: Literal["recurring_fee"] = "recurring_fee"
    billing_plan_id: str
    amount_per_period: Amount
    frequency: Literal["monthly", "quarterly", "annual"]
    start_date: date
    end_date: date | None = None


BillingPlan = Annotated[
    Union[TimeAndMaterialsPlan, FixedFeePlan, RetainerPlan, RecurringFeePlan],
    Field(discriminator="kind"),
]


class CustomerSplit(Strict):
    """Share of a contract line billed to one customer (percent, 100 = all)."""

    client_id: str
    percent: Amount


class StatementOfWork(CanonicalObject):
    """The contract under an engagement: immutable baseline, current version, billing plan."""

    sow_id: str
    engagement_id: str
    currency: CurrencyCode
    status: Literal["draft", "active", "closed"] = "active"
    closed_on: date | None = None
    baseline: ContractVersion
    current: ContractVersion
    billing_plan: BillingPlan
    customer_splits: list[CustomerSplit] = Field(default_factory=list)
    residue_client_id: str | None = None  # who absorbs split rounding residue

    @model_validator(mode="after")
    def _versions_shape(self) -> StatementOfWork:
        if self.baseline.version != 1 or self.baseline.change_order_id is not None:
            raise ValueError("baseline must be contract version 1 with no change order")
        if self.current.version < self.baseline.version:
            raise ValueError("current contract version is older than the baseline")
        return self


class ChangeOrder(CanonicalObject):
    """Deltas to a statement of work, with approval state and ASC 606 modification type."""

    change_order_id: str
    sow_id: str
    number: Annotated[int, Field(ge=1)]
    value_delta: Amount
    budget_delta: Amount
    schedule_delta_days: int = 0
    approval_state: ApprovalState = "draft"
    approved_on: date | None = None
    # ASC 606-10-25-12/13 (Deloitte roadmap ch. 9.2)
    asc606_classification: Literal["separate_contract", "prospective", "cumulative_catch_up"]


class ResourceAssignment(CanonicalObject):
    assignment_id: str
    engagement_id: str
    resource_id: str
    role: str
    region: str
    delivering_entity_id: str
    start_date: date
    end_date: date | None = None
