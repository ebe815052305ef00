"""A saga log: register a compensation BEFORE each multi-system step; when a later step fails, run the
registered compensations last-in-first-out.

Compensations are named handlers (registered once per process) with JSON arguments, so they can be run after a
crash by a process that never saw the original call. Each record moves registered -> compensated exactly once;
a compensation that fails stays ``registered`` (with its error) and is run again by the next ``compensate``,
so handlers must be idempotent (use the effect ledger with a ``key_for(..., "compensate-...")`` key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from q2c_harness.errors import IntegrationError

from q2c_harness import correlation
from .db import Database, jsonable, saga_steps

REGISTERED, COMPENSATED, DISCARDED = "registered", "compensated", "discarded"
Compensation = Callable[..., Any]


@dataclass(frozen=True)
class SagaStep:
    saga_id: str
    step: str
    compensation: str
    args: Any
    status: str
    error: Any


class CompensationFailed(Exception):
    def __init__(self, saga_id: str, step: str, cause: BaseException) -> None:
        super().__init__(f"saga {saga_id}: compensation of {step!r} failed: {cause}")
        self.saga_id, self.step, self.cause = saga_id, step, cause


class SagaLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._compensations: dict[str, Compensation] = {}

    def register_compensation(self, name: str, fn: Compensation) -> None:
        self._compensations[name] = fn

    def compensation(self, name: str) -> Callable[[Compensation], Compensation]:
        def deco(fn: Compensation) -> Compensation:
            self.register_compensation(name, fn)
            return fn
        return deco

    def register(self, saga_id: str, step: str, compensation: str, **args: Any) -> None:
        """Record how to undo ``step`` before doing it. Registering the same (saga, step) again is a no-op."""
        if compensation not in self._compensations:
            raise KeyError(f"unknown compensation {compensation!r}")
        now = self.db.now()
        try:
            with self.db.tx() as conn:
                conn.execute(sa.insert(saga_steps).values(
                    saga_id=saga_id, step=step, compensation=compensation, args=jsonable(args), status=REGISTERED,
                    error=None, correlation_id=correlation.current(), created_at=now, updated_at=now))
        except sa.exc.IntegrityError:
            pass

    def steps(self, saga_id: str) -> list[SagaStep]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(saga_steps).where(saga_steps.c.saga_id == saga_id)
                                .order_by(saga_steps.c.id)).mappings().all()
        return [SagaStep(r["saga_id"], r["step"], r["compensation"], r["args"], r["status"], r["error"])
                for r in rows]

    def compensate(self, saga_id: str) -> list[str]:
        """Run pending compensations newest first; returns the steps compensated now.
        Stops at the first failure (raising CompensationFailed); calling again resumes."""
        done: list[str] = []
        for st in reversed(self.steps(saga_id)):
            if st.status != REGISTERED:
                continue
            try:
                self._compensations[st.compensation](**st.args)
            except Exception as exc:
                err = exc.to_dict() if isinstance(exc, IntegrationError) else {
                    "error_class": type(exc).__name__, "message": str(exc)}
                self._set(saga_id, st.step, REGISTERED, err)
                raise CompensationFailed(saga_id, st.step, exc) from exc
            self._set(saga_id, st.step, COMPENSATED, None)
            done.append(st.step)
        return done

    def close(self, saga_id: str) -> None:
        """The saga succeeded: its compensations will never run."""
        with self.db.tx() as conn:
            conn.execute(sa.update(saga_steps).where(saga_steps.c.saga_id == saga_id,
                                                     saga_steps.c.status == REGISTERED)
                         .values(status=DISCARDED, updated_at=self.db.now()))

    @contextmanager
    def run(self, saga_id: str) -> Iterator["SagaLog"]:
        """``with sagas.run(id):`` — closes on success; on an exception compensates LIFO and re-raises."""
        try:
            yield self
        except BaseException:
            self.compensate(saga_id)
            raise
        else:
            self.close(saga_id)

    def _set(self, saga_id: str, step: str, status: str, error: Any) -> None:
        with self.db.tx() as conn:
            conn.execute(sa.update(saga_steps).where(saga_steps.c.saga_id == saga_id, saga_steps.c.step == step)
                         .values(status=status, error=jsonable(error) if error else None, updated_at=self.db.now()))
