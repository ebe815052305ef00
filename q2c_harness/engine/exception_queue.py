"""The exception queue: two lots, ``transient`` (retries exhausted) and ``business`` (a person must act).

Each item carries the payload, correlation id, error class, code and message, an owner, a status
(open / retrying / resolved / ignored) and a history of actions (who, when, why, outcome). Actions:

- ``retry``: re-runs the item through the handler registered under its ``handler`` name (the same idempotent
  path as the original run); success resolves it, failure reopens it with the new error;
- ``resolve`` / ``ignore``: a person closes it, with a reason;
- ``assign``: a person makes someone the item's owner (who must act on it), distinct from who acts;
- ``bulk_replay``: retry every matching open item.

Every action records its actor (the caller's identity, never a free-text field). An open item is due within its lot's
SLA from when it was parked (`SLA_SECONDS`; per queue with ``sla=``): the item reports its age, when it is due and
whether it is overdue, and `overdue_counts` feeds the metrics an alert rule fires on.

Parking the same ``source_key`` again while an item is still open folds into that item (``occurrences`` + 1)
instead of opening a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
import datetime as dt
from typing import Any

import sqlalchemy as sa

from q2c_harness.errors import BusinessError, IntegrationError

from q2c_harness import correlation
from .db import Database, NotFound, exception_actions, exceptions, iso, jsonable, parse_iso

TRANSIENT, BUSINESS = "transient", "business"
LOTS = (TRANSIENT, BUSINESS)
OPEN, RETRYING, RESOLVED, IGNORED = "open", "retrying", "resolved", "ignored"
STATUSES = (OPEN, RETRYING, RESOLVED, IGNORED)

Handler = Callable[[Any, "ExceptionItem"], Any]

# A vendor outage is replayed within a working half-day; a person acts on a business exception within a day.
SLA_SECONDS: Mapping[str, int] = {TRANSIENT: 4 * 3600, BUSINESS: 24 * 3600}


@dataclass(frozen=True)
class Action:
    action: str
    actor: str | None
    reason: str | None
    outcome: str | None
    at: str


@dataclass(frozen=True)
class ExceptionItem:
    id: int
    lot: str
    status: str
    source_key: str | None
    handler: str | None
    payload: Any
    correlation_id: str | None
    error_class: str
    code: str | None
    message: str
    system: str | None
    owner: str | None
    occurrences: int
    created_at: str
    updated_at: str
    age_seconds: int  # since parked: until now while open, until closed after
    due_at: str  # parked + the lot's SLA
    overdue: bool  # open (or retrying) past due_at
    history: list[Action] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class InvalidAction(BusinessError):
    """The action does not apply to the item's current status (e.g. retrying a resolved item)."""


def lot_for(exc: BaseException) -> str:
    """The lot an error lands in: the taxonomy's ``.lot``; unknown exceptions (bugs) need a person."""
    return getattr(exc, "lot", BUSINESS) if isinstance(exc, IntegrationError) else BUSINESS


