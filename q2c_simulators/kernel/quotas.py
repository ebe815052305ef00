"""Vendor limits as quotas, not dice: counted windows, in-flight limits and token buckets on the virtual clock.

Kinds:
- fixed_window: at most `limit` requests per `window_seconds`, windows aligned to the epoch (e.g. per minute);
- rolling_window: at most `limit` in any trailing `window_seconds` (Salesforce's rolling 24-hour allocation), counted
  in 1,000 buckets so memory stays flat however many requests arrive;
- concurrency: at most `limit` requests in flight at once (NetSuite's account concurrency limit);
- token_bucket: bursts up to `limit`, refilled at `rate_per_second`.
Scope `tenant` counts each tenant apart; `global` counts the whole simulator. The vendor turns a rejection into its
own status, body and headers; the kernel only says which quota and how long until it would admit the request.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Annotated, Literal, Union

from pydantic import ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from .clock import VirtualClock
from .matching import RequestMatch


class QuotaSpec(RequestMatch):
    """One quota. Build it in code as `QuotaSpec(name=..., kind=..., ...)`; the admin API takes `QuotaRule`."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    kind: Literal["fixed_window", "rolling_window", "concurrency", "token_bucket"]
    limit: PositiveInt = Field(le=10**12)
    window_seconds: PositiveFloat | None = Field(default=None, le=366 * 86400)
    rate_per_second: PositiveFloat | None = Field(default=None, le=1e9)
    scope: Literal["tenant", "global"] = "tenant"
    tenant_limits: dict[str, Annotated[int, Field(gt=0, le=10**12)]] = Field(
        default_factory=dict, description="per-tenant limits overriding `limit` (e.g. a NetSuite account's tier)")
    enabled: bool = True
    description: str | None = Field(default=None, max_length=500)

    def limit_for(self, tenant: str | None) -> int:
        return self.tenant_limits.get(tenant or "", self.limit) if self.scope == "tenant" else self.limit

    @model_validator(mode="after")
    def _parameters(self) -> QuotaSpec:
        if self.kind in ("fixed_window", "rolling_window") and self.window_seconds is None:
            raise ValueError(f"window_seconds is required for a {self.kind} quota")
        if self.kind == "token_bucket" and self.rate_per_second is None:
            raise ValueError("rate_per_second is required for a token_bucket quota")
        return self


# The same quota per kind, so the admin API's schema says exactly which fields each kind needs.
class FixedWindowQuota(QuotaSpec):
    kind: Literal["fixed_window"]
    window_seconds: PositiveFloat = Field(le=366 * 86400)


class RollingWindowQuota(QuotaSpec):
    kind: Literal["rolling_window"]
    window_seconds: PositiveFloat = Field(le=366 * 86400)


class ConcurrencyQuota(QuotaSpec):
    kind: Literal["concurrency"]


class TokenBucketQuota(QuotaSpec):
    kind: Literal["token_bucket"]
    rate_per_second: PositiveFloat = Field(le=1e9)


QuotaRule = Annotated[
    Union[FixedWindowQuota, RollingWindowQuota, ConcurrencyQuota, TokenBucketQuota], Field(discriminator="kind")
]


_BUCKETS = 1000


@dataclass
class _Counter:
    """State of one quota for one scope key."""

    window_index: int = -1
    count: int = 0
    buckets: deque = field(default_factory=deque)  # rolling: (bucket index, count)
    tokens: float = -1.0
    refilled_at: float = 0.0
    in_flight: int = 0


@dataclass
class Rejection:
    quota: QuotaSpec
    retry_after: float | None  # seconds until the quota would admit this request; None when it cannot say


@dataclass
class Admission:
    """A granted request: holds concurrency slots until `release()`, and the counters it was counted in."""

    engine: QuotaEngine | None = None
    slots: list[tuple[str, str]] = field(default_factory=list)
    rejection: Rejection | None = None
    counted: list[tuple[QuotaSpec, tuple[str, str], _Counter, int]] = field(default_factory=list)

    def release(self) -> None:
        if self.engine is not None and self.slots:
            self.engine._release(self.slots)
            self.slots = []

    def usage(self, name: str) -> tuple[int, int] | None:
        """(used, limit) of quota `name` as this request left it (None: not counted in it); no lock, no lookup."""
        for spec, _, counter, limit in self.counted:
            if spec.name == name:
                return _used(spec, counter, limit), limit
        return None


ADMITTED = Admission()  # a grant that holds no slot (shared; release() has nothing to do)


def _used(spec: QuotaSpec, c: _Counter, limit: int) -> int:
    if spec.kind == "concurrency":
        return c.in_flight
    if spec.kind == "token_bucket":
        return limit - math.floor(c.tokens)
    return c.count


