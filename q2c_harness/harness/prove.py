"""`q2c scenario prove`: the mutation campaign. Each mutant (harness/mutants.py) runs in its own process against the
scenario suite (the scenarios it names first, then the rest; it stops at the first that fails):

- KILLED: a scenario failed, by the invariants, expectations or error named;
- SURVIVED: the mutated code ran and changed something, and every scenario still passed;
- NOT REACHED: the mutated code never ran, or never changed anything (the witness says which).

The suite must pass unmutated first (a baseline run beside the mutants); any survivor, unreached mutant or a failing
baseline fails the command. Processes run in parallel (``--jobs``, default: the machine's cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

KILLED, SURVIVED, NOT_REACHED, BROKEN = "KILLED", "SURVIVED", "NOT REACHED", "BROKEN"
CHILD_TIMEOUT = 900


@dataclass
class Outcome:
    mutant: str
    bug: str
    verdict: str
    scenario: str | None = None  # the scenario that killed it
    caught_by: list[str] = field(default_factory=list)  # invariants / expectations / error that failed there
    calls: int = 0
    changes: int = 0
    scenarios_run: list[str] = field(default_factory=list)
    seconds: float = 0.0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict == KILLED

    def line(self) -> str:
        if self.verdict == KILLED:
            why = f"by {self.scenario}: {', '.join(self.caught_by[:4])}"
        elif self.verdict == SURVIVED:
            why = f"ran {self.calls}x, changed {self.changes}x, all {len(self.scenarios_run)} scenarios passed"
        elif self.verdict == NOT_REACHED:
            why = "the mutated code never ran" if not self.calls else \
                f"ran {self.calls}x but never changed an output"
        else:
            why = self.detail
        return f"{self.verdict:<12} {self.mutant:<34} {why}"


def _failures(result: Any) -> list[str]:
    out = [f"{i.invariant} ({i.status})" for i in result.invariants if not i.ok]
    out += [f"expectation: {f}" for f in result.expectation_failures]
    if result.error:
        out.append(f"error: {result.error.splitlines()[0][:200]}")
    return out


def run_child(mutant_id: str | None, scenarios: list[str], mutant_files: list[str], stop_at_first: bool) -> dict:
    """In this process: activate one mutant (or none: the baseline), run the scenarios, report as JSON-able."""
    from .mutants import activate, catalogue
    from .runner import run_scenario
    from .scenario import load_scenario

    witness = None
    if mutant_id is not None:
        mutant = next(m for m in catalogue(mutant_files) if m.id == mutant_id)
        witness = activate(mutant)
    ran, failed = [], []
    for name in scenarios:
        result = run_scenario(load_scenario(name))
        ran.append(name)
        if not result.ok:
            failed.append({"scenario": name, "caught_by": _failures(result)})
            if stop_at_first:
                break
    return {"ran": ran, "failed": failed, "calls": witness.calls if witness else 0,
            "changes": witness.changes if witness else 0}


def _spawn(mutant_id: str | None, scenarios: list[str], mutant_files: list[str], workdir: Path) -> dict:
    out = workdir / f"{mutant_id or 'baseline'}.json"
    argv = [sys.executable, "-m", "q2c_harness.harness.prove", "--child", mutant_id or "", "--out", str(out),
            "--scenarios", ",".join(scenarios), *[a for f in mutant_files for a in ("--mutants", f)]]
    started = time.perf_counter()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_TIMEOUT,
                              env={**os.environ, "PYTHONHASHSEED": "0"})
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT} s", "seconds": time.perf_counter() - started}
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}", "seconds": time.perf_counter() - started}
    return {**json.loads(out.read_text()), "seconds": time.perf_counter() - started}


def _outcome(mutant: Any, report: dict) -> Outcome:
    o = Outcome(mutant.id, mutant.bug, BROKEN, seconds=round(report.get("seconds", 0.0), 2))
    if "error" in report:
        o.detail = f"the mutant's process failed: {report['error']}"
        return o
    o.calls, o.changes, o.scenarios_run = report["calls"], report["changes"], report["ran"]
    if report["failed"]:
        first = report["failed"][0]
        o.verdict, o.scenario, o.caught_by = KILLED, first["scenario"], first["caught_by"]
    elif o.calls and o.changes:
        o.verdict = SURVIVED
    else:
        o.verdict = NOT_REACHED
    return o


def prove(*, mutant_files: list[str] | None = None, only: list[str] | None = None, jobs: int | None = None,
          scenarios: list[str] | None = None, progress: Any = None) -> tuple[list[Outcome], dict]:
    from .mutants import catalogue, resolve
    from .scenario import available_scenarios

    files = list(mutant_files or [])
    mutants = catalogue(files)
    if only:
        unknown = sorted(set(only) - {m.id for m in mutants})
        if unknown:
            raise ValueError(f"unknown mutant(s) {unknown}; known: {', '.join(m.id for m in mutants)}")
        mutants = [m for m in mutants if m.id in set(only)]
    for m in mutants:
        for t in m.targets:
            try:
                resolve(t)
            except (ImportError, AttributeError) as exc:
                raise ValueError(f"mutant {m.id}: target {t} does not exist in the core ({exc}); the catalogue "
                                 "must follow the core") from None
    suite = scenarios or available_scenarios()
    say = progress or (lambda _line: None)
    with tempfile.TemporaryDirectory(prefix="q2c-prove-") as tmp, \
            ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        work = Path(tmp)
        baseline = pool.submit(_spawn, None, suite, files, work)
        futures = [(m, pool.submit(_spawn, m.id, [*[s for s in m.scenarios if s in suite],
                                                   *[s for s in suite if s not in m.scenarios]], files, work))
                   for m in mutants]
        outcomes = []
        for m, fut in futures:
            o = _outcome(m, fut.result())
            say(o.line())
            outcomes.append(o)
        base = baseline.result()
    return outcomes, base


def write_reports(outcomes: list[Outcome], baseline: dict, directory: Path, seconds: float) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    data = {"seconds": round(seconds, 1), "baseline": baseline, "mutants": [asdict(o) for o in outcomes],
            "summary": {v: sum(1 for o in outcomes if o.verdict == v) for v in (KILLED, SURVIVED, NOT_REACHED,
                                                                               BROKEN)}}
    json_path = directory / "prove.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    suite = ET.Element("testsuite", name="q2c-mutation-campaign", tests=str(len(outcomes)),
                       failures=str(sum(1 for o in outcomes if not o.ok)), time=f"{seconds:.1f}")
    for o in outcomes:
        case = ET.SubElement(suite, "testcase", classname="mutants", name=o.mutant, time=f"{o.seconds:.2f}")
        if not o.ok:
            ET.SubElement(case, "failure", message=o.line()[:500]).text = o.bug
        else:
            ET.SubElement(case, "system-out").text = o.line()
    junit = directory / "prove-junit.xml"
    ET.ElementTree(suite).write(junit, encoding="utf-8", xml_declaration=True)
    return {"json": json_path, "junit": junit}


def prove_command(*, mutant_files: list[str], only: list[str], jobs: int | None, reports: Path,
                  as_json: bool) -> int:
    started = time.perf_counter()
    if not as_json:
        print("q2c mutation campaign: each mutant in its own process against the scenario suite", flush=True)
    try:
        outcomes, baseline = prove(mutant_files=mutant_files, only=only or None, jobs=jobs,
                                   progress=None if as_json else lambda line: print(f"  {line}", flush=True))
    except ValueError as exc:
        print(f"q2c scenario prove: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    paths = write_reports(outcomes, baseline, reports, seconds)
    base_ok = "error" not in baseline and not baseline.get("failed")
    counts = {v: sum(1 for o in outcomes if o.verdict == v) for v in (KILLED, SURVIVED, NOT_REACHED, BROKEN)}
    ok = base_ok and bool(outcomes) and counts[KILLED] == len(outcomes)
    if as_json:
        print(json.dumps({"ok": ok, **json.loads(paths["json"].read_text())}))
        return 0 if ok else 1
    if not base_ok:
        why = baseline.get("error") or "; ".join(f"{f['scenario']}: {', '.join(f['caught_by'][:3])}"
                                                 for f in baseline.get("failed", []))
        print(f"\nthe suite does not pass unmutated, so it proves nothing: {why}")
    print(f"\n{counts[KILLED]}/{len(outcomes)} mutants killed, {counts[SURVIVED]} survived, {counts[NOT_REACHED]} not "
          f"reached, {counts[BROKEN]} broken, in {seconds:.0f} s")
    print(f"report: {paths['json']}   junit: {paths['junit']}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """The child process (``python -m q2c_harness.harness.prove --child ID``)."""
    p = argparse.ArgumentParser(prog="python -m q2c_harness.harness.prove")
    p.add_argument("--child", required=True, help="mutant id ('' for the unmutated baseline)")
    p.add_argument("--scenarios", required=True, help="comma-separated scenario names, in order")
    p.add_argument("--mutants", action="append", default=[], help="a user mutant file")
    p.add_argument("--out", required=True, help="where to write the JSON report")
    a = p.parse_args(argv)
    report = run_child(a.child or None, [s for s in a.scenarios.split(",") if s], a.mutants,
                       stop_at_first=bool(a.child))
    Path(a.out).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
