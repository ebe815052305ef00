"""Run a scenario end to end: simulators (in-process or real HTTPS servers), master data, faults, steps, then the
facts read back through the vendors' APIs, the expectations and the invariants.

    result = run_scenario(load_scenario("multi_entity_tm"), mode="in-process")
    assert result.ok, result.explain()
"""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from q2c_simulators.kernel.serving import build_simulators, running_servers
from q2c_simulators.kernel.simulator import Simulator

from . import fault_counts
from . import steps as st
from .facts import FactBundle, check_expectations, integration_results, read_facts, selected_invariants
from .invariants import InvariantResult, Violation, evaluate
from .masterdata import build_world
from .scenario import Scenario
from .vendors import VendorSession

Mode = Literal["in-process", "servers"]
Progress = Callable[[str], None]


@dataclass
class StepResult:
    index: int
    kind: str
    label: str
    seconds: float
    ok: bool
    detail: str = ""
    error: str | None = None
    started_at: str = ""  # wall clock (UTC) when the step began: places the core's audit events in the step
    clock: str = ""  # the scenario's virtual clock when the step began


def _stamp(clock: datetime) -> dict[str, str]:
    return {"started_at": datetime.now(timezone.utc).isoformat(), "clock": clock.isoformat()}


def step_line(index: int, label: str, seconds: float, ok: bool, note: str = "") -> str:
    """One progress line; a long label is shortened at a word boundary, never cut mid-word."""
    short = textwrap.shorten(label, 44, placeholder=" ...")
    return f"  [{index:2}] {short:<45} {seconds:6.2f}s {'ok' if ok else 'FAIL'}" + (f"  {note}" if note else "")


@dataclass(repr=False)
class ScenarioResult:
    name: str
    title: str
    seed: int
    mode: str
    fault_profile: str | None
    seconds: float = 0.0
    steps: list[StepResult] = field(default_factory=list)
    invariants: list[InvariantResult] = field(default_factory=list)
    expectation_failures: list[str] = field(default_factory=list)
    error: str | None = None
    facts: FactBundle | None = None
    faults: dict[str, dict[str, int]] = field(default_factory=dict)  # simulator -> rule -> injected
    kpis: dict[str, Any] = field(default_factory=dict)
    timeline: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # correlation id -> events
    snapshots: dict[str, Any] = field(default_factory=dict)
    exceptions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def violations(self) -> list[Violation]:
        return [v for r in self.invariants for v in r.violations]

    @property
    def not_evaluated(self) -> list[str]:
        return [r.invariant for r in self.invariants if r.status == "not evaluated"]

    @property
    def ok(self) -> bool:
        return self.error is None and not self.expectation_failures and all(r.ok for r in self.invariants) \
            and bool(self.invariants)

    def __repr__(self) -> str:
        """The explanation, not the facts: `assert result.ok` in pytest shows why the scenario failed."""
        return f"<ScenarioResult {self.explain()}>"

    def explain(self) -> str:
        lines = [f"scenario {self.name} (seed {self.seed}, {self.mode}): {'PASS' if self.ok else 'FAIL'}"]
        if self.error:
            lines.append(f"  error: {self.error}")
        for f in self.expectation_failures:
            lines.append(f"  expectation: {f}")
        if not self.invariants and self.error is None:
            lines.append("  invariants: none evaluated")
        for name in self.not_evaluated:
            lines.append(f"  invariant {name}: not evaluated (it checked nothing; declare it not applicable with a "
                         "reason if the scenario has nothing for it)")
        for v in self.violations:
            lines.append(f"  invariant {v.invariant}: {v.message}")
            lines.append(f"      expected: {v.expected}")
            lines.append(f"      actual:   {v.actual}")
            trail = self.trail_for(v.refs)
            if trail:
                lines.append(f"      trail:    {trail}")
        return "\n".join(lines)

    def trail_for(self, refs: list[str]) -> str:
        """The correlation ids whose timeline mentions one of the refs, with the systems they touched."""
        hits = []
        for cid, events in self.timeline.items():
            text = " ".join(str(e.get("what", "")) + " " + str(e.get("ref", "")) for e in events)
            if any(r and str(r) in text for r in refs):
                systems = sorted({e["system"] for e in events if e.get("system")})
                hits.append(f"{cid} [{' -> '.join(systems)}]")
        return "; ".join(hits[:3])


