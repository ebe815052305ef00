"""Driving `wrk`: a Lua script per request shape, a run, and the parsed summary (req/s, latency, non-2xx, errors)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from benchmarks.cases import BenchCase


class WrkMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    requests: int  # completed requests in the measured window
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: int  # connect + read + write + timeout
    duration_s: float

    @property
    def clean(self) -> bool:
        """Every response was 2xx/3xx and no socket error: the figure measures successful requests."""
        return self.non_2xx == 0 and self.socket_errors == 0 and self.requests > 0


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk_output(text: str) -> WrkResult:
    """Parse `wrk --latency` output. Raises ValueError when the summary is missing."""
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    total = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+),", text, re.M)
    if not rps or not total:
        raise ValueError("no wrk summary in output:\n" + text[-2000:])
    percentiles = dict(re.findall(r"^\s+(\d+(?:\.\d+)?)%\s+([0-9.]+(?:us|ms|s|m|h))\s*$", text, re.M))
    if "50" not in percentiles or "99" not in percentiles:
        raise ValueError("no latency distribution (was wrk run with --latency?)")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return WrkResult(
        requests=int(total.group(1)),
        requests_per_sec=float(rps.group(1)),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        duration_s=_ms(total.group(2)) / 1000,
    )


def lua_string(data: bytes | str) -> str:
    """A Lua string literal holding exactly `data` (bytes outside printable ASCII as decimal escapes)."""
    raw = data.encode() if isinstance(data, str) else data
    out = []
    for b in raw:
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append(f"\\{b:03d}")
    return '"' + "".join(out) + '"'


def lua_script(case: BenchCase, extra_headers: dict[str, str] | None = None) -> str:
    """The wrk script replaying `case`: method, path and query, headers and body."""
    lines = [f"wrk.method = {lua_string(case.method.upper())}", f"wrk.path = {lua_string(case.path)}"]
    headers = {**case.headers, **(extra_headers or {})}
    for key, value in headers.items():
        if key.lower() in ("host", "content-length"):
            continue
        lines.append(f"wrk.headers[{lua_string(key)}] = {lua_string(value)}")
    if case.body is not None:
        lines.append(f"wrk.body = {lua_string(case.body)}")
    return "\n".join(lines) + "\n"


def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise WrkMissing("wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) or build it from "
                         "https://github.com/wg/wrk; the runner installs it itself when run as root with apt-get")
    return found


def ensure_wrk(install: bool = True) -> str:
    """wrk's path; installs the Debian package when missing and allowed (root with apt-get)."""
    import os

    try:
        return wrk_path()
    except WrkMissing:
        if not install or os.geteuid() != 0 or not shutil.which("apt-get"):
            raise
    print("wrk missing: installing the Debian package (apt-get install -y wrk) ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    return wrk_path()


def run_wrk(base_url: str, script_path: str, *, duration: float, connections: int, threads: int = 1,
            timeout: float = 5.0) -> WrkResult:
    cmd = [wrk_path(), f"-t{threads}", f"-c{connections}", f"-d{max(int(round(duration)), 1)}s", "--latency",
           f"--timeout={int(timeout)}s", "-s", script_path, base_url.rstrip("/") + "/"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + timeout + 30)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return parse_wrk_output(proc.stdout)
