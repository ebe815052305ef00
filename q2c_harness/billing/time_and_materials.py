"""Time-and-materials invoicing with an optional not-to-exceed cap.

Lines bill in (work date, source id) order until the cap is reached. The line that
crosses the cap is split: the part up to the cap bills, the rest is *held* as unbilled
with its source entry (JDE limit processing) -- the excess is never dropped. So for
every rated entry: billed part + held part = rated amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from q2c_harness.canonical import InvoiceLine

from .errors import AlreadyBilled, CapExceeded, CurrencyMismatch
from .rating import RatedLine
from .rounding import ZERO, minor_units, require_non_negative


@dataclass(frozen=True)
class HeldAmount:
    """Rated but unbilled because of the cap; billable after a cap increase (change order)."""

    source_id: str
    amount: Decimal
    currency: str
    reason: str = "not_to_exceed_cap"


@dataclass(frozen=True)
class TimeAndMaterialsBilling:
    lines: list[InvoiceLine]
    held: list[HeldAmount]
    billed_total: Decimal
    held_total: Decimal


def _line(invoice_id: str, n: int, r: RatedLine, amount: Decimal, contract_version: int) -> InvoiceLine:
    return InvoiceLine(
        line_id=f"{invoice_id}-{n}",
        kind="time",
        description=f"{r.role} ({r.region}) {r.work_date.isoformat()}",
        quantity=r.hours,
        unit_price=r.applied_rate * r.fx_rate,
        amount=amount,
        source_ids=[r.source_id],
        contract_version=contract_version,
        applied_rate=r.applied_rate,
        rate_card_version=r.rate_card_version,
        fx_rate_type=r.fx_rate_type,
        fx_rate_date=r.fx_rate_date,
        fx_rate=r.fx_rate,
    )


def bill_time_and_materials(
    rated: Sequence[RatedLine],
    *,
    invoice_id: str,
    contract_version: int,
    currency: str,
    not_to_exceed: Decimal | None = None,
    billed_to_date: Decimal = ZERO,
) -> TimeAndMaterialsBilling:
    """Turn rated lines into invoice lines, holding any excess over the cap.

    Raises CapExceeded if billed_to_date is already above the cap, AlreadyBilled if a
    source appears twice, CurrencyMismatch if a rated line is in another currency.
    """
    minor_units(currency)
    require_non_negative(billed_to_date, "billed_to_date")
    if not_to_exceed is not None:
        require_non_negative(not_to_exceed, "not_to_exceed")
        if billed_to_date > not_to_exceed:
            raise CapExceeded(
                f"billed to date {billed_to_date} {currency} already exceeds the not-to-exceed cap "
                f"{not_to_exceed} {currency} on invoice {invoice_id}",
                ref=invoice_id,
            )
    seen: set[str] = set()
    for r in rated:
        if r.source_id in seen:
            raise AlreadyBilled(f"entry {r.source_id} rated twice in invoice {invoice_id}", ref=r.source_id)
        seen.add(r.source_id)
        if r.currency != currency:
            raise CurrencyMismatch(f"rated line {r.source_id} is in {r.currency}, invoice in {currency}", ref=r.source_id)
        require_non_negative(r.amount, f"rated line {r.source_id} amount")

    room = None if not_to_exceed is None else not_to_exceed - billed_to_date
    lines: list[InvoiceLine] = []
    held: list[HeldAmount] = []
    for r in sorted(rated, key=lambda r: (r.work_date, r.source_id)):
        bill = r.amount if room is None else min(r.amount, room)
        if bill > 0 or (bill == 0 and r.amount == 0):
            lines.append(_line(invoice_id, len(lines) + 1, r, bill, contract_version))
        if room is not None:
            room -= bill
        if r.amount - bill > 0:
            held.append(HeldAmount(source_id=r.source_id, amount=r.amount - bill, currency=currency))
    billed_total = sum((ln.amount for ln in lines), ZERO)
    held_total = sum((h.amount for h in held), ZERO)
    return TimeAndMaterialsBilling(lines=lines, held=held, billed_total=billed_total, held_total=held_total)
