"""Intercompany cross-charges (NetSuite intercompany time and expense).

The contracting entity (the customer's entity) invoices the client. When another
entity delivers the work, it cross-charges the contracting entity: an IC receivable in
the delivering entity mirrored by an equal IC payable in the contracting entity. On
consolidation both are eliminated and the eliminations net to zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from q2c_harness.canonical import LegalEntity

from .errors import NotIntercompanyPartners
from .rounding import ZERO, require_non_negative, round_money


@dataclass(frozen=True)
class IntercompanyEntry:
    pair_id: str
    entity_id: str
    counterparty_id: str
    side: str  # "receivable" | "payable"
    amount: Decimal
    currency: str
    source_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class EliminationEntry:
    pair_id: str
    entity_id: str
    amount: Decimal  # signed: +payable removed, -receivable removed; the pair sums to zero
    currency: str


@dataclass(frozen=True)
class CrossCharge:
    receivable: IntercompanyEntry
    payable: IntercompanyEntry


def cross_charge(
    *,
    pair_id: str,
    delivering: LegalEntity,
    contracting: LegalEntity,
    cost: Decimal,
    markup_percent: Decimal,
    currency: str,
    source_ids: Iterable[str] = (),
) -> CrossCharge | None:
    """IC amount = round(cost x (1 + markup/100)). None when the same entity delivers and contracts."""
    if delivering.entity_id == contracting.entity_id:
        return None
    if contracting.entity_id not in delivering.intercompany_partners:
        raise NotIntercompanyPartners(
            f"entity {delivering.entity_id} may not cross-charge {contracting.entity_id}: "
            f"not listed in its intercompany partners",
            ref=pair_id,
        )
    require_non_negative(cost, f"cross-charge {pair_id} cost")
    require_non_negative(markup_percent, f"cross-charge {pair_id} markup")
    amount = round_money(cost * (Decimal("1") + markup_percent / Decimal("100")), currency)
    src = tuple(source_ids)
    return CrossCharge(
        receivable=IntercompanyEntry(pair_id, delivering.entity_id, contracting.entity_id, "receivable", amount, currency, src),
        payable=IntercompanyEntry(pair_id, contracting.entity_id, delivering.entity_id, "payable", amount, currency, src),
    )


def eliminate(charges: Iterable[CrossCharge]) -> list[EliminationEntry]:
    """Elimination entries removing each IC receivable/payable pair; they sum to zero per pair."""
    out: list[EliminationEntry] = []
    for c in charges:
        out.append(EliminationEntry(c.receivable.pair_id, c.receivable.entity_id, -c.receivable.amount, c.receivable.currency))
        out.append(EliminationEntry(c.payable.pair_id, c.payable.entity_id, c.payable.amount, c.payable.currency))
    return out


def elimination_total(entries: Iterable[EliminationEntry]) -> Decimal:
    return sum((e.amount for e in entries), ZERO)
