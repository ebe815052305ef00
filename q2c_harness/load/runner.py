"""`q2c load month-end`: simulators over real sockets, the core, the engagements, Locust headless in a subprocess,
then drain, check and report.

Phases (each timed): start -> setup (sell, activate, staff, plan) -> burst (Locust; the core polls and bills in a
background thread, as `q2c core serve` does) -> drain (the runner approves stragglers, polls until no event is
left and runs every due billing run) -> checks (through the vendors' APIs) -> report (reports/load/).

The core runs on the durable runtime it runs on in production (DBOS): the runner's core polls, schedules and
executes queued workflows like `q2c core serve`; `--core-workers N` adds N `q2c core worker` processes that share
the queue through PostgreSQL.

Never green on nothing: Locust exiting non-zero, or sending no request, fails the run with the reason. Paths are
the user's: the run directory (.q2c/load/) and the reports (--out) are relative to the working directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from importlib.resources import files

import httpx

# Locust runs a file: the package's locustfiles directory, a plain directory in an installed wheel
LOADTESTS = Path(str(files("q2c_harness.load").joinpath("locustfiles")))


@dataclass
class LoadOptions:
    users: int = 20
    spawn_rate: float = 5.0
    duration: float = 60.0
    shape: str = "month-end"  # month-end | constant
    distributed: int = 0  # Locust worker processes (0: one local process)
    entries: int = 2000
    engagements: int = 20
    consultants: int = 0
    endpoints_file: str | None = None
    db_url: str | None = None
    core_workers: int = 0  # `q2c core worker` processes sharing the queue (a PostgreSQL --db-url)
    psa_rate: float = 200.0  # PSA token bucket refill (per second) for the run; the default is 50
    out: str = "reports/load"
    name: str = "month-end"
    smoke: bool = False
    json: bool = False  # the summary as JSON on stdout (progress on stderr)

    @classmethod
    def smoke_profile(cls) -> "LoadOptions":
        return cls(users=8, spawn_rate=8, duration=20, entries=600, engagements=6, smoke=True, name="month-end-smoke")


@dataclass
class Phase:
    name: str
    seconds: float


@dataclass
class RunRecord:
    options: dict[str, Any]
    phases: list[Phase] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)


class RssSampler(threading.Thread):
    """Peak RSS per process group (sampled every 0.5 s; children included)."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pids: dict[str, int] = {}
        self.peak: dict[str, float] = {}
        self.stop = threading.Event()

    def watch(self, label: str, pid: int) -> None:
        self.pids[label] = pid

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(0.5)

    def sample(self) -> None:
        import psutil  # the 'load' extra

        for label, pid in list(self.pids.items()):
            try:
                p = psutil.Process(pid)
                procs = [p, *p.children(recursive=True)]
                rss = sum(q.memory_info().rss for q in procs if q.is_running())
            except psutil.Error:
                continue
            self.peak[label] = max(self.peak.get(label, 0.0), rss / 2**20)


