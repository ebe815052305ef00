"""`q2c scenario run | list | validate | schema` as a user runs them: their own scenarios beside the built-in ones,
never green on nothing, one-line reasons, --json for machines, reports where they asked (relative to the working
directory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from q2c_harness import cli
from q2c_harness.harness.catalog import Catalog, builtin_root
from q2c_harness.harness.cli_scenarios import run_command
from tests.install.test_catalog import write_scenario


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def user_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's repository: ./scenarios with a passing copy of a built-in and one whose core steps cannot run."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("Q2C_SCENARIOS", raising=False)
    text = builtin_root().joinpath("duplicates_and_replay.yaml").read_text()
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "my_dupes.yaml").write_text(text.replace("name: duplicates_and_replay",
                                                                       "name: my_dupes"))
    write_scenario(tmp_path / "scenarios", "my_broken")  # logs time before any sync: no PSA workspace yet
    return tmp_path


def test_zero_scenarios_selected_is_a_failure(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc = run_command(names=[], all_=True, seed=None, faults=None, mode="in-process", reports=tmp_path,
                     catalog=Catalog(sources=()))
    out = capsys.readouterr().out
    assert rc == 1 and out.strip() == "FAIL: no scenario selected (none found in )"


def test_list_shows_the_users_scenarios_first_with_their_source(capsys: pytest.CaptureFixture[str],
                                                                 user_repo: Path) -> None:
    rc, out, _ = _run(capsys, "scenario", "list")
    rows = [line.split() for line in out.splitlines()[1:4]]
    assert rc == 0
    assert rows[0][:2] == ["my_broken", "./scenarios"] and rows[1][:2] == ["my_dupes", "./scenarios"]
    assert rows[2][:2] == ["credit_and_rebill", "built-in"]  # then the built-in ones, by name
    assert "fault profile" in out and "psa_duplicates" in out


def test_run_json_puts_failures_first_with_a_one_line_reason(capsys: pytest.CaptureFixture[str],
                                                               user_repo: Path) -> None:
    rc, out, err = _run(capsys, "scenario", "run", "my_dupes", "my_broken", "--json", "--reports", "out")
    assert rc == 1
    doc = json.loads(out)  # stdout is only the JSON; the progress went to stderr
    assert "q2c scenario suite: 2 scenario(s)" in err
    assert doc["ok"] is False and doc["passed"] == 1 and doc["failed"] == ["my_broken"]
    by_name = {s["name"]: s for s in doc["scenarios"]}
    assert by_name["my_dupes"]["ok"] and by_name["my_dupes"]["reason"] == ""
    broken = by_name["my_broken"]["reason"]
    assert broken.startswith("step 2 log_time(") and "no PSA workspace yet" in broken and "\n" not in broken
    assert f"FAILED my_broken: {broken}" in err
    assert Path(doc["reports"]["html"]) == user_repo / "out" / "scenarios.html"
    html = (user_repo / "out" / "scenarios.html").read_text()
    assert html.index('id="my_broken"') < html.index('id="my_dupes"')  # failures first


def test_an_unknown_fault_override_is_refused_before_running(capsys: pytest.CaptureFixture[str],
                                                             user_repo: Path) -> None:
    rc, out, err = _run(capsys, "scenario", "run", "my_dupes", "--faults", "nope")
    assert rc == 2 and out == ""
    assert err.startswith("q2c: error: --faults: unknown fault profile 'nope'; available: flaky")


def test_validate_and_schema(capsys: pytest.CaptureFixture[str], user_repo: Path) -> None:
    bad = write_scenario(user_repo / "drafts", "bad_day", day="2026-11-31")
    rc, out, _ = _run(capsys, "scenario", "validate", "scenarios/my_dupes.yaml", str(bad))
    assert rc == 1
    assert out.splitlines()[0] == "ok scenarios/my_dupes.yaml: scenario my_dupes, 12 step(s), fault profile " \
                                  "psa_duplicates"
    assert out.splitlines()[1].startswith(f"INVALID {bad}: steps[1].log_time.entries[0].day:")
    rc, out, _ = _run(capsys, "scenario", "validate", "scenarios/my_dupes.yaml")
    assert rc == 0
    rc, out, _ = _run(capsys, "scenario", "schema")
    assert rc == 0 and json.loads(out)["title"] == "q2c-harness scenario"
    rc, out, _ = _run(capsys, "scenario", "schema", "--out", "scenario.schema.json")
    assert rc == 0 and json.loads((user_repo / "scenario.schema.json").read_text())["properties"]["steps"]


def test_scenarios_dir_option(capsys: pytest.CaptureFixture[str], user_repo: Path) -> None:
    write_scenario(user_repo / "elsewhere", "far_away")
    rc, out, _ = _run(capsys, "scenario", "list", "--scenarios-dir", "elsewhere")
    assert rc == 0 and out.splitlines()[1].split()[:2] == ["far_away", "elsewhere"]
    rc, _, err = _run(capsys, "scenario", "list", "--scenarios-dir", "missing")
    assert rc == 2 and err == "q2c: error: scenarios directory missing: no such directory\n"
