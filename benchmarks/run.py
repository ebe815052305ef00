"""The peer benchmark: every simulator (a real server in a subprocess, journal and quotas on) against WireMock, Prism
and Mockoon serving the same stubs, loaded by wrk one server at a time, interleaved per case.

    python -m benchmarks.run [--duration S] [--connections C] [--only NAME] [--peers wiremock,prism,mockoon]
                             [--output docs/benchmarks.md]

Writes its section of docs/benchmarks.md between `<!-- peers:begin -->` and `<!-- peers:end -->` and the raw figures
to reports/benchmarks-peers.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from benchmarks.cases import BenchCase
from benchmarks.peers import PEERS_DIR, Peer, PeerUnavailable, make_peers, rss_bytes
from benchmarks.report import (SIMULATOR, CaseResult, Measurement, PeerInfo, SimulatorRun, render_peers_section,
                               write_section)
from benchmarks.wrk import WrkMissing, WrkResult, ensure_wrk, lua_script, run_wrk

SIMULATORS = ["salesforce", "netsuite", "psa"]
WORK_DIR = Path(".q2c/bench")
QUOTA_CEILING = 10**12  # the kernel's maximum quota limit
RATE_CEILING = 1e9


# ---- the simulator subprocess -----------------------------------------------------------------------------------
def q2c_command() -> str:
    local = Path(sys.executable).parent / "q2c"
    return str(local) if local.exists() else (shutil.which("q2c") or "q2c")


class SimulatorProcess:
    """`q2c sim serve --http --only NAME` in a subprocess: its base URL once it answers, its RSS, and its stop."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.endpoints_file = workdir / f"{name}-endpoints.json"
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def start(self, timeout: float = 60) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.endpoints_file.unlink(missing_ok=True)
        cmd = [q2c_command(), "sim", "serve", "--http", "--port-base", "0", "--endpoints-file",
               str(self.endpoints_file), "--only", self.name]
        log = (self.workdir / f"{self.name}-server.log").open("wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"`{shlex.join(cmd)}` exited with {self.proc.returncode}: "
                                   + (self.workdir / f"{self.name}-server.log").read_text()[-500:])
            if self.endpoints_file.exists() and not self.base_url:
                try:
                    self.base_url = json.loads(self.endpoints_file.read_text())["simulators"][self.name]
                except (ValueError, KeyError):
                    pass
            if self.base_url:
                try:
                    if httpx.get(self.base_url + "/__admin/health", timeout=2).status_code == 200:
                        return self.base_url
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"simulator {self.name} did not answer within {timeout:.0f} s")

    def rss(self) -> int | None:
        return rss_bytes(self.proc.pid) if self.proc else None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGINT)  # the session started for this server only
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def _quota_text(spec: dict[str, Any]) -> str:
    text = f"{spec['kind']} limit {spec['limit']:,}"
    if spec.get("window_seconds"):
        text += f" per {spec['window_seconds']:g} s"
    if spec["kind"] == "token_bucket":
        text += f" refill {spec['rate_per_second']:g}/s"
    return text


def quota_specs(base_url: str) -> dict[str, dict[str, Any]]:
    quotas = httpx.get(base_url + "/__admin/quotas", timeout=10).raise_for_status().json()["quotas"]
    return {q["name"]: {k: v for k, v in q.items() if k not in ("used", "remaining")} for q in quotas}