async def run_async(scenario: Scenario, *, mode: Mode = "in-process", endpoints: Any = None,
                    sims: dict[str, Simulator] | None = None, progress: Progress | None = None,
                    core_factory: Callable[..., Any] | None = None, workdir: Path | None = None,
                    keep_snapshots: bool = False) -> ScenarioResult:
    from .core import default_core_factory

    say = progress or (lambda _m: None)
    result = ScenarioResult(scenario.name, scenario.title, scenario.seed, mode, scenario.faults.profile)
    started = time.perf_counter()
    assert sims is not None
    tenants = scenario.tenants.model_dump()
    vendors = (VendorSession.in_process(sims, tenants) if mode == "in-process"
               else VendorSession.over_network(endpoints.base_urls, endpoints.ca_bundle, tenants))
    workdir = workdir or Path(tempfile.mkdtemp(prefix=f"q2c-{scenario.name}-"))
    core = (core_factory or default_core_factory)(scenario=scenario, sims=sims, vendors=vendors, mode=mode,
                                                  endpoints=endpoints, workdir=workdir)
    world = build_world(scenario)
    start = scenario.start if scenario.start.tzinfo else scenario.start.replace(tzinfo=timezone.utc)
    ctx = st.RunContext(scenario, world, vendors, core, start)
    try:
        # pin every simulator's virtual clock first: whatever a tenant seeds when first touched is dated the same
        for system in vendors.clients:
            await vendors.admin(system).set_clock(start, freeze=True)
        # the org's sessions outlive the scenario's virtual month(s); the currencies it sells in are enabled
        currencies = sorted({c.billing_currency for c in world.clients.values()}
                            | {e.functional_currency for e in world.entities.values()} | {"USD"})
        r = await vendors.clients["salesforce"].patch(f"/__admin/salesforce/orgs/{tenants['salesforce']}", json={
            "session_seconds": 2 * 365 * 86400, "currencies": currencies})
        r.raise_for_status()
        await vendors.login()
        for system in vendors.clients:
            await vendors.admin(system).set_seed(scenario.seed)
        await st.set_clock(ctx, start)
        t0, stamp = time.perf_counter(), _stamp(start)
        await core.start(ctx)
        await st.provision(ctx)
        rules = st.fault_rules(scenario.faults.profile, scenario.faults.rules)
        if scenario.faults.netsuite_concurrency:
            await vendors.call("netsuite", "PUT", f"/__admin/netsuite/accounts/{tenants['netsuite']}/concurrency",
                               json={"limit": scenario.faults.netsuite_concurrency})
        await st.apply_faults(ctx, rules, scenario.seed)
        result.steps.append(StepResult(0, "setup", f"master data and {len(rules)} fault rule(s)",
                                       time.perf_counter() - t0, True, **stamp))
        say(step_line(0, "setup", time.perf_counter() - t0, True))
        for i, step in enumerate(scenario.steps, start=1):
            label = st.describe(step)
            t, stamp = time.perf_counter(), _stamp(ctx.now)
            try:
                detail = await st.EXECUTORS[step.kind](ctx, step)
                sr = StepResult(i, step.kind, label, time.perf_counter() - t, True, detail or "", **stamp)
            except Exception as exc:  # a failing step fails the scenario, with its cause
                sr = StepResult(i, step.kind, label, time.perf_counter() - t, False,
                                error=f"{type(exc).__name__}: {exc}", **stamp)
                result.error = f"step {i} {label}: {type(exc).__name__}: {exc}"
                result.error += "\n" + "".join(traceback.format_exception(exc)[-3:])
            result.steps.append(sr)
            say(step_line(i, label, sr.seconds, sr.ok, sr.detail if sr.ok else sr.error or ""))
            if not sr.ok:
                break
        # outcome: facts read back through the vendors' APIs, as finance would
        await st.apply_faults(ctx, [], scenario.seed)  # the checker reads without faults
        t, stamp = time.perf_counter(), _stamp(ctx.now)
        facts = await read_facts(ctx)
        result.facts = facts
        if result.error is None:
            result.expectation_failures = check_expectations(ctx, facts, scenario.expect)
        # the invariants hold at every point, so they judge a run a step stopped too: what it broke gets named
        wanted = selected_invariants(scenario)
        na = scenario.not_applicable
        results = list(evaluate(facts.facts, only=wanted, not_applicable=na).values())
        results += [InvariantResult(r.invariant, r.checked, r.violations, na.get(r.invariant))
                    for r in await integration_results(ctx, facts) if r.invariant in wanted]
        have = {r.invariant for r in results}
        results += [InvariantResult(name, 0, [], na.get(name)) for name in sorted(wanted - have)]
        result.invariants = sorted(results, key=lambda r: _order(r.invariant))
        result.steps.append(StepResult(len(scenario.steps) + 1, "check", "read back facts, expectations, invariants",
                                       time.perf_counter() - t, result.ok, **stamp))
        await _collect(ctx, result, keep_snapshots)
        want = scenario.expect.faults_injected_at_least
        injected = sum(n for rules in result.faults.values() for rule, n in rules.items()
                       if not rule.startswith("quota:"))
        if result.error is None and want is not None and injected < want:
            result.expectation_failures.append(f"expected at least {want} fault(s) injected by the simulators, "
                                               f"they injected {injected}: the scenario did not test what it says")
    except Exception as exc:
        result.error = result.error or f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)[-4:])
    finally:
        try:
            await core.close()
        finally:
            await vendors.aclose()
    result.seconds = time.perf_counter() - started
    return result


def _order(invariant: str) -> tuple[int, str]:
    number, _, name = invariant.partition(".")
    return int(number), name


async def _collect(ctx: st.RunContext, result: ScenarioResult, keep_snapshots: bool) -> None:
    """Faults injected (the simulators' fault counters), the timeline per correlation id, KPIs, snapshots."""
    result.faults = await fault_counts.injected(ctx.vendors, ctx.fault_counts)
    if keep_snapshots:
        for system in ctx.vendors.clients:
            result.snapshots[system] = await ctx.vendors.admin(system).snapshot()
    result.timeline = await ctx.core.timeline()
    result.exceptions = await ctx.core.exceptions()
    result.kpis = await ctx.core.kpis()
    facts = result.facts
    if facts is not None:
        result.kpis.update(facts.kpis())


def run_scenario(scenario: Scenario, *, mode: Mode = "in-process", progress: Progress | None = None,
                 core_factory: Callable[..., Any] | None = None, tls_dir: str | Path | None = None,
                 keep_snapshots: bool = False, workdir: Path | None = None) -> ScenarioResult:
    """Build fresh simulators for the scenario's seed and run it (in-process, or behind real HTTPS servers)."""
    sims = build_simulators(seed=scenario.seed)
    with ExitStack() as stack:
        endpoints = None
        if mode == "servers":
            tls = tls_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="q2c-tls-"))
            endpoints = stack.enter_context(running_servers(sims, tls_dir=tls))
        return asyncio.run(run_async(scenario, mode=mode, endpoints=endpoints, sims=sims, progress=progress,
                                     core_factory=core_factory, keep_snapshots=keep_snapshots, workdir=workdir))
