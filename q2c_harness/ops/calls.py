"""The vendor call log: one row per attempt of every connector call (``CallRecord``), keyed by correlation id, in
the engine's database (table ``q2c_ops_vendor_calls``). It is what the trace view shows between the audited writes:
reads, retries (``attempt`` > 1, ``retry_in``), errors and their classes.

Wire it once after the vendors are built: ``attach_call_log(core.vendors, core.engine)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from q2c_harness.engine.db import TS, iso

metadata = sa.MetaData()
vendor_calls = sa.Table(
    "q2c_ops_vendor_calls", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("correlation_id", sa.String(200), nullable=False, index=True),
    sa.Column("system", sa.String(40), nullable=False),
    sa.Column("operation", sa.String(200), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("idempotency_key", sa.String(600), nullable=True),
    sa.Column("error_class", sa.String(100), nullable=True),
    sa.Column("error_code", sa.String(100), nullable=True),
    sa.Column("retry_in", sa.Float, nullable=True),
)


class VendorCallLog:
    """A connector ``call_log`` hook that stores each attempt; also readable by correlation id."""

    def __init__(self, engine: Any) -> None:
        self.db = engine.db
        metadata.create_all(self.db.engine, checkfirst=True)

    def __call__(self, record: Any) -> None:
        with self.db.tx() as conn:
            conn.execute(vendor_calls.insert().values(
                at=iso(self.db.clock()), correlation_id=str(record.correlation_id or "")[:200],
                system=record.system, operation=str(record.operation)[:200], method=record.method,
                url=str(record.url)[:2000], status=record.status, attempt=record.attempt,
                duration_ms=round(record.duration * 1000, 3), idempotency_key=record.idempotency_key,
                error_class=record.error_class, error_code=record.error_code, retry_in=record.retry_in))

    def for_correlations(self, correlation_ids: Iterable[str], limit: int = 5000) -> list[dict[str, Any]]:
        cids = list(correlation_ids)
        if not cids:
            return []
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(vendor_calls).where(vendor_calls.c.correlation_id.in_(cids))
                                .order_by(vendor_calls.c.id).limit(limit)).mappings().all()
        return [dict(r) for r in rows]


def attach_call_log(vendors: Any, engine: Any, *, extra: Any = None) -> VendorCallLog:
    """Set the call log on each vendor client (``vendors.sf``, ``.ns``, ``.psa``), keeping a hook already there.
    ``extra`` is one more hook called after ours (e.g. ``telemetry.call_log_span``)."""
    log = VendorCallLog(engine)
    for name in ("sf", "ns", "psa"):
        client = getattr(vendors, name, None)
        if client is None:
            continue
        hooks = [h for h in (getattr(client, "call_log", None), log, extra) if h is not None]
        client.call_log = _chain(hooks)
    return log


def _chain(hooks: list[Any]) -> Any:
    if len(hooks) == 1:
        return hooks[0]

    def call(record: Any) -> Any:
        pending = [out for out in (h(record) for h in hooks) if inspect.isawaitable(out)]
        if pending:
            async def wait() -> None:
                for out in pending:
                    await out
            return wait()
        return None
    return call
