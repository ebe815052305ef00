"""Engine overhead per workflow: ``python -m q2c_harness.engine.bench URL [N]``.

Measures, on DBOS with the given database URL (SQLite file or PostgreSQL), workflows of two no-op steps:
- ``raw``: started directly on the runner (DBOS checkpointing only);
- ``engine``: through ``Engine.handle`` (inbox insert + status updates + the same two steps);
- ``engine+effect``: as ``engine`` plus one ledger effect (claim, done, audit row) per workflow.
Each mode starts N workflows then waits for all; prints workflows/s and ms per workflow.
"""

from __future__ import annotations

import sys
import time
import uuid

from .facade import Engine
from .idempotency import key_for


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "sqlite:///bench.sqlite"
    n = int(argv[2]) if len(argv) > 2 else 200
    eng = Engine.durable(url)

    @eng.step("bench.noop")
    def noop(i: int) -> int:
        return i

    @eng.runner.workflow("bench.raw")
    def raw(i: int) -> int:
        return noop(noop(i))

    @eng.workflow("bench.engine")
    def through_engine(message: dict) -> int:
        return noop(noop(message["payload"]["i"]))

    @eng.workflow("bench.effect")
    def with_effect(message: dict) -> int:
        i = noop(message["payload"]["i"])
        eng.effect(key_for("bench", message["event_id"], "write"), system="none", operation="noop",
                   request={"i": i}, call=lambda k: {"id": k})
        return noop(i)

    eng.launch()
    run = uuid.uuid4().hex[:8]
    results = {}
    for mode in ("raw", "engine", "engine+effect"):
        t0 = time.perf_counter()
        ids = []
        for i in range(n):
            if mode == "raw":
                ids.append(eng.runner.start("bench.raw", f"bench-{run}-{i}", i))
            else:
                wf = "bench.engine" if mode == "engine" else "bench.effect"
                ids.append(eng.handle("bench", f"{run}-{mode}-{i}", "bench", {"i": i}, workflow=wf).workflow_id)
        for wid in ids:
            eng.runner.result(wid, timeout=300)
        dt = time.perf_counter() - t0
        results[mode] = dt
        print(f"{mode:14s} {n} workflows in {dt:6.2f}s: {n / dt:7.1f} wf/s, {1000 * dt / n:6.2f} ms/wf", flush=True)
    eng.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
