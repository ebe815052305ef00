"""docs/benchmarks.md: each tool writes its own section between markers and leaves the rest of the file alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.wrk import WrkResult

DEFAULT_HEADER = """# Benchmarks

Reproducible figures for the simulators and the harness. Each section is written by its own tool between markers;
edit outside the markers freely, a re-run replaces only its own section.
"""


def replace_section(text: str, name: str, content: str) -> str:
    """`text` with the block between `<!-- name:begin -->` and `<!-- name:end -->` replaced by `content`
    (appended at the end when the markers are absent). Everything outside the markers is kept byte for byte."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{content.strip()}\n{end}"
    start = text.find(begin)
    if start >= 0:
        stop = text.find(end, start)
        if stop < 0:
            raise ValueError(f"{begin} without {end}")
        return text[:start] + block + text[stop + len(end):]
    if not text.strip():
        text = DEFAULT_HEADER
    return text.rstrip("\n") + "\n\n" + block + "\n"


def write_section(path: str | Path, name: str, content: str) -> Path:
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(replace_section(text, name, content))
    return path


@dataclass
class Measurement:
    target: str  # "simulator", "WireMock (journal on)", ...
    result: WrkResult | None = None
    note: str = ""  # why not measured, or what is wrong with the figure


@dataclass
class CaseResult:
    simulator: str
    name: str
    method: str
    path: str
    measurements: list[Measurement] = field(default_factory=list)

    def get(self, target: str) -> Measurement | None:
        return next((m for m in self.measurements if m.target == target), None)


def _fmt_ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _mb(value: int | None) -> str:
    return "—" if value is None else f"{value / 2**20:,.0f} MB"


def case_table(case: CaseResult) -> str:
    rows = ["| server | req/s | p50 ms | p99 ms | non-2xx | note |", "|---|---:|---:|---:|---:|---|"]
    for m in case.measurements:
        if m.result is None:
            rows.append(f"| {m.target} | — | — | — | — | not measured: {m.note} |")
            continue
        r = m.result
        flags = []
        if r.non_2xx:
            flags.append(f"**{r.non_2xx} of {r.requests} responses not 2xx/3xx: figure not comparable**")
        if r.socket_errors:
            flags.append(f"**{r.socket_errors} socket errors**")
        if m.note:
            flags.append(m.note)
        rows.append(f"| {m.target} | {r.requests_per_sec:,.0f} | {_fmt_ms(r.p50_ms)} | {_fmt_ms(r.p99_ms)} | "
                    f"{r.non_2xx} | {'; '.join(flags)} |")
    return "\n".join(rows)


SIMULATOR = "simulator"
TARGET_PEER = "WireMock (journal on)"
FASTEST_PEER = "WireMock (journal off)"  # quoted beside the verdict: WireMock at its fastest


def verdict(simulator: str, cases: list[CaseResult]) -> str:
    """Does the simulator reach WireMock's default-configuration (journal on) throughput, case by case?"""
    met, compared, parts = 0, 0, []
    for case in cases:
        sim, peer = case.get(SIMULATOR), case.get(TARGET_PEER)
        if not sim or not sim.result or not peer or not peer.result:
            parts.append(f"{case.name}: no comparison")
            continue
        compared += 1
        ratio = sim.result.requests_per_sec / peer.result.requests_per_sec if peer.result.requests_per_sec else 0
        ok = sim.result.clean and ratio >= 1.0
        met += ok
        why = "" if sim.result.clean else ", simulator answered errors"
        fastest = case.get(FASTEST_PEER)
        if fastest and fastest.result and fastest.result.requests_per_sec:
            why += f"; {sim.result.requests_per_sec / fastest.result.requests_per_sec:.2f}× of {FASTEST_PEER}"
        parts.append(f"{case.name}: {ratio:.2f}× ({'meets' if ok else 'below'}{why})")
    if not compared:
        return f"**{simulator}: no verdict** — WireMock (journal on) was not measured. " + "; ".join(parts)
    word = "MEETS" if met == compared else "DOES NOT MEET" if met == 0 else "PARTLY MEETS"
    return (f"**{simulator}: {word} the target** (≥ WireMock default-configuration throughput) on {met} of {compared} "
            f"cases — " + "; ".join(parts))


