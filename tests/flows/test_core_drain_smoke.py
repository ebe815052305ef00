"""The month-end drain benchmark runs end to end at small scale and loses nothing (no timing assertion):
``python -m benchmarks.core_drain --entries 200 --engagements 10``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_core_drain_smoke(tmp_path):
    out = tmp_path / "drain.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.core_drain", "--entries", "200", "--engagements", "10",
                           "--latency-ms", "5", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["problems"] == [] and figures["time_bills"] == 200
    assert figures["runs_posted"] == 10 and figures["parked"] == 0
    assert figures["erp_calls"] >= 200 and figures["minimum_s"] > 0
