"""Customer billing splits (Dynamics 365 Project Operations: multiple customers on a contract line).

Each customer's share = round(amount x percent / 100); percentages sum to exactly 100 and the
rounding residue goes to one designated customer, so shares always sum to the amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from q2c_harness.canonical import CustomerSplit

from .errors import SplitsDoNotSumTo100
from .rounding import ZERO, round_money, require_non_negative

HUNDRED = Decimal("100")


def split_amount(
    amount: Decimal, splits: Sequence[CustomerSplit], *, residue_client_id: str, currency: str
) -> dict[str, Decimal]:
    """client_id -> share. Raises SplitsDoNotSumTo100 (also for an unknown residue customer)."""
    total_pct = sum((s.percent for s in splits), ZERO)
    ids = [s.client_id for s in splits]
    if total_pct != HUNDRED:
        raise SplitsDoNotSumTo100(f"customer split percentages sum to {total_pct}, not 100: {ids}")
    if len(set(ids)) != len(ids):
        raise SplitsDoNotSumTo100(f"a customer appears twice in the split: {ids}")
    if residue_client_id not in ids:
        raise SplitsDoNotSumTo100(f"residue customer {residue_client_id} is not one of the split customers {ids}")
    for s in splits:
        require_non_negative(s.percent, f"split percent for {s.client_id}")
    shares = {s.client_id: round_money(amount * s.percent / HUNDRED, currency) for s in splits}
    shares[residue_client_id] += amount - sum(shares.values(), ZERO)
    return shares
