"""Retainers: cash received in advance is a liability; work draws it down.

balance = received - applied, and it never goes below zero: a drawdown larger than the
balance is refused (RetainerOverdrawn), not clipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .errors import RetainerOverdrawn
from .rounding import ZERO, minor_units, require_minor_units, require_non_negative


@dataclass(frozen=True)
class RetainerBalance:
    retainer_id: str
    currency: str
    received: Decimal = ZERO
    applied: Decimal = ZERO

    @property
    def balance(self) -> Decimal:
        return self.received - self.applied


def receive_retainer(state: RetainerBalance, amount: Decimal) -> RetainerBalance:
    minor_units(state.currency)
    require_non_negative(amount, f"retainer {state.retainer_id} receipt")
    require_minor_units(amount, state.currency, f"retainer {state.retainer_id} receipt")
    return RetainerBalance(state.retainer_id, state.currency, state.received + amount, state.applied)


def draw_down_retainer(state: RetainerBalance, amount: Decimal) -> RetainerBalance:
    """Apply ``amount`` of billed work against the retainer. Raises RetainerOverdrawn."""
    minor_units(state.currency)
    require_non_negative(amount, f"retainer {state.retainer_id} drawdown")
    require_minor_units(amount, state.currency, f"retainer {state.retainer_id} drawdown")
    if amount > state.balance:
        raise RetainerOverdrawn(
            f"retainer {state.retainer_id}: drawdown {amount} {state.currency} exceeds the remaining "
            f"balance {state.balance} {state.currency}",
            ref=state.retainer_id,
        )
    return RetainerBalance(state.retainer_id, state.currency, state.received, state.applied + amount)
