"""Fixed fee: milestone schedule sums to the fee; a milestone bills once, only once accepted;
invoiced never exceeds baseline + approved change orders (the current contract value)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from q2c_harness.canonical import ContractVersion, FixedFeePlan, InvoiceLine, Milestone

from .errors import AlreadyBilled, ContractValueExceeded, MilestoneNotAccepted, ScheduleDoesNotSumToFee
from .rounding import ZERO, require_minor_units, require_non_negative


def validate_milestone_schedule(plan: FixedFeePlan, currency: str) -> None:
    """Σ milestone amounts must equal the fee exactly (no rounding residue hidden anywhere)."""
    require_non_negative(plan.fee, f"billing plan {plan.billing_plan_id} fee")
    require_minor_units(plan.fee, currency, f"billing plan {plan.billing_plan_id} fee")
    for m in plan.milestones:
        require_non_negative(m.amount, f"milestone {m.milestone_id} amount")
        require_minor_units(m.amount, currency, f"milestone {m.milestone_id} amount")
    total = sum((m.amount for m in plan.milestones), ZERO)
    if total != plan.fee:
        raise ScheduleDoesNotSumToFee(
            f"billing plan {plan.billing_plan_id}: milestone schedule sums to {total} {currency}, "
            f"fee is {plan.fee} {currency} (difference {plan.fee - total})",
            ref=plan.billing_plan_id,
        )


def bill_milestone(
    milestone: Milestone,
    *,
    invoice_id: str,
    invoice_date: date,
    contract: ContractVersion,
    invoiced_to_date: Decimal,
    billed_milestone_ids: Iterable[str] = (),
) -> InvoiceLine:
    """One invoice line for an accepted milestone, against the current contract version.

    Raises MilestoneNotAccepted, AlreadyBilled, ContractValueExceeded.
    """
    if milestone.milestone_id in set(billed_milestone_ids) or milestone.status == "billed":
        raise AlreadyBilled(f"milestone {milestone.milestone_id} is already billed", ref=milestone.milestone_id)
    if milestone.status != "accepted" or milestone.accepted_on is None or milestone.accepted_on > invoice_date:
        raise MilestoneNotAccepted(
            f"milestone {milestone.milestone_id} is {milestone.status!r} (accepted_on={milestone.accepted_on}); "
            f"it bills only once accepted by the client",
            ref=milestone.milestone_id,
        )
    require_non_negative(milestone.amount, f"milestone {milestone.milestone_id} amount")
    if invoiced_to_date + milestone.amount > contract.value:
        raise ContractValueExceeded(
            f"billing milestone {milestone.milestone_id} ({milestone.amount}) would bring invoiced to "
            f"{invoiced_to_date + milestone.amount}, above contract version {contract.version} value {contract.value}",
            ref=milestone.milestone_id,
        )
    return InvoiceLine(
        line_id=f"{invoice_id}-{milestone.milestone_id}",
        kind="milestone",
        description=milestone.name,
        quantity=Decimal("1"),
        unit_price=milestone.amount,
        amount=milestone.amount,
        source_ids=[milestone.milestone_id],
        contract_version=contract.version,
    )
