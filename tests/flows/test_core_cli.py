"""`q2c core serve` and two `q2c core worker` processes on PostgreSQL against simulators served on real sockets by
this test process: the server polls the PSA, schedules billing runs and runs workflows; the workers share the queue
(DBOS, FOR UPDATE SKIP LOCKED). Afterwards every vendor record exists once and more than one process did work."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from q2c_simulators.kernel.faults import LatencyFault
from q2c_simulators.kernel.serving import build_simulators, running_servers
from tests.engine.pg import create_database, drop_database, pg_unreachable_reason
from tests.flows.served import check_core_state, check_vendor_state, setup_world

ROOT = Path(__file__).resolve().parents[2]
ENGAGEMENTS = 4
ENTRIES = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _q2c(*args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "q2c_harness.cli", *args], cwd=ROOT, env=dict(os.environ),
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def _progress(url: str) -> tuple[int, int]:
    """(sources billed, workflows not finished, runs not posted)."""
    eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with eng.connect() as c:
            billed = int(c.execute(sa.text("SELECT count(*) FROM q2c_flow_billed")).scalar() or 0)
            open_runs = int(c.execute(sa.text("SELECT count(*) FROM q2c_flow_runs WHERE status NOT IN "
                                              "('posted', 'empty')")).scalar() or 0)
            busy = int(c.execute(sa.text("SELECT count(*) FROM dbos.workflow_status WHERE status IN "
                                         "('PENDING', 'ENQUEUED')")).scalar() or 0)
            return billed, busy + open_runs
    except sa.exc.ProgrammingError:
        return 0, 1
    finally:
        eng.dispose()


@pytest.mark.postgres
def test_core_serve_and_two_workers_share_the_work_on_postgres(tmp_path):
    reason = pg_unreachable_reason()
    if reason:
        pytest.skip(reason)
    url = create_database("q2c_core_cli")
    procs: list[subprocess.Popen] = []
    try:
        sims = build_simulators(seed=7)
        with running_servers(sims, http=True) as ep:
            endpoints = str(ep.write(tmp_path / "endpoints.json"))
            sims["netsuite"].faults.add(LatencyFault(kind="latency", id="cli-latency", ms=5))
            world = setup_world(endpoints, url, engagements=ENGAGEMENTS, entries=ENTRIES)
            expected = ENGAGEMENTS * ENTRIES
            common = ["--endpoints-file", endpoints, "--db-url", url]
            procs.append(_q2c("core", "serve", *common, "--port", str(_free_port()), "--poll-interval", "0.3",
                              "--concurrency", "1", log=tmp_path / "serve.log"))
            for i in (1, 2):
                procs.append(_q2c("core", "worker", *common, "--concurrency", "2", log=tmp_path / f"worker{i}.log"))
            deadline = time.monotonic() + 120
            t0 = time.monotonic()
            while _progress(url) != (expected, 0) and time.monotonic() < deadline:
                assert all(p.poll() is None for p in procs), "\n".join(
                    (tmp_path / n).read_text()[-3000:] for n in ("serve.log", "worker1.log", "worker2.log"))
                time.sleep(0.5)
            assert _progress(url) == (expected, 0), (tmp_path / "serve.log").read_text()[-3000:]
            drained = time.monotonic() - t0
            for p in procs:
                p.send_signal(signal.SIGINT)
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            vendor = check_vendor_state(endpoints, world, one_run=False)
        assert vendor["timebills"] == expected
        check_core_state(url, world)
        eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with eng.connect() as c:
            by_executor = dict(c.execute(sa.text(
                "SELECT executor_id, count(*) FROM dbos.workflow_status GROUP BY executor_id")).all())
            pending = c.execute(sa.text(
                "SELECT count(*) FROM dbos.workflow_status WHERE status IN ('PENDING', 'ENQUEUED')")).scalar()
        eng.dispose()
        workers = {k: v for k, v in by_executor.items() if str(k).startswith("worker-")}
        assert len(workers) == 2, by_executor  # both `q2c core worker` processes executed workflows
        assert pending == 0, by_executor
        print(f"drained in {drained:.1f}s; workflows per executor: {by_executor}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        drop_database(url)
