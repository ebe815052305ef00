"""`q2c scenario run`: progress as it runs, time per step, pass or fail with the failing invariant explained, then
JUnit XML, an HTML report and a JSON summary in reports/."""

from __future__ import annotations

import time
from pathlib import Path

from .reports import write_reports
from .runner import run_scenario
from .scenario import ScenarioError, available_scenarios, load_scenario


def run_command(*, names: list[str], all_: bool, seed: int | None, faults: str | None, mode: str,
                reports: Path) -> int:
    chosen = available_scenarios() if all_ or not names else names
    try:
        scenarios = [load_scenario(n).with_overrides(seed=seed, fault_profile=faults) for n in chosen]
    except ScenarioError as exc:
        print(exc)
        return 2
    print(f"q2c scenario suite: {len(scenarios)} scenario(s), {mode}")
    results, started = [], time.perf_counter()
    for sc in scenarios:
        print(f"\n{sc.name} (seed {sc.seed}, faults {sc.faults.profile or 'none'}): {sc.title}", flush=True)
        result = run_scenario(sc, mode=mode, progress=lambda line: print(line, flush=True))  # type: ignore[arg-type]
        results.append(result)
        if sc.pending and not result.ok:
            print(f"PENDING {sc.name} in {result.seconds:.2f}s (known gap: {sc.pending.strip()})")
        else:
            print(("PASS" if result.ok else "FAIL") + f" {sc.name} in {result.seconds:.2f}s"
                  + (" (marked pending but passes: remove the mark)" if sc.pending and result.ok else ""))
        if not result.ok:
            print(result.explain())
    paths = write_reports(results, reports)
    passed = sum(r.ok for r in results)
    pending = sum(1 for sc, r in zip(scenarios, results) if sc.pending and not r.ok)
    failed = len(results) - passed - pending
    print(f"\n{passed}/{len(results)} scenarios passed" + (f", {pending} pending (known gaps)" if pending else "")
          + (f", {failed} FAILED" if failed else "") + f" in {time.perf_counter() - started:.1f}s")
    print(f"report: {paths['html']}   junit: {paths['junit']}   json: {paths['json']}")
    return 0 if failed == 0 else 1