class CallCounter:
    """The connectors' call log: attempts, 429s and retries seen by the core."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.status: Counter[tuple[str, int | None]] = Counter()
        self.retries: Counter[str] = Counter()
        self.seconds = 0.0

    def __call__(self, rec: Any) -> None:
        self.calls[rec.system] += 1
        self.status[(rec.system, rec.status)] += 1
        self.seconds += rec.duration
        if rec.retry_in is not None:
            self.retries[rec.system] += 1

    def summary(self) -> dict[str, Any]:
        return {"calls": dict(self.calls), "retries": dict(self.retries),
                "429": {s: n for (s, st), n in self.status.items() if st == 429},
                "vendor_seconds": round(self.seconds, 3)}


def _wait_endpoints(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"q2c sim serve exited with {proc.returncode}")
        if path.exists():
            try:
                spec = json.loads(path.read_text())
                for url in spec["simulators"].values():
                    httpx.get(f"{url}/__admin/health", timeout=2, verify=spec.get("ca_bundle") or True)
                return spec
            except (ValueError, httpx.HTTPError):
                pass
        time.sleep(0.2)
    raise TimeoutError("the simulators did not start")


def _wait_ready(log: Path, proc: subprocess.Popen[bytes], line: str, timeout: float = 180.0) -> None:
    """Until a spawned process prints that it is ready (a worker that joins late would measure nothing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if line in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{log.stem} did not start within {timeout:.0f} s")


def _set_psa_rate(spec: dict[str, Any], rate: float) -> None:
    """The PSA's per-account token bucket (bursts of 600, refill 50/s by default) with another refill rate."""
    url = spec["simulators"]["psa"]
    with httpx.Client(verify=spec.get("ca_bundle") or True, timeout=10) as http:
        r = http.put(f"{url}/__admin/quotas", json={
            "name": "account_requests", "kind": "token_bucket", "limit": 600, "rate_per_second": rate,
            "path": "/api/*", "description": "per-account request budget (raised for the load run)"})
        r.raise_for_status()


class MonthEndRun:
    def __init__(self, opts: LoadOptions) -> None:
        self.opts = opts
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.work = (Path(".q2c") / "load" / f"{opts.name}-{stamp}").resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.out = Path(opts.out).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.record = RunRecord(options=asdict(opts))
        self.rss = RssSampler()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.calls = CallCounter()
        self.core: Any = None
        self.core_busy = 0.0
        self.core_vendor = 0.0
        self.transactions = 0

    # ---- helpers -------------------------------------------------------------------------------------------------
    def phase(self, name: str, t0: float) -> float:
        secs = time.monotonic() - t0
        self.record.phases.append(Phase(name, round(secs, 2)))
        print(f"q2c load: {name} {secs:.1f} s", flush=True, file=sys.stderr if self.opts.json else sys.stdout)
        return secs

    def spawn(self, label: str, argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        log = open(self.work / f"{label}.log", "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.work, start_new_session=True, **kw)
        self.procs.append(p)
        self.rss.watch(label, p.pid)
        return p

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)

    # ---- phases --------------------------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        t0 = time.monotonic()
        self.rss.watch("runner+core", os.getpid())
        self.rss.start()
        if self.opts.endpoints_file:
            ep = Path(self.opts.endpoints_file)
            spec = json.loads(ep.read_text())
            self.record.notes.append(f"simulators targeted from {ep}")
        else:
            ep = self.work / "endpoints.json"
            proc = self.spawn("simulators", [sys.executable, "-m", "q2c_harness.cli", "sim", "serve", "--http",
                                             "--port-base", "0", "--seed", "7", "--endpoints-file", str(ep)])
            spec = _wait_endpoints(ep, proc)
        self.endpoints_file = ep
        if self.opts.psa_rate:
            _set_psa_rate(spec, self.opts.psa_rate)
            self.record.notes.append(f"PSA token bucket refill set to {self.opts.psa_rate:g}/s (default 50/s)")
        self.phase("start simulators", t0)
        return spec

    def start_core(self, spec: dict[str, Any]) -> None:
        import asyncio

        from q2c_harness.flows.provision import provision_salesforce_fields
        from q2c_harness.flows.runtime import CoreRuntime
        from q2c_harness.flows.vendors import SF_TENANT

        t0 = time.monotonic()
        db_url = self.opts.db_url or f"sqlite:///{self.work}/core.sqlite"
        self.db_url = db_url

        async def fields() -> None:
            async with httpx.AsyncClient(base_url=spec["simulators"]["salesforce"],
                                         verify=spec.get("ca_bundle") or True) as admin:
                await provision_salesforce_fields(admin, SF_TENANT)
        asyncio.run(fields())
        self.core = CoreRuntime.from_config(endpoints_file=str(self.endpoints_file), db_url=db_url, durable=True,
                                            executor_id="load-runner")
        for client in (self.core.vendors.sf, self.core.vendors.ns, self.core.vendors.psa):
            client.call_log = self.calls  # the runner's own calls; a worker process logs its own
        self.core.provision()
        workers = [self.spawn(f"core-worker-{n + 1}", [sys.executable, "-m", "q2c_harness.cli", "core", "worker",
                                                       "--endpoints-file", str(self.endpoints_file), "--db-url", db_url,
                                                       "--executor-id", f"load-worker-{n + 1}"])
                   for n in range(self.opts.core_workers)]
        for n, proc in enumerate(workers, start=1):
            _wait_ready(self.work / f"core-worker-{n}.log", proc, "executing queued workflows")
        if workers:
            self.record.notes.append(f"{self.opts.core_workers} `q2c core worker` processes share the queue")
        self.phase("start core (DBOS) + provision", t0)

    def setup_world(self, spec: dict[str, Any]) -> Path:
        from . import world

        t0 = time.monotonic()
        core, o = self.core, self.opts
        opps = world.sell_engagements(core, o.engagements)
        activated: dict[str, str] = {}
        deadline = time.monotonic() + 1800
        while len(activated) < len(opps) and time.monotonic() < deadline:
            core.poll_once_sync()
            for opp in opps:
                if opp not in activated:
                    eng = core.store.engagement_by_opportunity(opp)
                    if eng and eng.get("keys", {}).get("workspace_id"):
                        activated[opp] = str(eng["keys"]["workspace_id"])
            if len(activated) < len(opps):
                time.sleep(0.5)
        if len(activated) < len(opps):
            raise RuntimeError(f"only {len(activated)} of {len(opps)} engagements activated: "
                               f"{[(e.error_class, e.message) for e in core.exceptions()][:5]}")
        self.phase(f"setup: {len(opps)} engagements sold and activated", t0)
        t1 = time.monotonic()
        consultants, manager = world.staff_pool(core, world.WorldSize(o.engagements, o.entries, o.consultants).pool())
        tokens = world.mint_tokens(spec, [*consultants, manager])
        plan = world.build_plan(endpoints=spec, workspaces=[activated[o_] for o_ in opps], consultants=consultants,
                                manager=manager, entries=o.entries, tokens=tokens,
                                extra={"opportunities": opps})
        self.plan = plan
        self.record.counts.update({"engagements": len(opps), "consultants": len(consultants),
                                   "planned_entries": o.entries, "planned_batches": len(plan["batches"])})
        self.phase(f"setup: {len(consultants)} consultants staffed, plan of {len(plan['batches'])} batches", t1)
        return world.write_plan(plan, self.work / "plan.json")

    def core_tick(self) -> int:
        """One scheduler tick (what `q2c core serve` does every poll interval): intake, then due billing runs."""
        t0, v0 = time.perf_counter(), self.calls.seconds
        n = sum(self.core.poll_once_sync().values())
        pending = self.core.store.pending_runs()
        for e, p in pending:
            self.core.intake.start_billing(e, p)
        self.core_busy += time.perf_counter() - t0
        self.core_vendor += self.calls.seconds - v0
        self.transactions += n + len(pending)
        return n + len(pending)

    def burst(self, plan_path: Path) -> int:
        o = self.opts
        t0 = time.monotonic()
        stop = threading.Event()
        errors: list[str] = []

        def core_loop() -> None:
            while not stop.is_set():
                try:
                    self.core_tick()
                except Exception as exc:  # noqa: BLE001 - the next tick retries, as the server does
                    errors.append(f"{type(exc).__name__}: {exc}")
                stop.wait(1.0)
        th = threading.Thread(target=core_loop, name="core-scheduler", daemon=True)
        th.start()
        csv = self.out / o.name
        env = {**os.environ, "LOAD_PLAN": str(plan_path), "LOAD_DURATION": str(o.duration),
               "LOAD_USERS": str(o.users), "LOAD_SPAWN_RATE": str(o.spawn_rate),
               "LOAD_WORKERS": str(max(1, o.distributed)), "LOAD_WORK_SUMMARY": str(self.work / "work"),
               "PYTHONPATH": str(LOADTESTS)}
        argv = [sys.executable, "-m", "locust", "-f", str(LOADTESTS / "month_end.py"), "--headless",
                "--csv", str(csv), "--html", str(self.out / f"{o.name}-locust.html"), "--only-summary",
                "--stop-timeout", "30", "--loglevel", "WARNING"]
        if o.shape == "constant":
            argv += ["-u", str(o.users), "-r", str(o.spawn_rate), "-t", f"{int(o.duration)}s"]
            env["LOAD_DURATION"] = str(10**9)  # the shape class is still defined; -t bounds the run
            argv += ["--class-picker"] if False else []
        if o.distributed:
            argv += ["--processes", str(o.distributed)]
        p = self.spawn("locust", argv, env=env)
        rc = p.wait(timeout=o.duration + 600)
        stop.set()
        th.join(timeout=600)
        if errors:
            self.record.notes.append(f"core scheduler errors during the burst: {len(errors)} (first: {errors[0]})")
        self.record.counts["locust_exit"] = rc
        work: Counter[str] = Counter()
        self.done_batches: set[int] = set()
        for f in self.work.glob("work.*.json"):
            data = json.loads(f.read_text())
            self.done_batches.update(data.pop("done_batches", []))
            work.update(data)
        self.record.counts["locust_work"] = dict(work)
        self.burst_seconds = self.phase("burst (Locust)", t0)
        return rc

    def finish_leftovers(self) -> None:
        """What the burst did not reach (its duration ended first) is logged, submitted and approved by the runner
        through the same PSA API, so the checks cover the whole plan; counted in the report."""
        from q2c_harness.load.leftovers import complete_plan

        t0 = time.monotonic()
        done = complete_plan(self.core, self.plan, self.done_batches)
        self.record.counts["runner_completed"] = done
        self.phase("runner: leftovers logged/submitted/approved", t0)

    def drain(self) -> None:
        t0 = time.monotonic()
        quiet = 0
        while quiet < 2:
            n = self.core_tick()
            outcome = self.core.drain_sync()  # the queued workflows (any worker's) end before the next tick
            if outcome["error"] or outcome["other"]:
                self.record.notes.append(f"drain: workflows not successful: {outcome}")
            quiet = quiet + 1 if n == 0 else 0
        self.drain_seconds = self.phase("drain (intake + every due billing run)", t0)

    def run(self) -> int:
        from . import checks, report

        rc = 1
        try:
            spec = self.start()
            self.start_core(spec)
            plan_path = self.setup_world(spec)
            self.burst(plan_path)
            self.finish_leftovers()
            self.drain()
            t0 = time.monotonic()
            result = checks.run_checks(self.core, self.plan)
            self.phase("checks through the vendors' APIs", t0)
            self.rss.sample()
            result["sim_metrics"] = checks.sim_metrics(spec)
            result["connector_calls"] = self.calls.summary()
            result["engine"] = {"transactions": self.transactions, "core_busy_seconds": round(self.core_busy, 2),
                                "vendor_seconds": round(self.core_vendor, 2)}
            result["drain_seconds"] = round(self.drain_seconds, 2)
            result["peak_rss_mb"] = {k: round(v, 1) for k, v in self.rss.peak.items()}
            burst = report.burst_problems(self.out, self.opts.name, self.record.counts.get("locust_exit"),
                                          self.work / "locust.log")
            result["problems"] = burst + result["problems"]
            result["ok"] = result["ok"] and not burst
            paths = report.write(self.out, self.opts.name, self.record, result)
            if self.opts.json:
                print(json.dumps(report.machine_summary(self.record, result, paths), indent=2, default=str),
                      flush=True)
            else:
                print(report.summary_text(self.record, result), flush=True)
                for p in paths:
                    print(f"  report: {p}", flush=True)
            rc = 0 if result["ok"] else 1
        finally:
            self.rss.stop.set()
            if self.core is not None:
                self.core.close()
            self.stop_all()
        return rc


def run_month_end(opts: LoadOptions) -> int:
    return MonthEndRun(opts).run()
