"""Revenue-recognition inputs (ASC 606 cost-to-cost input method, Deloitte roadmap 8.5).

- progress p = cost to date / estimate at completion. Out of range is REJECTED
  (ProgressOutOfRange), not clamped: cost above the estimate means the estimate is stale,
  and hiding that would overstate or freeze revenue silently.
- cumulative revenue = round(p x price); period revenue = cumulative - prior cumulative
  (negative on a downward cumulative catch-up).
- billed - recognized: positive -> contract liability, negative -> contract asset.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .errors import ProgressOutOfRange
from .rounding import ZERO, require_non_negative, round_money


def percent_complete(cost_to_date: Decimal, estimate_at_completion: Decimal) -> Decimal:
    """Unrounded progress in [0, 1]. Raises ProgressOutOfRange."""
    if estimate_at_completion <= 0:
        raise ProgressOutOfRange(f"estimate at completion must be positive (got {estimate_at_completion})")
    if cost_to_date < 0 or cost_to_date > estimate_at_completion:
        raise ProgressOutOfRange(
            f"cost to date {cost_to_date} is outside 0..estimate at completion {estimate_at_completion}; "
            f"revise the estimate"
        )
    return cost_to_date / estimate_at_completion


def cumulative_revenue(progress: Decimal, price: Decimal, currency: str) -> Decimal:
    if not ZERO <= progress <= 1:
        raise ProgressOutOfRange(f"progress {progress} is outside 0..1")
    require_non_negative(price, "transaction price")
    return round_money(progress * price, currency)


def period_revenue(cumulative: Decimal, prior_cumulative: Decimal) -> Decimal:
    """Cumulative catch-up: may be negative when progress or price falls."""
    return cumulative - prior_cumulative


@dataclass(frozen=True)
class ContractPosition:
    contract_asset: Decimal
    contract_liability: Decimal


def contract_position(billed: Decimal, recognized: Decimal) -> ContractPosition:
    net = billed - recognized
    return ContractPosition(contract_asset=max(-net, ZERO), contract_liability=max(net, ZERO))
