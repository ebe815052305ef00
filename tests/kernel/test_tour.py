"""The main job's tour runs green against every simulator over HTTPS and writes its report."""

from __future__ import annotations

import json

from q2c_harness.harness.tour import run_tour


def test_tour_passes_over_https_and_writes_a_report(tmp_path, capsys):
    report = tmp_path / "tour.json"
    assert run_tour(seed=3, report=report) == 0
    tours = json.loads(report.read_text())
    assert {t["simulator"] for t in tours} == {"salesforce", "netsuite", "psa", "tax", "payments"}
    assert all(t["ok"] for t in tours)
    assert "0 failed" in capsys.readouterr().out
