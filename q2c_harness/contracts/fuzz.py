"""schemathesis against a running server: deterministic generation, bounded examples, a JUnit report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def schema_url(target: str) -> str:
    return target if target.endswith(".json") else target.rstrip("/") + "/openapi.json"


def fuzz_command(target: str, *, max_examples: int = 10, headers: list[str] | None = None,
                 reports: str | Path = "reports/contracts-fuzz", checks: str = "not_a_server_error",
                 extra: list[str] | None = None) -> list[str]:
    st = shutil.which("st") or str(Path(sys.executable).parent / "st")
    cmd = [st, "run", schema_url(target), "--checks", checks, "-n", str(max_examples),
           "--generation-deterministic", "--report", "junit", "--report-dir", str(reports), "--no-color"]
    for h in headers or []:
        cmd += ["--header", h]
    return cmd + (extra or [])


def run_fuzz(target: str, **kw: object) -> subprocess.CompletedProcess[str]:
    cmd = fuzz_command(target, **kw)  # type: ignore[arg-type]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)
