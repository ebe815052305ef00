"""Usage-based lines: units the delivery team reported, billed in arrears at the quote's unit price, each unit once
(its source record is the billed-once key)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from q2c_harness.canonical import InvoiceLine

from .rounding import require_minor_units, require_non_negative, round_money


def usage_line(*, line_key: str, item: str, unit_price: Decimal, units: Sequence[str], invoice_id: str,
               contract_version: int, currency: str) -> InvoiceLine:
    """One line per usage item and invoice: quantity = the units reported (their source ids), amount =
    round(quantity x unit price). Raises NegativeQuantity, AmountNotInMinorUnits (the unit price)."""
    require_non_negative(unit_price, f"usage item {item} unit price")
    require_minor_units(unit_price, currency, f"usage item {item} unit price")
    quantity = Decimal(len(units))
    return InvoiceLine(line_id=f"{invoice_id}-U{line_key}", kind="usage", description=f"{item}: {len(units)} x "
                       f"{unit_price}", quantity=quantity, unit_price=unit_price,
                       amount=round_money(quantity * unit_price, currency), source_ids=sorted(units),
                       contract_version=contract_version)
