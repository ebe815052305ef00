"""Change orders: the baseline is immutable; current = baseline + Σ approved deltas.

Each approved change order makes the next numbered contract version; invoices name
the version they billed against. A change order on a closed statement of work is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from q2c_harness.canonical import ChangeOrder, ContractVersion, StatementOfWork

from .errors import ChangeOrderMismatch, ChangeOrderNotApproved, ChangeOrderOnClosedSOW, NegativeQuantity


def _next_version(current: ContractVersion, co: ChangeOrder) -> ContractVersion:
    value = current.value + co.value_delta
    budget = current.budget + co.budget_delta
    if value < 0 or budget < 0:
        raise NegativeQuantity(
            f"change order {co.change_order_id} would make contract value {value} / budget {budget} negative",
            ref=co.change_order_id,
        )
    end = current.end_date + timedelta(days=co.schedule_delta_days) if current.end_date else None
    return ContractVersion(
        version=current.version + 1, value=value, budget=budget, end_date=end, change_order_id=co.change_order_id
    )


def apply_change_order(sow: StatementOfWork, co: ChangeOrder) -> StatementOfWork:
    """Return the statement of work with ``co`` applied as the next contract version.

    The baseline is carried over untouched. Raises ChangeOrderOnClosedSOW,
    ChangeOrderNotApproved, ChangeOrderMismatch (other SOW), NegativeQuantity.
    """
    if co.sow_id != sow.sow_id:
        raise ChangeOrderMismatch(
            f"change order {co.change_order_id} is for SOW {co.sow_id}, not {sow.sow_id}", ref=co.change_order_id
        )
    if sow.status == "closed":
        raise ChangeOrderOnClosedSOW(
            f"change order {co.change_order_id} cannot modify statement of work {sow.sow_id}: it is closed",
            ref=co.change_order_id,
        )
    if co.approval_state != "approved":
        raise ChangeOrderNotApproved(
            f"change order {co.change_order_id} is {co.approval_state!r}; only approved change orders change the contract",
            ref=co.change_order_id,
        )
    return sow.model_copy(update={"current": _next_version(sow.current, co)})


def current_contract_version(baseline: ContractVersion, change_orders: Iterable[ChangeOrder]) -> ContractVersion:
    """Fold the approved change orders (by number) onto the baseline. Unapproved ones are ignored."""
    version = baseline
    approved = sorted((co for co in change_orders if co.approval_state == "approved"), key=lambda c: c.number)
    numbers = [co.number for co in approved]
    if len(set(numbers)) != len(numbers):
        raise ChangeOrderMismatch(f"approved change orders reuse a number: {numbers}")
    for co in approved:
        version = _next_version(version, co)
    return version


def approved_value_delta(change_orders: Iterable[ChangeOrder]) -> Decimal:
    return sum((co.value_delta for co in change_orders if co.approval_state == "approved"), Decimal("0"))
