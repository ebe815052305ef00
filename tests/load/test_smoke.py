"""The month-end smoke profile end to end: real sockets, Locust in a subprocess (never imported here), the core
draining, correctness read back through the vendors' APIs, report files written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.pg import create_database, drop_database, pg_unreachable_reason

ROOT = Path(__file__).resolve().parents[2]


def run_smoke(out: Path, *extra: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "q2c_harness.cli", "load", "month-end", "--smoke", "--out", str(out),
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_month_end_smoke(tmp_path: Path) -> None:
    out = tmp_path / "load"
    run_smoke(out)
    doc = json.loads((out / "month-end-smoke.json").read_text())
    counts = doc["result"]["counts"]
    assert counts["psa_approved"] == counts["psa_time_entries"] == 600
    assert counts["ns_timebills_distinct"] == counts["ns_timebills"] == counts["invoice_time_sources"] == 600
    assert counts["billed_twice"] == 0 and counts["approved_unbilled"] == 0
    assert not doc["result"]["exceptions"] and not doc["result"]["problems"]
    for name in ("month-end-smoke.html", "month-end-smoke-summary.csv", "month-end-smoke_stats.csv",
                 "month-end-smoke-locust.html"):
        assert (out / name).stat().st_size > 0, name


@pytest.mark.postgres
def test_month_end_smoke_with_core_workers_on_postgresql(tmp_path: Path) -> None:
    """`--core-workers 2` on PostgreSQL: the runner's core and two `q2c core worker` processes share the DBOS queue
    (each executes some of the workflows), and the outcome is as correct as with one process."""
    if reason := pg_unreachable_reason():
        pytest.skip(reason)
    import psycopg

    url = create_database("q2c_load")
    try:
        run_smoke(tmp_path / "load", "--core-workers", "2", "--db-url", url)
        with psycopg.connect(url) as conn:
            by_executor = dict(conn.execute("SELECT executor_id, count(*) FROM dbos.workflow_status "
                                            "WHERE status = 'SUCCESS' GROUP BY 1").fetchall())
            failed = conn.execute("SELECT count(*) FROM dbos.workflow_status WHERE status <> 'SUCCESS'").fetchone()
    finally:
        drop_database(url)
    assert failed == (0,)
    assert {"load-worker-1", "load-worker-2"} <= set(by_executor), by_executor
    doc = json.loads((tmp_path / "load" / "month-end-smoke.json").read_text())
    counts = doc["result"]["counts"]
    assert counts["ns_timebills_distinct"] == counts["ns_timebills"] == counts["invoice_time_sources"] == 600
    assert counts["billed_twice"] == 0 and counts["approved_unbilled"] == 0 and not doc["result"]["problems"]
