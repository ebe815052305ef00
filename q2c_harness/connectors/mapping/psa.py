"""PSA (Kantata OX style) <-> canonical: engagement -> workspace, milestones, time and expenses coming back.

Money crosses as integer cents (``*_in_cents``); time as integer minutes. Hours are minutes / 60 kept to 6 decimal
places (``HOURS_PLACES``): 50 minutes is 0.833333 h, which moves an amount by at most rate x 5e-7 before the billing
rules round it to the currency's minor units.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from q2c_harness.canonical import (
    Engagement,
    ExpenseTransaction,
    Milestone,
    StatementOfWork,
    TimeTransaction,
)

from ..errors import ContractError
from .common import from_cents, need, to_cents

SYSTEM = "psa"
HOURS_PLACES = Decimal("0.000001")
SERVICE_NAME = "q2c"  # external_references.service_name for our own cross-reference keys

BILLING_MODES = {"time_and_materials": "time_and_materials", "fixed_fee": "fixed_fee", "retainer": "retainer",
                 "recurring_fee": "fixed_fee"}
APPROVAL = {"unsubmitted": "draft", "submitted": "submitted", "approved": "approved", "rejected": "rejected"}


def _day(value: Any, what: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ContractError(f"psa: {what} {value!r} is not a date", system=SYSTEM, code="UNEXPECTED_SHAPE") from None


def workspace_payload(engagement: Engagement, sow: StatementOfWork | None = None, *, client_name: str | None = None,
                      start_date: date | None = None) -> dict[str, Any]:
    """Engagement (+ its statement of work) -> workspace fields (create or update)."""
    out: dict[str, Any] = {"title": engagement.name, "currency": engagement.currency}
    if client_name:
        out["client_name"] = client_name
    if sow is not None:
        out["price_in_cents"] = to_cents(sow.current.value)
        out["budget_in_cents"] = to_cents(sow.current.budget)
        out["billing_mode"] = BILLING_MODES[sow.billing_plan.kind]
        if sow.current.end_date:
            out["due_date"] = sow.current.end_date.isoformat()
    if start_date:
        out["start_date"] = start_date.isoformat()
    return out


def engagement_reference(engagement_id: str) -> dict[str, str]:
    """The external_reference keys that tie a workspace to our engagement (`PsaClient.upsert_by_reference`)."""
    return {"service_name": SERVICE_NAME, "service_model": "Engagement", "service_model_ref": engagement_id}


def milestone_payload(milestone: Milestone, *, workspace_id: str) -> dict[str, Any]:
    return {"workspace_id": int(workspace_id), "title": milestone.name,
            "amount_in_cents": to_cents(milestone.amount), "due_date": milestone.due_date.isoformat()}


def milestone_from_psa(record: dict[str, Any], *, sow_id: str, correlation_id: str,
                       milestone_id: str | None = None) -> Milestone:
    pid = str(need(record, "id", system=SYSTEM, what="billing_milestone"))
    state = record.get("acceptance_state") or "pending"
    status = "billed" if record.get("is_invoiced") else "accepted" if state == "accepted" else "planned"
    accepted = record.get("accepted_at")
    return Milestone(correlation_id=correlation_id, xref={"psa": pid}, milestone_id=milestone_id or pid,
                     sow_id=sow_id, name=str(need(record, "title", system=SYSTEM, what="billing_milestone")),
                     amount=from_cents(need(record, "amount_in_cents", system=SYSTEM, what="billing_milestone")),
                     due_date=_day(need(record, "due_date", system=SYSTEM, what="billing_milestone"), "due_date"),
                     status=status, accepted_on=_day(accepted, "accepted_at") if accepted else None)


def hours_from_minutes(minutes: Any) -> Decimal:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise ContractError(f"psa: time_in_minutes {minutes!r} is not an integer", system=SYSTEM,
                            code="UNEXPECTED_SHAPE")
    return (Decimal(minutes) / 60).quantize(HOURS_PLACES, rounding=ROUND_HALF_UP).normalize() + Decimal("0.00")


def time_transaction_from_entry(entry: dict[str, Any], *, correlation_id: str, engagement_id: str, sow_id: str,
                                role: str, region: str, delivering_entity_id: str,
                                resource_id: str | None = None) -> TimeTransaction:
    """A PSA time entry as a canonical TimeTransaction (role/region/entity come from the resource assignment)."""
    pid = str(need(entry, "id", system=SYSTEM, what="time_entry"))
    return TimeTransaction(
        correlation_id=correlation_id, xref={"psa": pid}, time_entry_id=pid, engagement_id=engagement_id,
        sow_id=sow_id, resource_id=resource_id or str(need(entry, "user_id", system=SYSTEM, what="time_entry")),
        role=role, region=region, delivering_entity_id=delivering_entity_id,
        work_date=_day(need(entry, "date_performed", system=SYSTEM, what="time_entry"), "date_performed"),
        hours=hours_from_minutes(need(entry, "time_in_minutes", system=SYSTEM, what="time_entry")),
        approval_state=APPROVAL.get(str(entry.get("approval_state") or "unsubmitted"), "draft"),
        billable=bool(entry.get("billable", True)),
        billing_status="billed" if entry.get("is_invoiced") else "unbilled",
    )


def expense_transaction_from_psa(expense: dict[str, Any], *, correlation_id: str, engagement_id: str, sow_id: str,
                                 delivering_entity_id: str, currency: str | None = None) -> ExpenseTransaction:
    pid = str(need(expense, "id", system=SYSTEM, what="expense"))
    cur = expense.get("currency") or currency
    if not cur:
        raise ContractError(f"psa: expense {pid} has no currency", system=SYSTEM, code="UNEXPECTED_SHAPE")
    return ExpenseTransaction(
        correlation_id=correlation_id, xref={"psa": pid}, expense_id=pid, engagement_id=engagement_id,
        sow_id=sow_id, resource_id=str(need(expense, "user_id", system=SYSTEM, what="expense")),
        delivering_entity_id=delivering_entity_id,
        incurred_on=_day(need(expense, "date", system=SYSTEM, what="expense"), "date"),
        category=str(need(expense, "category", system=SYSTEM, what="expense")),
        amount=from_cents(need(expense, "amount_in_cents", system=SYSTEM, what="expense")), currency=cur,
        approval_state=APPROVAL.get(str(expense.get("approval_state") or "unsubmitted"), "draft"),
        billable=bool(expense.get("billable", True)),
        billing_status="billed" if expense.get("is_invoiced") else "unbilled",
    )
