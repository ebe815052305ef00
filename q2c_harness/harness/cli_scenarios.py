"""`q2c scenario run | list | validate | schema`.

`run`: progress as it runs, time per step, pass or fail with the failing invariant explained, then JUnit XML, an
HTML report and a JSON summary (in --reports, relative to the working directory). Never green on nothing: a run
that selects no scenario fails. `--json` prints the summary on stdout and the progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .catalog import Catalog, discover
from .scenario import Scenario, ScenarioError, fault_profile_name, fault_profile_path, load_scenario


def dispatch(args: argparse.Namespace) -> int:
    cmd = args.scenario_command
    if cmd == "schema":
        return schema_command(args.out)
    catalog = discover(args.scenarios_dir)
    if cmd == "list":
        return list_command(catalog)
    if cmd == "validate":
        return validate_command(args.files, catalog)
    return run_command(names=args.names, all_=args.all, seed=args.seed, faults=args.faults,
                       mode="servers" if args.servers else "in-process", reports=Path(args.reports),
                       catalog=catalog, as_json=args.json)


def run_command(*, names: list[str], all_: bool, seed: int | None, faults: str | None, mode: str,
                reports: Path, catalog: Catalog | None = None, as_json: bool = False) -> int:
    from .reports import money_by_currency, reason, summary, verdict, write_reports
    from .runner import run_scenario

    catalog = catalog or discover()
    out = sys.stderr if as_json else sys.stdout

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    chosen = [e.name for e in catalog.scenarios()] if all_ or not names else names
    if not chosen:
        where = ", ".join(s.label for s in catalog.sources)
        say(f"FAIL: no scenario selected (none found in {where})")
        if as_json:
            print(json.dumps({"ok": False, "reason": "no scenario selected", "scenarios": []}))
        return 1
    override = fault_profile_path(faults, catalog, "--faults") if faults else None  # unknown: refused before a run
    scenarios = [load_scenario(n, catalog).with_overrides(seed=seed, fault_profile=override) for n in chosen]
    say(f"q2c scenario suite: {len(scenarios)} scenario(s), {mode}")
    results, started = [], time.perf_counter()
    for sc in scenarios:
        say(f"\n{sc.name} (seed {sc.seed}, faults {fault_profile_name(sc.faults.profile) or 'none'}): {sc.title}")
        result = run_scenario(sc, mode=mode, progress=say)  # type: ignore[arg-type]
        results.append(result)
        billed = money_by_currency(result.kpis.get("billed_gross") or {})
        if sc.pending and not result.ok:
            say(f"PENDING {sc.name} in {result.seconds:.2f}s (known gap: {sc.pending.strip()})")
        else:
            say(f"{verdict(result)} {sc.name} in {result.seconds:.2f}s, billed {billed}"
                + (" (marked pending but passes: remove the mark)" if sc.pending and result.ok else ""))
        for inv in result.invariants:
            say(f"    {inv.summary()}")
        if not result.ok:
            say(result.explain())
    paths = write_reports(results, reports)
    pending = {sc.name for sc, r in zip(scenarios, results) if sc.pending and not r.ok}
    failed = [r for r in results if not r.ok and r.name not in pending]
    passed = sum(r.ok for r in results)
    say(f"\n{passed}/{len(results)} scenarios passed" + (f", {len(pending)} pending (known gaps)" if pending else "")
        + (f", {len(failed)} FAILED" if failed else "") + f" in {time.perf_counter() - started:.1f}s")
    for r in failed:
        say(f"  FAILED {r.name}: {reason(r)}")
    say(f"report: {paths['html']}   junit: {paths['junit']}   json: {paths['json']}")
    if as_json:
        print(json.dumps({"ok": not failed, "passed": passed, "failed": [r.name for r in failed],
                          "pending": sorted(pending), "reports": {k: str(v.resolve()) for k, v in paths.items()},
                          "scenarios": summary(results)}, indent=2, default=str))
    return 0 if not failed else 1


def list_command(catalog: Catalog) -> int:
    scenarios = catalog.scenarios()
    width = max([len(e.name) for e in scenarios] + [8])
    print(f"{'scenario':<{width}}  {'source':<12} title")
    for e in scenarios:
        try:
            title = load_scenario(e.name, catalog).title
        except ScenarioError as exc:
            title = f"(does not validate: {str(exc).splitlines()[0]})"
        hidden = f"  [overrides {', '.join(e.overrides)}]" if e.overrides else ""
        print(f"{e.name:<{width}}  {e.source:<12} {title}{hidden}")
    profiles = catalog.fault_profiles()
    if profiles:
        print(f"\n{'fault profile':<{width}}  source")
        for e in profiles:
            hidden = f"  [overrides {', '.join(e.overrides)}]" if e.overrides else ""
            print(f"{e.name:<{width}}  {e.source}{hidden}")
    if not scenarios:
        print("(no scenario found)")
        return 1
    return 0


def validate_command(files: list[str], catalog: Catalog) -> int:
    bad = 0
    for f in files:
        try:
            sc: Scenario = load_scenario(f, catalog)
        except ScenarioError as exc:
            bad += 1
            print(f"INVALID {exc}")
            continue
        print(f"ok {f}: scenario {sc.name}, {len(sc.steps)} step(s)"
              + (f", fault profile {fault_profile_name(sc.faults.profile)}" if sc.faults.profile else ""))
    return 1 if bad else 0


def schema_command(out: str | None) -> int:
    from .scenario_schema import render

    text = render()
    if out:
        Path(out).write_text(text)
        print(f"wrote {Path(out).resolve()}")
    else:
        sys.stdout.write(text)
    return 0