class ExceptionQueue:
    def __init__(self, db: Database, *, sla: Mapping[str, int] | None = None) -> None:
        self.sla = {**SLA_SECONDS, **(sla or {})}
        self.db = db
        self._handlers: dict[str, Handler] = {}

    def register_handler(self, name: str, handler: Handler) -> None:
        """``handler(payload, item)`` re-runs the work; it raises to leave the item open."""
        self._handlers[name] = handler

    def park(self, error: BaseException, payload: Any, *, correlation_id: str | None = None,
             handler: str | None = None, source_key: str | None = None, owner: str | None = None,
             lot: str | None = None) -> int:
        """Put failed work in its lot; returns the item id (an existing open item for the same source_key)."""
        lot = lot or lot_for(error)
        if lot not in LOTS:
            raise ValueError(f"unknown lot {lot!r}")
        now = self.db.now()
        cid = correlation_id or correlation.current()
        info = _error_info(error)
        with self.db.tx() as conn:
            if source_key is not None:
                existing = conn.execute(sa.select(exceptions.c.id).where(
                    exceptions.c.source_key == source_key, exceptions.c.status.in_((OPEN, RETRYING)))
                ).scalar_one_or_none()
                if existing is not None:
                    conn.execute(sa.update(exceptions).where(exceptions.c.id == existing).values(
                        lot=lot, status=OPEN, occurrences=exceptions.c.occurrences + 1, updated_at=now,
                        **info))
                    self._log(conn, existing, "recurred", None, info["message"], None, now)
                    return int(existing)
            res = conn.execute(sa.insert(exceptions).values(
                lot=lot, status=OPEN, source_key=source_key, handler=handler, payload=jsonable(payload),
                correlation_id=cid, owner=owner, occurrences=1, created_at=now, updated_at=now, **info))
            item_id = int(res.inserted_primary_key[0])
            self._log(conn, item_id, "parked", None, info["message"], None, now)
        return item_id

    def get(self, item_id: int) -> ExceptionItem:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(exceptions).where(exceptions.c.id == item_id)).mappings().one_or_none()
            if row is None:
                raise NotFound(f"no exception item {item_id}")
            hist = conn.execute(sa.select(exception_actions).where(exception_actions.c.exception_id == item_id)
                                .order_by(exception_actions.c.id)).mappings().all()
        return _item(row, hist, self.db.now(), self.sla)

    def list(self, *, lot: str | None = None, status: str | None = None, correlation_id: str | None = None,
             limit: int = 100, offset: int = 0) -> list[ExceptionItem]:
        q = sa.select(exceptions).order_by(exceptions.c.id.desc()).limit(limit).offset(offset)
        if lot is not None:
            q = q.where(exceptions.c.lot == lot)
        if status is not None:
            q = q.where(exceptions.c.status == status)
        if correlation_id is not None:
            q = q.where(exceptions.c.correlation_id == correlation_id)
        with self.db.tx() as conn:
            rows = conn.execute(q).mappings().all()
            ids = [r["id"] for r in rows]
            hist = conn.execute(sa.select(exception_actions).where(exception_actions.c.exception_id.in_(ids))
                                .order_by(exception_actions.c.id)).mappings().all() if ids else []
        by_item: dict[int, list[Any]] = {}
        for h in hist:
            by_item.setdefault(h["exception_id"], []).append(h)
        now = self.db.now()
        return [_item(r, by_item.get(r["id"], []), now, self.sla) for r in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(exceptions.c.lot, exceptions.c.status, sa.func.count())
                                .group_by(exceptions.c.lot, exceptions.c.status)).all()
        out = {lot: {s: 0 for s in STATUSES} for lot in LOTS}
        for lot, status, n in rows:
            out.setdefault(lot, {})[status] = int(n)
        return out

    def overdue_counts(self) -> dict[str, int]:
        """Open (or retrying) items past their lot's SLA, per lot."""
        now = parse_iso(self.db.now())
        out = {lot: 0 for lot in LOTS}
        with self.db.tx() as conn:
            for lot in LOTS:
                cutoff = iso(now - dt.timedelta(seconds=self.sla[lot]))
                out[lot] = int(conn.execute(sa.select(sa.func.count()).where(
                    exceptions.c.lot == lot, exceptions.c.status.in_((OPEN, RETRYING)),
                    exceptions.c.created_at < cutoff)).scalar_one())
        return out

    def assign(self, item_id: int, *, owner: str, actor: str, reason: str | None = None) -> ExceptionItem:
        """Make ``owner`` the person who must act on the item (open or retrying)."""
        return self._transition(item_id, (OPEN, RETRYING), None, "assign", actor, reason or f"assigned to {owner}",
                                None, owner=owner)

    def retry(self, item_id: int, *, actor: str | None = None, reason: str | None = None) -> ExceptionItem:
        """Re-run an open item through its handler. Resolved on success; reopened with the new error on failure."""
        item = self._transition(item_id, (OPEN,), RETRYING, "retry", actor, reason, None)
        handler = self._handlers.get(item.handler or "")
        if handler is None:
            self._finish(item_id, OPEN, "retry", actor, f"no handler registered for {item.handler!r}", "failed")
            raise InvalidAction(f"no retry handler registered for {item.handler!r}", code="NO_HANDLER")
        try:
            with correlation.use(item.correlation_id):
                handler(item.payload, item)
        except Exception as exc:  # noqa: BLE001 - any failure reopens the item with its error
            info = _error_info(exc)
            with self.db.tx() as conn:
                conn.execute(sa.update(exceptions).where(exceptions.c.id == item_id).values(
                    status=OPEN, lot=lot_for(exc), updated_at=self.db.now(), **info))
                self._log(conn, item_id, "retry-failed", actor, info["message"], "failed", self.db.now())
            return self.get(item_id)
        return self._finish(item_id, RESOLVED, "retry-succeeded", actor, reason, "resolved")

    def resolve(self, item_id: int, *, reason: str, actor: str, owner: str | None = None) -> ExceptionItem:
        """A person fixed it elsewhere (or confirmed the outcome); closes the item."""
        return self._transition(item_id, (OPEN, RETRYING), RESOLVED, "resolve", actor, reason, "resolved",
                                owner=owner)

    def ignore(self, item_id: int, *, reason: str, actor: str, owner: str | None = None) -> ExceptionItem:
        """A person decided nothing should be done; closes the item."""
        return self._transition(item_id, (OPEN, RETRYING), IGNORED, "ignore", actor, reason, "ignored",
                                owner=owner)

    def bulk_replay(self, *, ids: list[int] | None = None, lot: str | None = None,
                    actor: str | None = None, reason: str | None = None, limit: int = 500) -> dict[str, Any]:
        """Retry many open items (given ids, or every open item of a lot); returns per-item outcomes."""
        if ids is None:
            ids = [i.id for i in self.list(lot=lot, status=OPEN, limit=limit)]
            ids.reverse()  # oldest first
        ids = list(dict.fromkeys(ids))  # each item once
        results: list[dict[str, Any]] = []
        for item_id in ids:
            try:
                item = self.retry(item_id, actor=actor, reason=reason)
                results.append({"id": item_id, "status": item.status})
            except (NotFound, InvalidAction) as exc:
                results.append({"id": item_id, "status": "skipped", "reason": str(exc)})
        return {"attempted": len(ids), "resolved": sum(r["status"] == RESOLVED for r in results),
                "results": results}

    def _transition(self, item_id: int, allowed: tuple[str, ...], new: str | None, action: str, actor: str | None,
                    reason: str | None, outcome: str | None, owner: str | None = None) -> ExceptionItem:
        now = self.db.now()
        values: dict[str, Any] = {"updated_at": now} if new is None else {"status": new, "updated_at": now}
        if owner is not None:
            values["owner"] = owner
        with self.db.tx() as conn:
            res = conn.execute(sa.update(exceptions).where(exceptions.c.id == item_id,
                                                           exceptions.c.status.in_(allowed)).values(**values))
            if res.rowcount == 0:
                status = conn.execute(sa.select(exceptions.c.status).where(exceptions.c.id == item_id)
                                      ).scalar_one_or_none()
                if status is None:
                    raise NotFound(f"no exception item {item_id}")
                raise InvalidAction(f"cannot {action} item {item_id}: it is {status}", code="INVALID_TRANSITION",
                                    details={"status": status, "action": action})
            self._log(conn, item_id, action, actor, reason, outcome, now)
        return self.get(item_id)

    def _finish(self, item_id: int, status: str, action: str, actor: str | None, reason: str | None,
                outcome: str) -> ExceptionItem:
        now = self.db.now()
        with self.db.tx() as conn:
            conn.execute(sa.update(exceptions).where(exceptions.c.id == item_id)
                         .values(status=status, updated_at=now))
            self._log(conn, item_id, action, actor, reason, outcome, now)
        return self.get(item_id)

    @staticmethod
    def _log(conn: Any, item_id: int, action: str, actor: str | None, reason: str | None, outcome: str | None,
             at: str) -> None:
        conn.execute(sa.insert(exception_actions).values(exception_id=item_id, action=action, actor=actor,
                                                         reason=reason, outcome=outcome, at=at))


