"""Idempotency keys on every external write, and the ledger of effects that makes retries and replays safe.

``key_for(flow, business_key, step)`` is deterministic: the same business fact in the same flow step always
gets the same key, whichever worker, retry or replay computes it. ``EffectLedger.run_once`` records the effect
(key, system, operation, request hash, result ref, status) around the vendor call:

- no row: claim it as ``pending``, call the vendor with the key, record ``done`` with the result;
- ``done``: return the recorded result without calling the vendor again (a retried or replayed step);
- ``pending``/``failed`` (an earlier attempt crashed or failed mid-call): ask the vendor first (``lookup``, e.g. a
  GET by external id) and adopt what it has, else call again with the SAME key, so a vendor-side idempotency
  mechanism (Salesforce/NetSuite external-id upsert, ``X-NetSuite-Idempotency-Key``) dedupes the write.

Reusing a key for a different request is a BusinessError (``IDEMPOTENCY_KEY_REUSED``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from q2c_harness.errors import BusinessError, IntegrationError

from q2c_harness import correlation
from .audit import AuditLog
from .db import Database, canonical_json, effects, jsonable, sha256_hex

T = TypeVar("T")
PENDING, DONE, FAILED = "pending", "done", "failed"
_KEY_NAMESPACE = uuid.UUID("6f1c3a52-3c1e-4d2b-9a57-0c2f4e9b7a11")


def key_for(flow: str, business_key: str, step: str) -> str:
    """Deterministic idempotency key for one external write of one flow step on one business fact."""
    for part, name in ((flow, "flow"), (step, "step")):
        if not part or "/" in part:
            raise ValueError(f"{name} must be non-empty and contain no '/': {part!r}")
    key = f"{flow}/{business_key}/{step}"
    if len(key) > 400:  # keep it a valid column and header value: hash the business key
        key = f"{flow}/sha256:{sha256_hex(business_key)}/{step}"
    return key


def uuid_for(key: str) -> str:
    """The key as a UUID (v5), for vendors whose idempotency header must be a UUID
    (``X-NetSuite-Idempotency-Key``)."""
    return str(uuid.uuid5(_KEY_NAMESPACE, key))


def external_id_for(key: str, max_len: int = 255) -> str:
    """A compact, case-insensitive-safe external id derived from a key (for external-id upserts)."""
    return ("q2c-" + sha256_hex(key)[:40])[:max_len]


def request_hash(request: Any) -> str:
    return sha256_hex(canonical_json(request))


@dataclass(frozen=True)
class Effect(Generic[T]):
    key: str
    system: str
    operation: str
    status: str
    result: T | None
    result_ref: str | None
    attempts: int
    replayed: bool  # True when an earlier attempt's result was returned without calling the vendor


class EffectLedger:
    def __init__(self, db: Database, audit: AuditLog | None = None) -> None:
        self.db = db
        self.audit = audit

    def get(self, key: str) -> dict[str, Any] | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(effects).where(effects.c.key == key)).mappings().one_or_none()
        return dict(row) if row else None

    def run_once(self, key: str, *, system: str, operation: str, request: Any,
                 call: Callable[[str], T], lookup: Callable[[str], T | None] | None = None,
                 result_ref: Callable[[T], str | None] | None = None,
                 correlation_id: str | None = None) -> Effect[T]:
        """Perform ``call(key)`` at most once successfully per key; see the module docstring."""
        rhash = request_hash(request)
        cid = correlation_id or correlation.current()
        row = self._claim(key, system, operation, rhash, cid)
        if row is not None and row["request_hash"] != rhash:
            raise BusinessError(f"idempotency key {key!r} reused for a different request", system=system,
                                code="IDEMPOTENCY_KEY_REUSED",
                                details={"key": key, "recorded_hash": row["request_hash"], "hash": rhash})
        if row is not None and row["status"] == DONE:
            return Effect(key, system, operation, DONE, row["result"], row["result_ref"], row["attempts"], True)
        if row is not None and lookup is not None:  # an earlier attempt may have reached the vendor
            found = lookup(key)
            if found is not None:
                return self._done(key, system, operation, request, found, result_ref, cid, adopted=True)
        self._bump(key)
        try:
            result = call(key)
        except Exception as exc:
            self._failed(key, system, operation, request, exc, cid)
            raise
        return self._done(key, system, operation, request, result, result_ref, cid, adopted=False)

    def _claim(self, key: str, system: str, operation: str, rhash: str, cid: str | None) -> dict[str, Any] | None:
        """Insert a pending row; returns None if we created it, else the existing row."""
        now = self.db.now()
        try:
            with self.db.tx() as conn:
                conn.execute(sa.insert(effects).values(
                    key=key, system=system, operation=operation, request_hash=rhash, status=PENDING,
                    result_ref=None, result=None, attempts=0, error=None, correlation_id=cid, created_at=now,
                    updated_at=now))
            return None
        except sa.exc.IntegrityError:
            existing = self.get(key)
            assert existing is not None
            return existing

    def _bump(self, key: str) -> None:
        with self.db.tx() as conn:
            conn.execute(sa.update(effects).where(effects.c.key == key)
                         .values(attempts=effects.c.attempts + 1, updated_at=self.db.now()))

    def _done(self, key: str, system: str, operation: str, request: Any, result: Any,
              result_ref: Callable[[Any], str | None] | None, cid: str | None, *, adopted: bool) -> Effect[Any]:
        ref = result_ref(result) if result_ref else _default_ref(result)
        with self.db.tx() as conn:
            conn.execute(sa.update(effects).where(effects.c.key == key).values(
                status=DONE, result=jsonable(result), result_ref=ref, error=None, updated_at=self.db.now()))
        if self.audit is not None:
            self.audit.record_write(system=system, operation=operation, request=request, response=result,
                                    outcome="adopted" if adopted else "ok", correlation_id=cid, key=key)
        row = self.get(key)
        assert row is not None
        return Effect(key, system, operation, DONE, row["result"], ref, row["attempts"], adopted)

    def _failed(self, key: str, system: str, operation: str, request: Any, exc: Exception,
                cid: str | None) -> None:
        err = exc.to_dict() if isinstance(exc, IntegrationError) else {"error_class": type(exc).__name__,
                                                                        "message": str(exc)}
        with self.db.tx() as conn:
            conn.execute(sa.update(effects).where(effects.c.key == key).values(
                status=FAILED, error=jsonable(err), updated_at=self.db.now()))
        if self.audit is not None:
            self.audit.record_write(system=system, operation=operation, request=request, response=err,
                                    outcome="error", correlation_id=cid, key=key)

    def list(self, *, correlation_id: str | None = None, status: str | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        q = sa.select(effects).order_by(effects.c.created_at.desc()).limit(limit)
        if correlation_id is not None:
            q = q.where(effects.c.correlation_id == correlation_id)
        if status is not None:
            q = q.where(effects.c.status == status)
        with self.db.tx() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]


def _default_ref(result: Any) -> str | None:
    if isinstance(result, dict):
        for k in ("id", "internalId", "Id", "ref", "location"):
            if result.get(k) is not None:
                return str(result[k])
    if isinstance(result, (str, int)):
        return str(result)
    return None
