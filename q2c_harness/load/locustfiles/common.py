"""Shared by the locustfiles: the plan (written by `q2c load` and passed as LOAD_PLAN), vendor-shaped requests that
absorb 429s (back off and retry, as the connectors do), and the month-end shape.

Only loadtests import locust; they always run in their own process (`locust -f ...`), never inside pytest.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

import gevent
from locust import LoadTestShape

PLAN: dict[str, Any] = json.loads(open(os.environ["LOAD_PLAN"]).read()) if os.environ.get("LOAD_PLAN") else {}


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def send(client: Any, method: str, path: str, *, name: str, headers: dict[str, str], json_body: Any = None,
         ok: tuple[int, ...] = (200, 201, 204), attempts: int = 30) -> Any:
    """One logical call: a 429 or 503 is recorded as a failure named '<name> [429]' and retried after the
    Retry-After (or an exponential backoff with jitter when the vendor sends none); returns the last response."""
    delay = 0.25
    resp = None
    for _ in range(attempts):
        with client.request(method, path, headers=headers, json=json_body, name=name, catch_response=True) as resp:
            status = resp.status_code
            if status in ok:
                resp.success()
                return resp
            if status in (429, 503):
                resp.failure(f"{status} absorbed (retried)")
                ra = resp.headers.get("Retry-After")
                wait = float(ra) if ra and ra.replace(".", "", 1).isdigit() else delay * (0.5 + random.random())
                delay = min(delay * 2, 4.0)
            else:
                resp.failure(f"{status}: {(resp.text or '')[:200]}")
                return resp
        gevent.sleep(min(wait, 10.0))
    return resp


class MonthEndShape(LoadTestShape):
    """The last days of the month compressed into LOAD_DURATION seconds: a ramp day by day (30 %), the peak on the
    last working days (45 %), a taper while the stragglers approve (25 %). LOAD_USERS is the peak,
    LOAD_SPAWN_RATE the spawn rate. The test also ends once every planned batch is logged, submitted and approved
    (in one process; with several processes the duration decides)."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        duration = env_float("LOAD_DURATION", 60)
        peak = int(env_float("LOAD_USERS", 20))
        rate = env_float("LOAD_SPAWN_RATE", max(1.0, peak / 5))
        t = self.get_run_time()
        if t > duration or getattr(self.runner.environment, "q2c_done", False):
            return None
        if t < 0.3 * duration:  # ramp: four "days", each a step up
            step = int(t / (0.3 * duration / 4)) + 1
            return max(1, peak * step // 4), rate
        if t < 0.75 * duration:
            return peak, rate
        return max(1, peak // 3), rate
