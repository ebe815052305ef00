"""Crash safety: SIGKILL a DBOS worker at seeded random points, restart it, and check every workflow completed
and every vendor effect exists exactly once (issue 7's "done when")."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from q2c_harness.engine.db import Database, effects, events
from tests.engine.pg import create_database, drop_database, pg_unreachable_reason
from tests.crash import kill_round

ROOT = Path(__file__).resolve().parents[2]
N = 40
SEED = 20260107
KILL_ROUNDS = 4


def _worker(url: str, crash_at: int = 0) -> subprocess.Popen:
    env = {**os.environ, "Q2C_CRASH_AT_WRITE": str(crash_at), "Q2C_CRASH_SEED": str(crash_at)}
    return subprocess.Popen([sys.executable, "-m", "tests.engine.crash_worker", url, str(N)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_crash_scenario(url: str) -> dict:
    rng = random.Random(SEED)
    kills = []
    for round_ in range(KILL_ROUNDS):
        # even rounds: the worker SIGKILLs itself right after its k-th vendor write (the hardest window: the
        # vendor committed, our ledger did not); odd rounds: an external SIGKILL at a random moment of the work
        crash_at = rng.randint(1, 12) if round_ % 2 == 0 else 0
        delay = 20.0 if crash_at else rng.uniform(0.05, 0.8)
        kills.append(kill_round(_worker(url, crash_at), crash_at, delay))
    final = _worker(url)
    out, err = final.communicate(timeout=50)
    assert final.returncode == 0, f"final worker failed ({final.returncode}):\n{out}\n{err[-3000:]}"

    db = Database(url)
    from tests.engine import toy_workflows
    from q2c_harness.engine.idempotency import key_for

    with db.tx() as conn:
        counts = {k: int(c) for k, c in conn.execute(
            sa.select(toy_workflows.vendor_writes.c.idem_key, sa.func.count())
            .group_by(toy_workflows.vendor_writes.c.idem_key))}
        done = conn.execute(sa.select(sa.func.count()).select_from(effects).where(effects.c.status == "done")).scalar()
        n_events = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar()
        pids = conn.execute(sa.select(sa.func.count(sa.distinct(toy_workflows.vendor_writes.c.pid)))).scalar()
    db.dispose()
    expected = {key_for("toy", str(n), s) for n in range(N) for s in toy_workflows.STEPS}
    assert set(counts) == expected, "missing effects"
    dupes = {k: c for k, c in counts.items() if c != 1}
    assert not dupes, f"effects written more than once: {dupes} (kills: {kills})"
    assert done == len(expected) and n_events == N
    assert pids >= 3, f"too few worker processes did vendor writes ({pids}): kills landed outside the work"
    return {"kills": kills, "writer_processes": pids}


def test_crash_safety_sqlite(tmp_path):
    info = run_crash_scenario(f"sqlite:///{tmp_path / 'crash.sqlite'}")
    assert {k["kill"] for k in info["kills"]} == {"self", "external"}, info  # both kinds of SIGKILL happened
    assert all(k["rc"] == -9 for k in info["kills"]), info


@pytest.mark.postgres
def test_crash_safety_postgres():
    reason = pg_unreachable_reason()
    if reason:
        pytest.skip(reason)
    url = create_database("q2c_crash")
    try:
        info = run_crash_scenario(url)
        assert {k["kill"] for k in info["kills"]} == {"self", "external"}, info
        assert all(k["rc"] == -9 for k in info["kills"]), info
    finally:
        drop_database(url)