def _error_info(error: BaseException) -> dict[str, Any]:
    if isinstance(error, IntegrationError):
        return {"error_class": error.error_class, "code": error.code, "message": error.message or str(error),
                "system": error.system}
    return {"error_class": type(error).__name__, "code": None, "message": str(error) or type(error).__name__,
            "system": None}


def _item(row: Any, hist: Any, now: str, sla: Mapping[str, int]) -> ExceptionItem:
    created = parse_iso(row["created_at"])
    is_open = row["status"] in (OPEN, RETRYING)
    until = parse_iso(now if is_open else row["updated_at"])
    due = created + dt.timedelta(seconds=sla.get(row["lot"], SLA_SECONDS[BUSINESS]))
    return ExceptionItem(
        id=row["id"], lot=row["lot"], status=row["status"], source_key=row["source_key"], handler=row["handler"],
        payload=row["payload"], correlation_id=row["correlation_id"], error_class=row["error_class"],
        code=row["code"], message=row["message"], system=row["system"], owner=row["owner"],
        occurrences=row["occurrences"], created_at=row["created_at"], updated_at=row["updated_at"],
        age_seconds=max(0, int((until - created).total_seconds())), due_at=iso(due),
        overdue=is_open and parse_iso(now) > due,
        history=[Action(h["action"], h["actor"], h["reason"], h["outcome"], h["at"]) for h in hist])
