"""`q2c load`: never green on nothing (Locust failing or sending no request fails the run, with the reason), and
its run directory and reports are where the user runs it, never inside the installed package."""

from __future__ import annotations

from pathlib import Path

import pytest

from q2c_harness.load import report
from q2c_harness.load.runner import LOADTESTS, LoadOptions, MonthEndRun

HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
          "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
          "99.99%,100%\n")


def _stats(out: Path, requests: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "run_stats.csv").write_text(HEADER + f",Aggregated,{requests},0,5,5,1,9,10,3.5,0,5,5,5,5,6,7,8,9,9,9,9\n")


def test_locust_exiting_non_zero_fails_with_its_last_log_line(tmp_path: Path) -> None:
    log = tmp_path / "locust.log"
    log.write_text("starting\nCould not find 'month_end.py'. Ensure your locustfile ends with '.py'\n\n")
    _stats(tmp_path, 120)
    problems = report.burst_problems(tmp_path, "run", 1, log)
    assert problems == [f"Locust exited with 1: Could not find 'month_end.py'. Ensure your locustfile ends with "
                        f"'.py' (log: {log})"]


def test_zero_requests_fail_even_when_locust_exits_zero(tmp_path: Path) -> None:
    _stats(tmp_path, 0)
    assert report.burst_problems(tmp_path, "run", 0, tmp_path / "locust.log") == ["Locust sent 0 requests"]
    assert report.burst_problems(tmp_path / "none", "run", 0, tmp_path / "locust.log") == ["Locust sent 0 requests"]
    assert report.burst_problems(tmp_path, "run", None, tmp_path / "x") == ["Locust did not run",
                                                                            "Locust sent 0 requests"]


def test_a_run_with_requests_and_exit_zero_has_no_burst_problem(tmp_path: Path) -> None:
    _stats(tmp_path, 42)
    assert report.burst_problems(tmp_path, "run", 0, tmp_path / "locust.log") == []


def test_the_failure_line_carries_the_first_reason() -> None:
    result = {"ok": False, "problems": ["Locust sent 0 requests", "2 open exception-queue items"], "counts": {},
              "figures": {}}
    first = report.summary_text(None, result).splitlines()[0]
    assert first == "q2c load: FAIL: Locust sent 0 requests (+1 more)"


def test_run_directory_and_reports_are_relative_to_the_working_directory(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = MonthEndRun(LoadOptions(out="reports/load", name="probe"))
    assert run.out == tmp_path / "reports" / "load" and run.out.is_dir()
    assert run.work.parent == tmp_path / ".q2c" / "load" and run.work.is_dir()


def test_locustfiles_are_package_resources() -> None:
    assert (LOADTESTS / "month_end.py").is_file() and (LOADTESTS / "common.py").is_file()


def test_a_run_whose_locust_failed_is_a_failure_even_when_every_check_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The run's verdict wiring: every phase stubbed, the checks all green, Locust exited 1 having sent nothing."""
    from q2c_harness.load import checks

    monkeypatch.chdir(tmp_path)
    run = MonthEndRun(LoadOptions(out="reports/load", name="probe"))

    def burst(_plan: Path) -> int:
        (run.work / "locust.log").write_text("Could not find 'month_end.py'\n")
        run.record.counts["locust_exit"] = 1
        return 1
    monkeypatch.setattr(run, "start", lambda: {"simulators": {}})
    monkeypatch.setattr(run, "start_core", lambda spec: None)
    monkeypatch.setattr(run, "setup_world", lambda spec: tmp_path / "plan.json")
    monkeypatch.setattr(run, "burst", burst)
    monkeypatch.setattr(run, "finish_leftovers", lambda: None)
    monkeypatch.setattr(run, "drain", lambda: setattr(run, "drain_seconds", 0.0))
    monkeypatch.setattr(run, "plan", {}, raising=False)
    monkeypatch.setattr(checks, "run_checks", lambda core, plan: {
        "ok": True, "problems": [], "counts": {"psa_approved": 0}, "invariants": {}, "exceptions": []})
    monkeypatch.setattr(checks, "sim_metrics", lambda spec: {})
    assert run.run() == 1
    out = capsys.readouterr().out
    assert "q2c load: FAIL: Locust exited with 1: Could not find 'month_end.py'" in out
    assert "Locust sent 0 requests" in out and "PASS" not in out
