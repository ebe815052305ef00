"""A toy multi-step workflow with external side effects, for the DBOS tests and the crash-safety worker.

The fake vendor is a plain table WITHOUT a unique constraint on the idempotency key (like a Salesforce create
with an external-id field that is not unique): only our ledger (with a lookup by key) keeps effects single.
"""

from __future__ import annotations

import os
import random
import signal
import time

import sqlalchemy as sa

from q2c_harness.engine import Engine, key_for
from q2c_harness.retry import RetryPolicy
from q2c_harness.errors import TransientError

vendor_md = sa.MetaData()
vendor_writes = sa.Table(
    "toy_vendor_writes", vendor_md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idem_key", sa.String(300), nullable=False),  # deliberately NOT unique
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
)
STEPS = ("create", "post", "notify")
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
_state = {"writes": 0, "crash_at": int(os.environ.get("Q2C_CRASH_AT_WRITE", "0") or 0),
          "rng": random.Random(int(os.environ.get("Q2C_CRASH_SEED", "0") or 0))}


def register(engine: Engine) -> None:
    vendor_md.create_all(engine.db.engine, checkfirst=True)

    def vendor_insert(key: str, body: dict) -> dict:
        with engine.db.tx() as conn:
            res = conn.execute(sa.insert(vendor_writes).values(idem_key=key, body=body, pid=os.getpid()))
            row_id = int(res.inserted_primary_key[0])
        _state["writes"] += 1
        if _state["crash_at"] and _state["writes"] == _state["crash_at"]:
            os.kill(os.getpid(), signal.SIGKILL)  # after the vendor committed, before our ledger did
        return {"id": row_id}

    def vendor_find(key: str) -> dict | None:
        with engine.db.tx() as conn:
            row_id = conn.execute(sa.select(vendor_writes.c.id).where(vendor_writes.c.idem_key == key)
                                  .order_by(vendor_writes.c.id).limit(1)).scalar_one_or_none()
        return None if row_id is None else {"id": int(row_id)}

    @engine.step("toy.write", retry=FAST)
    def write(n: int, step: str) -> dict:
        # ~40 ms a write, ~1.2 s for the whole run at 4 at a time: the crash test's external kills (0.05-0.8 s after
        # "ready") land inside the work on a fast host too, where the writes alone take a few milliseconds
        time.sleep(_state["rng"].uniform(0.02, 0.06))
        key = key_for("toy", str(n), step)
        eff = engine.effect(key, system="toy-vendor", operation=step, request={"n": n, "step": step},
                            call=lambda k: vendor_insert(k, {"n": n, "step": step}), lookup=vendor_find)
        return eff.result

    @engine.workflow("toy.flow")
    def flow(message: dict) -> int:
        n = message["payload"]["n"]
        for step in STEPS:
            write(n, step)
        engine.publish("invoice.posted", {"n": n}, key=f"toy:{n}")
        return n


def vendor_counts(engine: Engine) -> dict[str, int]:
    with engine.db.tx() as conn:
        rows = conn.execute(sa.select(vendor_writes.c.idem_key, sa.func.count()).group_by(vendor_writes.c.idem_key))
        return {k: int(c) for k, c in rows}
