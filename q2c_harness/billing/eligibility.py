"""Which time and expense entries may be billed (Certinia PSA: Approved + Billable + not Billed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from q2c_harness.canonical import ExpenseTransaction, TimeTransaction

from .errors import AlreadyBilled, IneligibleEntry

Entry = TimeTransaction | ExpenseTransaction
E = TypeVar("E", TimeTransaction, ExpenseTransaction)


def entry_id(entry: Entry) -> str:
    return entry.time_entry_id if isinstance(entry, TimeTransaction) else entry.expense_id


def why_ineligible(entry: Entry, billed_source_ids: set[str] | frozenset[str]) -> str | None:
    """None if billable now, else the reason."""
    if entry.approval_state != "approved":
        return f"approval state is {entry.approval_state!r}, not 'approved'"
    if not entry.billable:
        return "entry is marked non-billable"
    if entry.billing_status != "unbilled" or entry_id(entry) in billed_source_ids:
        return "entry is already billed"
    return None


def select_billable(entries: Iterable[E], billed_source_ids: Iterable[str] = ()) -> list[E]:
    """Filter to entries that may be billed now. Not an error to skip draft or non-billable work:
    it simply waits (or never bills). Duplicates within ``entries`` keep the first occurrence."""
    billed = set(billed_source_ids)
    selected: list[E] = []
    for e in entries:
        if why_ineligible(e, billed) is None:
            selected.append(e)
            billed.add(entry_id(e))
    return selected


def require_billable(entries: Sequence[Entry], billed_source_ids: Iterable[str] = ()) -> None:
    """Refuse a batch holding any ineligible entry or the same entry twice."""
    billed = set(billed_source_ids)
    seen: set[str] = set()
    for e in entries:
        eid = entry_id(e)
        if eid in seen:
            raise AlreadyBilled(f"entry {eid} appears twice in the same billing run", ref=eid)
        seen.add(eid)
        reason = why_ineligible(e, billed)
        if reason == "entry is already billed":
            raise AlreadyBilled(f"entry {eid} is already billed", ref=eid)
        if reason is not None:
            raise IneligibleEntry(f"entry {eid} cannot be billed: {reason}", ref=eid)
