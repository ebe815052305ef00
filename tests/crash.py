"""Shared by the crash-safety tests: run a worker subprocess until it dies by itself or is SIGKILLed."""

from __future__ import annotations

import subprocess


def kill_round(proc: subprocess.Popen, crash_at: int, delay: float) -> dict:
    """Wait for a worker started with a self-kill point (`crash_at` > 0) or SIGKILL it after `delay` seconds."""
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready": DBOS launched (and recovering); '' if it died first
    how = "self" if crash_at else "none"
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        how = "external"
    return {"crash_at_write": crash_at, "delay": round(delay, 2), "kill": how, "rc": proc.returncode}