@dataclass
class SimulatorRun:
    name: str
    skipped: str = ""  # reason when not run at all
    cases: list[CaseResult] = field(default_factory=list)
    quota_changes: list[str] = field(default_factory=list)
    rss_ready: int | None = None  # after prepare, before load
    rss_loaded: int | None = None  # after the load
    journal: str = ""
    peer_notes: dict[str, str] = field(default_factory=dict)  # peer label -> note (not started, check problems)
    peer_rss: dict[str, int | None] = field(default_factory=dict)
    measured: str = ""  # date and command of the run these figures come from


@dataclass
class PeerInfo:
    label: str
    version: str = ""
    unavailable: str = ""


def render_peers_section(*, runs: list[SimulatorRun], peers: list[PeerInfo], machine: dict[str, str], command: str,
                         date: str, duration: float, warmup: float, connections: int, threads: int,
                         rounds: int, prime: float = 0) -> str:
    out = ["## Simulators vs peers (WireMock, Prism, Mockoon)", ""]
    out.append(f"Latest run {date} with `{command}` (each simulator below says which run its figures come from).")
    out.append("")
    out.append("Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()) + ".")
    out.append("")
    out.append(
        f"Method: each simulator runs as a real server (`q2c sim serve --http --only NAME`, a subprocess, uvicorn, "
        f"default configuration: request journal ON, quotas ON), seeded through its own `benchmarks/<name>_cases.py`. "
        f"Each peer serves the same method + path with the case's stub (same status and body). Load: "
        f"`wrk -t{threads} -c{connections} -d{duration:g}s --latency` after a {warmup:g} s warm-up (and, before any "
        f"measure, every server primed for {prime:g} s spread over its cases: WireMock's JIT needs ~20 s of load to "
        f"reach its steady figure here — cold it serves 5-10× less), against one server at "
        f"a time, the servers of one case interleaved (simulator, then each peer{', repeated ' + str(rounds) + ' rounds, median kept' if rounds > 1 else ''}) "
        f"so they share the same conditions. Before each measure the simulator's seeded state is restored and "
        f"WireMock's journal emptied: by default it keeps every request and slows as the journal grows, so a fresh "
        f"journal is its best figure. wrk runs on the same 2 cores as the server it loads, so absolute figures "
        f"are low; compare the columns of one table rather than tables across machines.")
    out.append("")
    out.append("**Noise:** on this 2-core VM the same server's figure can swing by tens of percent between runs (CPU "
               "speed varies, other jobs may run). Interleaving per case gives every server of a case the same "
               "conditions, but treat differences under ~20 % as noise.")
    out.append("")
    out.append("Peers: " + "; ".join(
        f"{p.label} {p.version}" + (f" — not measured: {p.unavailable}" if p.unavailable else "") for p in peers) + ".")
    out.append("")
    for run in runs:
        out.append(f"### {run.name}")
        out.append("")
        if run.skipped:
            out.append(f"Not measured: {run.skipped}")
            out.append("")
            continue
        if run.measured:
            out.append(f"Measured {run.measured}.")
            out.append("")
        out.append(verdict(run.name, run.cases))
        out.append("")
        for case in run.cases:
            out.append(f"#### {case.name}")
            out.append("")
            out.append(f"`{case.method} {case.path}`")
            out.append("")
            out.append(case_table(case))
            out.append("")
        facts = []
        if run.quota_changes:
            facts.append("Quotas lifted for the run (through `PUT /__admin/quotas`, still enforced, journal untouched): "
                         + "; ".join(run.quota_changes) + ".")
        if run.journal:
            facts.append(f"Journal: {run.journal}.")
        facts.append(f"Simulator RSS: {_mb(run.rss_ready)} after seeding, {_mb(run.rss_loaded)} after the load.")
        if run.peer_rss:
            facts.append("Peer RSS after the load: " + ", ".join(f"{k} {_mb(v)}" for k, v in run.peer_rss.items()) + ".")
        for label, note in run.peer_notes.items():
            facts.append(f"{label}: {note}.")
        out += [f"- {f}" for f in facts]
        out.append("")
    return "\n".join(out)
