"""Pure functions between the canonical model (`q2c_harness.canonical`) and each vendor's payloads.

No I/O: a mapper takes canonical objects plus the ids the flow already resolved (through the cross-reference table)
and returns a vendor payload, or takes a vendor record and returns a canonical object. Money stays `Decimal`; the
HTTP layer writes it as exact JSON numbers. A vendor record that lacks what a mapper needs raises ContractError; a
canonical value a vendor cannot hold (sub-cent amount for a cents field) raises BusinessError.
"""

from .common import external_id, from_cents, money, to_cents, to_decimal

__all__ = ["external_id", "from_cents", "money", "to_cents", "to_decimal"]
