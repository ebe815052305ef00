"""What was delivered: time and expense transactions from the PSA."""

from __future__ import annotations

from datetime import date
from typing import Literal

from .contracts import ApprovalState
from .money import Amount, CanonicalObject, CurrencyCode

BillingStatus = Literal["unbilled", "billed", "held"]


class TimeTransaction(CanonicalObject):
    time_entry_id: str
    engagement_id: str
    sow_id: str
    resource_id: str
    role: str
    region: str
    delivering_entity_id: str
    work_date: date
    hours: Amount
    approval_state: ApprovalState
    billable: bool
    billing_status: BillingStatus = "unbilled"


class ExpenseTransaction(CanonicalObject):
    expense_id: str
    engagement_id: str
    sow_id: str
    resource_id: str
    delivering_entity_id: str
    incurred_on: date
    category: str
    amount: Amount
    currency: CurrencyCode
    approval_state: ApprovalState
    billable: bool
    billing_status: BillingStatus = "unbilled"
