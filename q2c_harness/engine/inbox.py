"""The inbox: every inbound event lands here first, deduplicated on (source system, event id).

The workflow that handles an event gets an id derived from the inbox key, so a redelivered event can neither be
accepted twice nor start a second workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from q2c_harness import correlation
from .db import Database, NotFound, inbox, jsonable

RECEIVED, PROCESSING, DONE, FAILED = "received", "processing", "done", "failed"
STATUSES = (RECEIVED, PROCESSING, DONE, FAILED)


def inbox_key(source: str, event_id: str) -> str:
    return f"{source}:{event_id}"


def workflow_id_for(source: str, event_id: str) -> str:
    """The workflow id for an inbound event: the inbox key with a prefix (DBOS treats it as idempotency key)."""
    return f"inbox:{inbox_key(source, event_id)}"


@dataclass(frozen=True)
class InboxEvent:
    source: str
    event_id: str
    event_type: str
    payload: Any
    correlation_id: str
    workflow_id: str
    workflow_name: str | None
    status: str
    attempts: int
    error: Any
    received_at: str
    updated_at: str

    @property
    def key(self) -> str:
        return inbox_key(self.source, self.event_id)

    def as_message(self) -> dict[str, Any]:
        """What a workflow receives: plain JSON."""
        return {"source": self.source, "event_id": self.event_id, "event_type": self.event_type,
                "payload": self.payload, "correlation_id": self.correlation_id, "workflow_id": self.workflow_id}

    def to_dict(self) -> dict[str, Any]:
        return {**self.as_message(), "inbox_key": self.key, "workflow_name": self.workflow_name,
                "status": self.status, "attempts": self.attempts, "error": self.error,
                "received_at": self.received_at, "updated_at": self.updated_at}


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def accept(self, source: str, event_id: str, event_type: str, payload: Any,
               correlation_id: str | None = None, *, workflow_name: str | None = None) -> bool:
        """Record an inbound event; False when (source, event_id) was already accepted (a duplicate)."""
        now = self.db.now()
        cid = correlation_id or correlation.current() or correlation.new_correlation_id()
        try:
            with self.db.tx() as conn:
                conn.execute(sa.insert(inbox).values(
                    source=source, event_id=event_id, event_type=event_type, payload=jsonable(payload),
                    correlation_id=cid, workflow_id=workflow_id_for(source, event_id), workflow_name=workflow_name,
                    status=RECEIVED,
                    attempts=0, error=None, received_at=now, updated_at=now))
            return True
        except sa.exc.IntegrityError:
            return False

    def get(self, source: str, event_id: str) -> InboxEvent:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(inbox).where(inbox.c.source == source, inbox.c.event_id == event_id)
                               ).one_or_none()
        if row is None:
            raise NotFound(f"no inbox event {inbox_key(source, event_id)}")
        return _event(row)

    def get_by_key(self, key: str) -> InboxEvent:
        source, sep, event_id = key.partition(":")
        if not sep:
            raise NotFound(f"not an inbox key: {key!r} (expected 'source:event_id')")
        return self.get(source, event_id)

    def mark(self, source: str, event_id: str, status: str, error: Any = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown inbox status {status!r}")
        values: dict[str, Any] = {"status": status, "updated_at": self.db.now()}
        if status == PROCESSING:
            values["attempts"] = inbox.c.attempts + 1
        if status in (FAILED, DONE):
            values["error"] = jsonable(error) if error is not None else None
        with self.db.tx() as conn:
            res = conn.execute(sa.update(inbox).where(inbox.c.source == source, inbox.c.event_id == event_id)
                               .values(**values))
        if res.rowcount == 0:
            raise NotFound(f"no inbox event {inbox_key(source, event_id)}")

    def mark_processing(self, source: str, event_id: str) -> None:
        self.mark(source, event_id, PROCESSING)

    def mark_done(self, source: str, event_id: str) -> None:
        self.mark(source, event_id, DONE)

    def mark_failed(self, source: str, event_id: str, error: Any) -> None:
        self.mark(source, event_id, FAILED, error)

    def list(self, *, status: str | None = None, correlation_id: str | None = None,
             limit: int = 100) -> list[InboxEvent]:
        q = sa.select(inbox).order_by(inbox.c.id.desc()).limit(limit)
        if status is not None:
            q = q.where(inbox.c.status == status)
        if correlation_id is not None:
            q = q.where(inbox.c.correlation_id == correlation_id)
        with self.db.tx() as conn:
            return [_event(r) for r in conn.execute(q)]

    def counts(self) -> dict[str, int]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(inbox.c.status, sa.func.count()).group_by(inbox.c.status)).all()
        return {s: 0 for s in STATUSES} | {r[0]: int(r[1]) for r in rows}


def _event(row: Any) -> InboxEvent:
    return InboxEvent(source=row.source, event_id=row.event_id, event_type=row.event_type, payload=row.payload,
                      correlation_id=row.correlation_id, workflow_id=row.workflow_id,
                      workflow_name=row.workflow_name, status=row.status,
                      attempts=row.attempts, error=row.error, received_at=row.received_at,
                      updated_at=row.updated_at)