def lift_quotas(base_url: str, defaults: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Raise every quota of the simulator to the kernel's ceiling so none throttles the load; quotas stay enabled
    (still checked and counted on every request). Returns what was changed, for the report; `defaults` are the
    quotas seen before the cases' `prepare` ran, so a change made by `prepare` itself is reported too."""
    changes = []
    defaults = defaults or {}
    with httpx.Client(base_url=base_url, timeout=10) as admin:
        for spec in quota_specs(base_url).values():
            before = _quota_text(spec)
            default = defaults.get(spec["name"])
            if default is None:
                before += " (created by prepare)"
            elif _quota_text(default) != _quota_text(spec):
                before = f"{_quota_text(default)} (default; prepare set {before})"
            if spec["limit"] >= QUOTA_CEILING and spec.get("rate_per_second", RATE_CEILING) >= RATE_CEILING:
                continue
            spec["limit"] = QUOTA_CEILING
            if spec["kind"] == "token_bucket":
                spec["rate_per_second"] = RATE_CEILING
            admin.put("/__admin/quotas", json=spec).raise_for_status()
            changes.append(f"`{spec['name']}` {before} → 10^12")
    return changes


def save_state(base_url: str, name: str) -> str | None:
    """Snapshot the seeded state (admin API) so every case is measured against it, not against what the writes of
    earlier cases and of the priming added; None when the simulator cannot snapshot."""
    try:
        r = httpx.post(base_url + "/__admin/snapshot", json={"name": f"bench-{name}"}, timeout=60)
        return f"bench-{name}" if r.status_code < 300 else None
    except httpx.HTTPError:
        return None


def restore_state(base_url: str, snapshot: str) -> None:
    httpx.post(base_url + "/__admin/restore", json={"name": snapshot}, timeout=120).raise_for_status()


def journal_state(base_url: str) -> str:
    try:
        data = httpx.get(base_url + "/__admin/requests", params={"limit": 1}, timeout=10).json()
        return f"on, {data['total']:,} requests recorded ({data['evicted']:,} evicted from the bounded ring)"
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return f"state unknown ({exc!r})"


def check_simulator(base_url: str, cases: list[BenchCase]) -> dict[str, str]:
    """One request per case before the load: a case whose answer is not 2xx/3xx is flagged."""
    notes = {}
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for case in cases:
            try:
                r = client.request(case.method, case.path, headers=case.headers, content=case.body)
                if r.status_code >= 400:
                    notes[case.name] = f"answers {r.status_code} to the case: {r.text[:120]}"
            except httpx.HTTPError as exc:
                notes[case.name] = f"request failed: {exc!r}"
    return notes


# ---- measuring --------------------------------------------------------------------------------------------------
def load_cases_module(name: str) -> Any | None:
    if not (Path(__file__).parent / f"{name}_cases.py").exists():
        return None
    return importlib.import_module(f"benchmarks.{name}_cases")


def measure(base_url: str, case: BenchCase, extra_headers: dict[str, str], *, duration: float, warmup: float,
            connections: int, threads: int, workdir: Path) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", dir=workdir, delete=False) as f:
        f.write(lua_script(case, extra_headers))
    try:
        if warmup > 0:
            run_wrk(base_url, f.name, duration=warmup, connections=connections, threads=threads)
        return run_wrk(base_url, f.name, duration=duration, connections=connections, threads=threads)
    finally:
        os.unlink(f.name)


def median_result(results: list[WrkResult]) -> WrkResult:
    ordered = sorted(results, key=lambda r: r.requests_per_sec)
    return ordered[len(ordered) // 2] if len(ordered) % 2 else ordered[len(ordered) // 2 - 1]


def run_simulator(name: str, module: Any, peers: list[Peer], args: argparse.Namespace) -> SimulatorRun:
    run = SimulatorRun(name)
    workdir = WORK_DIR / name
    sim = SimulatorProcess(name, WORK_DIR)
    started: list[Peer] = []
    try:
        print(f"[{name}] starting the simulator ...", flush=True)
        base_url = sim.start()
        defaults = quota_specs(base_url)
        cases: list[BenchCase] = module.prepare(base_url, None)
        run.quota_changes = lift_quotas(base_url, defaults)
        sim_notes = check_simulator(base_url, cases)
        snapshot = save_state(base_url, name)
        run.rss_ready = sim.rss()
        for peer in peers:
            if peer.label in args._unavailable:
                continue
            try:
                print(f"[{name}] starting {peer.label} ...", flush=True)
                peer.start(cases, workdir)
                started.append(peer)
                problems = peer.check()
                if problems:
                    run.peer_notes[peer.label] = "does not serve the stub exactly: " + "; ".join(problems)
            except PeerUnavailable as exc:
                run.peer_notes[peer.label] = f"not measured: {exc}"
        targets: list[tuple[str, str, Peer | None]] = [(SIMULATOR, base_url, None)]
        targets += [(p.label, p.base_url, p) for p in started]
        if args.prime > 0:  # JIT and caches warmed once per server, over all its cases, before anything is measured
            each = max(args.prime / max(len(cases), 1), 2)
            print(f"[{name}] priming every server ({each:g} s per case) ...", flush=True)
            for label, url, peer in targets:
                for index, case in enumerate(cases):
                    try:
                        measure(url, case, peer.extra_headers(index) if peer else {}, duration=each, warmup=0,
                                connections=args.connections, threads=args.threads, workdir=WORK_DIR)
                    except (RuntimeError, ValueError, subprocess.TimeoutExpired):
                        pass
        for index, case in enumerate(cases):
            result = CaseResult(name, case.name, case.method, case.path)
            samples: dict[str, list[WrkResult]] = {label: [] for label, _, _ in targets}
            errors: dict[str, str] = {}
            for _round in range(args.rounds):
                for label, url, peer in targets:  # interleaved: every server of this case in turn
                    extra = peer.extra_headers(index) if peer else {}
                    if peer is None and snapshot:  # the seeded state, not what earlier writes (priming) added
                        restore_state(base_url, snapshot)
                    elif peer is not None:
                        peer.fresh()
                    try:
                        r = measure(url, case, extra, duration=args.duration, warmup=args.warmup,
                                    connections=args.connections, threads=args.threads, workdir=WORK_DIR)
                        samples[label].append(r)
                        print(f"[{name}] {case.name} | {label}: {r.requests_per_sec:,.0f} req/s, p50 {r.p50_ms:.2f} ms,"
                              f" p99 {r.p99_ms:.2f} ms, non-2xx {r.non_2xx}", flush=True)
                    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                        errors[label] = str(exc)[:200]
                        print(f"[{name}] {case.name} | {label}: FAILED {exc}", flush=True)
            for label, _, _ in targets:
                note = sim_notes.get(case.name, "") if label == SIMULATOR else ""
                if samples[label]:
                    result.measurements.append(Measurement(label, median_result(samples[label]), note))
                else:
                    result.measurements.append(Measurement(label, None, errors.get(label, "no result")))
            for peer in peers:
                if peer not in started:
                    reason = args._unavailable.get(peer.label) or run.peer_notes.get(peer.label, "not started")
                    result.measurements.append(Measurement(peer.label, None, reason.removeprefix("not measured: ")))
            run.cases.append(result)
        run.rss_loaded = sim.rss()
        run.peer_rss = {p.label: p.rss() for p in started}
        run.journal = journal_state(base_url)
    except Exception as exc:  # noqa: BLE001 - one simulator's failure is reported, the others still run
        run.skipped = run.skipped or f"{type(exc).__name__}: {exc}"
        print(f"[{name}] FAILED: {exc}", flush=True)
    finally:
        for peer in started:
            peer.stop()
        sim.stop()
    return run


def run_from_dict(d: dict[str, Any]) -> SimulatorRun:
    cases = [CaseResult(c["simulator"], c["name"], c["method"], c["path"],
                        [Measurement(m["target"], WrkResult(**m["result"]) if m["result"] else None, m["note"])
                         for m in c["measurements"]]) for c in d["cases"]]
    return SimulatorRun(**{**d, "cases": cases})


# ---- the machine ------------------------------------------------------------------------------------------------
def _first_line(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (proc.stdout or proc.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "not found"


def machine_info() -> dict[str, str]:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), "0")
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    import uvicorn

    return {
        "cores": str(os.cpu_count()),
        "CPU": model,
        "memory": f"{int(mem) / 2**20:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "uvicorn": uvicorn.__version__,
        "Java": _first_line(["java", "-version"]),
        "Node": _first_line(["node", "--version"]),
        "wrk": _first_line(["wrk", "-v"]).split(" [")[0],
    }


# ---- main -------------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10, help="seconds measured per case and server (default 10)")
    p.add_argument("--warmup", type=float, default=2, help="seconds of warm-up before each measure (default 2)")
    p.add_argument("--prime", type=float, default=16,
                   help="seconds of load per server, spread over its cases, before any measure (JVM JIT warm-up; "
                        "default 16)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument("--rounds", type=int, default=1, help="interleaved rounds per case; the median is kept (default 1)")
    p.add_argument("--only", action="append", metavar="NAME", choices=SIMULATORS, help="one simulator (repeatable)")
    p.add_argument("--peers", default="wiremock,prism,mockoon", help="comma-separated; '' for none")
    p.add_argument("--output", default="docs/benchmarks.md", help="report (only the peers section is rewritten)")
    p.add_argument("--json", default="reports/benchmarks-peers.json", help="raw figures")
    p.add_argument("--no-install", action="store_true", help="never install wrk or npm peers")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        ensure_wrk(install=not args.no_install)
    except WrkMissing as exc:
        print(f"cannot benchmark: {exc}", file=sys.stderr)
        return 2
    peer_names = [n.strip() for n in args.peers.split(",") if n.strip()]
    peers = make_peers(peer_names, PEERS_DIR)
    args._unavailable = {}
    infos = []
    for peer in peers:
        try:
            if args.no_install and not peer.installed():
                raise PeerUnavailable(f"{peer.package} is not installed in {PEERS_DIR} (--no-install)")
            peer.install()
            infos.append(PeerInfo(peer.label, peer.version()))
        except (PeerUnavailable, OSError, subprocess.TimeoutExpired) as exc:
            args._unavailable[peer.label] = str(exc)
            infos.append(PeerInfo(peer.label, unavailable=str(exc)))
            print(f"{peer.label}: not measured: {exc}", flush=True)

    runs = []
    for name in args.only or SIMULATORS:
        module = load_cases_module(name)
        if module is None:
            reason = f"benchmarks/{name}_cases.py does not exist yet (no cases to replay)"
            print(f"[{name}] skipped: {reason}", flush=True)
            runs.append(SimulatorRun(name, skipped=reason))
            continue
        runs.append(run_simulator(name, module, peers, args))

    command = "python -m benchmarks.run" + ("" if argv is None and len(sys.argv) <= 1 else
                                             " " + shlex.join(argv if argv is not None else sys.argv[1:]))
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for run in runs:
        run.measured = f"{date} with `{command}`"
    raw = Path(args.json)
    if args.only and raw.exists():  # keep the other simulators' figures from the previous run
        try:
            previous = {r["name"]: r for r in json.loads(raw.read_text())["runs"]}
            fresh = {r.name for r in runs}
            runs = [run_from_dict(previous[n]) if n not in fresh and n in previous else
                    next(r for r in runs if r.name == n) for n in SIMULATORS if n in fresh or n in previous]
        except (ValueError, KeyError, TypeError) as exc:
            print(f"could not merge {raw}: {exc}", flush=True)
    section = render_peers_section(runs=runs, peers=infos, machine=machine_info(), command=command, date=date,
                                   duration=args.duration, warmup=args.warmup, connections=args.connections,
                                   threads=args.threads, rounds=args.rounds, prime=args.prime)
    out = write_section(args.output, "peers", section)
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps({"date": date, "command": command, "runs": [dataclasses.asdict(r) for r in runs]},
                              indent=2, default=str))
    print(f"\nwrote {out} (section peers) and {raw}")
    measured = sum(1 for r in runs for c in r.cases for m in c.measurements if m.result)
    return 0 if measured else 1


if __name__ == "__main__":
    sys.exit(main())
