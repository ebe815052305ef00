"""The month-end smoke profile end to end: real sockets, Locust in a subprocess (never imported here), the core
draining, correctness read back through the vendors' APIs, report files written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_month_end_smoke(tmp_path: Path) -> None:
    out = tmp_path / "load"
    proc = subprocess.run([sys.executable, "-m", "q2c_harness.cli", "load", "month-end", "--smoke", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    doc = json.loads((out / "month-end-smoke.json").read_text())
    counts = doc["result"]["counts"]
    assert counts["psa_approved"] == counts["psa_time_entries"] == 600
    assert counts["ns_timebills_distinct"] == counts["ns_timebills"] == counts["invoice_time_sources"] == 600
    assert counts["billed_twice"] == 0 and counts["approved_unbilled"] == 0
    assert not doc["result"]["exceptions"] and not doc["result"]["problems"]
    for name in ("month-end-smoke.html", "month-end-smoke-summary.csv", "month-end-smoke_stats.csv",
                 "month-end-smoke-locust.html"):
        assert (out / name).stat().st_size > 0, name