class QuotaEngine:
    def __init__(self, simulator: str, clock: VirtualClock, specs: list[QuotaSpec] | None = None) -> None:
        self.simulator = simulator
        self.clock = clock
        self._specs: dict[str, QuotaSpec] = {}
        self._defaults: dict[str, QuotaSpec] = {}
        self._state: dict[tuple[str, str], _Counter] = {}
        # per request shape: (spec, state key, counter, limit) of every matching quota; emptied whenever a spec or
        # the state changes, so a hot request looks nothing up
        self._plans: dict[tuple, list[tuple[QuotaSpec, tuple[str, str], _Counter, int]]] = {}
        self._lock = threading.Lock()
        for spec in specs or []:
            self._specs[spec.name] = self._defaults[spec.name] = spec

    def specs(self) -> list[QuotaSpec]:
        return list(self._specs.values())

    def get(self, name: str) -> QuotaSpec | None:
        return self._specs.get(name)

    def set(self, spec: QuotaSpec) -> None:
        with self._lock:
            old = self._specs.get(spec.name)
            self._specs[spec.name] = spec
            self._plans = {}
            if old is not None and old.kind != spec.kind:
                self._state = {k: v for k, v in self._state.items() if k[0] != spec.name}
            elif spec.kind == "token_bucket":  # a lowered limit takes effect now, not after the bucket drains
                for (name, tenant), counter in self._state.items():
                    if name == spec.name and counter.tokens > spec.limit_for(tenant):
                        counter.tokens = float(spec.limit_for(tenant))

    def remove(self, name: str) -> bool:
        with self._lock:
            self._state = {k: v for k, v in self._state.items() if k[0] != name}
            self._plans = {}
            return self._specs.pop(name, None) is not None

    def reset(self, *, specs: bool = False) -> None:
        """Forget every count (and, with specs=True, every change made through admin)."""
        with self._lock:
            self._state.clear()
            self._plans = {}
            if specs:
                self._specs = dict(self._defaults)

    @staticmethod
    def _key(spec: QuotaSpec, tenant: str | None) -> str:
        return "*" if spec.scope == "global" else (tenant or "")

    def admit(self, tenant: str | None, method: str, path: str, operation: str | None) -> Admission:
        """Check every matching quota; consume only when all of them admit the request."""
        if not self._specs:
            return ADMITTED
        now = self.clock.timestamp()
        with self._lock:
            plan = self._plan(tenant, method, path, operation)
            if not plan:
                return ADMITTED
            for spec, _, counter, limit in plan:
                retry_after = self._refusal(spec, counter, now, limit)
                if retry_after is not False:
                    return Admission(rejection=Rejection(spec, retry_after))
            slots = []
            for spec, key, counter, _ in plan:
                self._consume(spec, counter, now)
                if spec.kind == "concurrency":
                    slots.append(key)
            return Admission(self, slots, None, plan)

    def _plan(self, tenant: str | None, method: str, path: str, operation: str | None
              ) -> list[tuple[QuotaSpec, tuple[str, str], _Counter, int]]:
        shape = (tenant, method, path, operation)
        plan = self._plans.get(shape)
        if plan is None:
            if len(self._plans) >= 4096:
                self._plans = {}
            plan = []
            for s in self._specs.values():
                if s.enabled and s.matches(self.simulator, tenant, method, path, operation):
                    key = (s.name, self._key(s, tenant))
                    counter = self._state.get(key)
                    if counter is None:
                        counter = self._state[key] = _Counter()
                    plan.append((s, key, counter, s.limit_for(tenant)))
            self._plans[shape] = plan
        return plan

    def _refusal(self, spec: QuotaSpec, c: _Counter, now: float, limit: int) -> float | None | Literal[False]:
        """False when admitted; otherwise seconds until it would be (None: unknown)."""
        if spec.kind == "concurrency":
            return False if c.in_flight < limit else None
        if spec.kind == "fixed_window":
            index = math.floor(now / spec.window_seconds)
            if index != c.window_index:
                c.window_index, c.count = index, 0
            return False if c.count < limit else (index + 1) * spec.window_seconds - now
        if spec.kind == "rolling_window":
            width = spec.window_seconds / _BUCKETS
            current = math.floor(now / width)
            while c.buckets and c.buckets[0][0] <= current - _BUCKETS:
                c.count -= c.buckets.popleft()[1]
            if c.count < limit:
                return False
            return (c.buckets[0][0] + _BUCKETS) * width - now
        self._refill(spec, c, now, limit)
        return False if c.tokens >= 1 else (1 - c.tokens) / spec.rate_per_second

    def _consume(self, spec: QuotaSpec, c: _Counter, now: float) -> None:
        if spec.kind == "concurrency":
            c.in_flight += 1
        elif spec.kind == "fixed_window":
            c.count += 1
        elif spec.kind == "rolling_window":
            current = math.floor(now / (spec.window_seconds / _BUCKETS))
            if c.buckets and c.buckets[-1][0] == current:
                c.buckets[-1] = (current, c.buckets[-1][1] + 1)
            else:
                c.buckets.append((current, 1))
            c.count += 1
        else:
            c.tokens -= 1

    @staticmethod
    def _refill(spec: QuotaSpec, c: _Counter, now: float, limit: int) -> None:
        if c.tokens < 0:
            c.tokens, c.refilled_at = float(limit), now
        elif now > c.refilled_at:
            c.tokens = min(float(limit), c.tokens + (now - c.refilled_at) * spec.rate_per_second)
            c.refilled_at = now

    def _release(self, slots: list[tuple[str, str]]) -> None:
        with self._lock:
            for key in slots:
                counter = self._state.get(key)
                if counter is not None and counter.in_flight > 0:
                    counter.in_flight -= 1

    def usage(self, name: str, tenant: str | None) -> tuple[int, int]:
        """(used, limit) of one quota for a tenant right now; windows are aged first."""
        spec = self._specs[name]
        limit = spec.limit_for(tenant)
        now = self.clock.timestamp()
        with self._lock:
            c = self._state.get((name, self._key(spec, tenant)))
            if c is None:
                return 0, limit
            self._refusal(spec, c, now, limit)  # ages windows and refills buckets
            return _used(spec, c, limit), limit

    def report(self, tenant: str | None) -> list[dict]:
        rows = []
        for spec in self.specs():
            used, limit = self.usage(spec.name, tenant)
            rows.append({**spec.model_dump(mode="json", exclude_none=True), "used": used, "remaining": max(limit - used, 0)})
        return rows
