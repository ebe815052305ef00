"""Crash-safety worker: ``python -m tests.engine.crash_worker URL N``.

Accepts N toy events (a redelivery on every restart: the inbox dedupes, the workflow id is derived from the inbox
key), lets DBOS recover whatever a killed predecessor left pending, waits for every workflow, exits 0.
Env: Q2C_CRASH_AT_WRITE=k SIGKILLs itself right after its k-th vendor write (before the ledger records it).
"""

from __future__ import annotations

import sys
import time

from q2c_harness.engine import Engine

from . import toy_workflows


def main() -> int:
    url, n = sys.argv[1], int(sys.argv[2])
    engine = Engine.durable(url, polling_interval_sec=0.01)
    toy_workflows.register(engine)
    engine.runner.register_queue("toy", worker_concurrency=4)
    engine.launch()
    print("ready", flush=True)
    ids = [engine.handle("toy", f"e{i}", "toy.event", {"n": i}, workflow="toy.flow", queue="toy").workflow_id
           for i in range(n)]
    deadline = time.monotonic() + 45
    for wid in ids:
        engine.runner.result(wid, timeout=max(0.1, deadline - time.monotonic()))
    print(f"done {len(ids)}", flush=True)
    engine.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
