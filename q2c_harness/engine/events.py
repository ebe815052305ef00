"""A replayable event log: business events in publish order, read by consumers from an offset.

Offsets start at 0 and are gap-free (allocated under the ``events`` sequence lock, so they also commit in order).
Publishing is idempotent on an event key: publishing the same key again returns the original offset. Consumers
commit the NEXT offset to read per consumer name (Kafka's convention); delivery is at least once, so handlers
must be idempotent (they are: they go through the effect ledger).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from q2c_harness import correlation
from .db import Database, canonical_json, consumer_offsets, events, iso, jsonable, sha256_hex

SEQUENCE = "events"

# The vocabulary of business events (others are allowed; these are the ones the KPIs read).
QUOTE_ACCEPTED = "quote.accepted"
PROJECT_ACTIVATED = "project.activated"
TIME_APPROVED = "time.approved"
MILESTONE_APPROVED = "milestone.approved"
BILLING_EVENT_CREATED = "billing_event.created"
INVOICE_POSTED = "invoice.posted"
INVOICE_EXCEPTION = "invoice.exception"
PAYMENT_RECEIVED = "payment.received"
PAYMENT_APPLIED = "payment.applied"
CHANGE_ORDER_APPLIED = "change_order.applied"
EVENT_TYPES = (QUOTE_ACCEPTED, PROJECT_ACTIVATED, TIME_APPROVED, MILESTONE_APPROVED, BILLING_EVENT_CREATED,
               INVOICE_POSTED, INVOICE_EXCEPTION, PAYMENT_RECEIVED, PAYMENT_APPLIED, CHANGE_ORDER_APPLIED)


@dataclass(frozen=True)
class Event:
    offset: int
    event_key: str
    type: str
    payload: Any
    correlation_id: str | None
    occurred_at: str
    published_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class EventLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def publish(self, type: str, payload: Any, *, key: str | None = None, correlation_id: str | None = None,
                occurred_at: Any = None) -> tuple[int, bool]:
        """Append an event; returns (offset, created). The key defaults to a hash of type and payload."""
        key = key or f"{type}:{sha256_hex(canonical_json(payload))}"
        existing = self._offset_of(key)
        if existing is not None:
            return existing, False
        when = occurred_at if isinstance(occurred_at, str) else iso(occurred_at) if occurred_at else None
        try:
            with self.db.tx() as conn:
                offset, _ = self.db.next_in_sequence(conn, SEQUENCE)
                now = self.db.now()
                conn.execute(sa.insert(events).values(
                    offset=offset, event_key=key, type=type, payload=jsonable(payload),
                    correlation_id=correlation_id or correlation.current(), occurred_at=when or now,
                    published_at=now))
            return offset, True
        except sa.exc.IntegrityError:  # a concurrent publisher won with the same key (the sequence rolled back)
            found = self._offset_of(key)
            assert found is not None
            return found, False

    def _offset_of(self, key: str) -> int | None:
        with self.db.tx() as conn:
            return conn.execute(sa.select(events.c.offset).where(events.c.event_key == key)).scalar_one_or_none()

    def read(self, from_offset: int = 0, limit: int = 100, types: Iterable[str] | None = None,
             correlation_id: str | None = None) -> list[Event]:
        """Events with offset >= from_offset, in offset order."""
        q = sa.select(events).where(events.c.offset >= from_offset).order_by(events.c.offset).limit(limit)
        types = list(types) if types is not None else None
        if types:
            q = q.where(events.c.type.in_(types))
        if correlation_id is not None:
            q = q.where(events.c.correlation_id == correlation_id)
        with self.db.tx() as conn:
            return [Event(**r) for r in conn.execute(q).mappings()]

    def end_offset(self) -> int:
        """The offset the next published event will get."""
        with self.db.tx() as conn:
            last = conn.execute(sa.select(sa.func.max(events.c.offset))).scalar_one_or_none()
        return 0 if last is None else int(last) + 1

    def position(self, consumer: str) -> int:
        """The next offset ``consumer`` will read (0 if it never committed)."""
        with self.db.tx() as conn:
            pos = conn.execute(sa.select(consumer_offsets.c.next_offset)
                               .where(consumer_offsets.c.consumer == consumer)).scalar_one_or_none()
        return 0 if pos is None else int(pos)

    def commit(self, consumer: str, next_offset: int) -> None:
        now = self.db.now()
        with self.db.tx() as conn:
            res = conn.execute(sa.update(consumer_offsets).where(consumer_offsets.c.consumer == consumer)
                               .values(next_offset=next_offset, updated_at=now))
            if res.rowcount == 0:
                conn.execute(sa.insert(consumer_offsets).values(consumer=consumer, next_offset=next_offset,
                                                                updated_at=now))

    def consumers(self) -> dict[str, int]:
        with self.db.tx() as conn:
            return {r.consumer: int(r.next_offset) for r in conn.execute(sa.select(consumer_offsets))}

    def consume(self, consumer: str, handler: Callable[[Event], Any], *, limit: int = 100,
                types: Iterable[str] | None = None) -> int:
        """Read from the consumer's position, call ``handler`` per event, commit after each; returns the count."""
        start = self.position(consumer)
        batch = self.read(start, limit=limit, types=types)
        for ev in batch:
            with correlation.use(ev.correlation_id):
                handler(ev)
            self.commit(consumer, ev.offset + 1)
        return len(batch)
