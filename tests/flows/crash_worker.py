"""Flows crash worker: ``python -m tests.flows.crash_worker DB_URL ENDPOINTS_FILE``.

A durable (DBOS) core against served simulators: pulls the PSA approvals into the inbox (time intake workflows) and
waits, until a poll finds nothing new; then starts a billing run for every engagement x period with unbilled staged
time (all of the period's time is in: one run each), waits, and repeats until nothing is pending; exits 0. DBOS recovers at launch whatever a killed predecessor (same executor id) left pending.
Env: ``Q2C_CRASH_AT_WRITE=k`` SIGKILLs itself right after its k-th completed NetSuite upsert (the vendor committed,
the ledger row is still pending: the hardest window).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from q2c_harness.engine.durable import ENQUEUED, PENDING
from q2c_harness.flows.runtime import CoreRuntime


def arm_self_kill(core: CoreRuntime, k: int) -> None:
    ns = core.vendors.ns
    real = ns.upsert
    done = [0]

    async def upsert(*args: Any, **kwargs: Any) -> Any:
        out = await real(*args, **kwargs)
        done[0] += 1
        if done[0] >= k:
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    ns.upsert = upsert  # type: ignore[method-assign]


def busy(core: CoreRuntime) -> int:
    runner = core.engine.runner
    return len(runner.list(status=(ENQUEUED, PENDING), limit=1000))


def wait_idle(core: CoreRuntime, deadline: float) -> None:
    while busy(core) and time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> int:
    url, endpoints = sys.argv[1], sys.argv[2]
    core = CoreRuntime.from_config(endpoints_file=endpoints, db_url=url, durable=True, worker_concurrency=4)
    crash_at = int(os.environ.get("Q2C_CRASH_AT_WRITE", "0") or 0)
    if crash_at:
        arm_self_kill(core, crash_at)
    print("ready", flush=True)
    deadline = time.monotonic() + float(os.environ.get("Q2C_WORKER_DEADLINE", "50"))
    rounds = 0
    while time.monotonic() < deadline:
        rounds += 1
        polled = sum(core.poll_once_sync().values())
        wait_idle(core, deadline)
        pairs = [] if polled else core.store.pending_runs()
        for eng, period in pairs:
            core.intake.start_billing(eng, period)
        wait_idle(core, deadline)
        if not polled and not pairs and not busy(core):
            break
    print(f"done rounds={rounds}", flush=True)
    core.close()
    return 0 if time.monotonic() < deadline else 3


if __name__ == "__main__":
    sys.exit(main())
