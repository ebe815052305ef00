"""Fault rules: what WireMock, MockServer and Toxiproxy inject, in one deterministic model.

A rule matches requests (simulator, tenant, method, path, operation) and injects one kind of fault:
latency (fixed, uniform, log-normal), an error in the vendor's own shape, a connection reset, a slow dribbled body,
a hang until the client gives up, or (on event feeds) duplicated and reordered deliveries.
Triggers narrow it: fail the first N matches then succeed, a probability drawn from a seeded generator, a window on
the virtual clock (outages, maintenance). A rule expires after `max_hits` injections or `ttl_seconds` of virtual time.

Determinism: every draw is a hash of (seed, rule id, tenant, n-th match of the rule for that tenant), so the same seed
and the same requests give the same faults, and one tenant's traffic never shifts another tenant's dice.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt, TypeAdapter

from .clock import VirtualClock
from .matching import Instant, RequestMatch, StrictModel

TEN_YEARS = 10 * 365 * 86400
HTTP_KINDS = frozenset({"latency", "error", "reset", "dribble", "hang"})
EVENT_KINDS = frozenset({"duplicate", "reorder"})


class _Rule(RequestMatch):
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    description: str | None = Field(default=None, max_length=500)
    probability: float | None = Field(default=None, ge=0, le=1)
    first_n: PositiveInt | None = None
    max_hits: PositiveInt | None = None
    ttl_seconds: PositiveFloat | None = Field(default=None, le=TEN_YEARS)
    window_start: Instant | None = Field(default=None, description="virtual-clock instant the rule starts firing")
    window_seconds: PositiveFloat | None = Field(default=None, le=TEN_YEARS, description="how long the window lasts (open-ended if unset)")

    def in_window(self, now: datetime) -> bool:
        if self.window_start is None:
            return True
        start = self.window_start if self.window_start.tzinfo else self.window_start.replace(tzinfo=now.tzinfo)
        if now < start:
            return False
        return self.window_seconds is None or now < start + timedelta(seconds=self.window_seconds)


class LatencyFault(_Rule):
    kind: Literal["latency"]
    distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    ms: NonNegativeFloat = Field(default=0, le=600_000, description="fixed delay, or the lower bound when uniform")
    spread_ms: NonNegativeFloat = Field(default=0, le=600_000, description="uniform: delay drawn in [ms, ms + spread_ms]")
    median_ms: NonNegativeFloat = Field(default=0, le=600_000, description="lognormal: the median delay")
    sigma: NonNegativeFloat = Field(default=0.5, le=5, description="lognormal: the shape")

    def delay_seconds(self, u: float) -> float:
        if self.distribution == "fixed":
            return self.ms / 1000
        if self.distribution == "uniform":
            return (self.ms + self.spread_ms * u) / 1000
        z = NormalDist().inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
        return self.median_ms * math.exp(self.sigma * z) / 1000


class ErrorFault(_Rule):
    kind: Literal["error"]
    status: int = Field(ge=400, le=599)
    code: str | None = Field(default=None, max_length=100, description="vendor error code; the vendor's default when left out")
    message: str | None = Field(default=None, max_length=2000)
    retry_after_seconds: NonNegativeFloat | None = None


class ResetFault(_Rule):
    kind: Literal["reset"]


class DribbleFault(_Rule):
    kind: Literal["dribble"]
    chunk_bytes: PositiveInt = 64
    interval_ms: NonNegativeFloat = 100


class HangFault(_Rule):
    kind: Literal["hang"]
    max_seconds: PositiveFloat = Field(default=300, le=3600)


class DuplicateFault(_Rule):
    kind: Literal["duplicate"]
    copies: PositiveInt = Field(default=1, le=10)


class ReorderFault(_Rule):
    kind: Literal["reorder"]
    window: int = Field(default=5, ge=2, le=1000)


FaultRule = Annotated[
    Union[LatencyFault, ErrorFault, ResetFault, DribbleFault, HangFault, DuplicateFault, ReorderFault],
    Field(discriminator="kind"),
]
fault_rule_adapter: TypeAdapter[Any] = TypeAdapter(FaultRule)


class FaultProfile(StrictModel):
    """A fault profile file (YAML or JSON): an optional seed and a list of rules."""

    seed: int | None = None
    faults: list[FaultRule] = Field(default_factory=list)


@dataclass
class ActiveRule:
    rule: Any
    created_at: datetime
    matched: int = 0
    injected: int = 0
    matched_by_tenant: dict[str, int] = field(default_factory=dict)

    def expired(self, now: datetime) -> bool:
        if self.rule.max_hits is not None and self.injected >= self.rule.max_hits:
            return True
        ttl = self.rule.ttl_seconds
        return ttl is not None and now >= self.created_at + timedelta(seconds=ttl)

    def view(self) -> dict[str, Any]:
        return {**self.rule.model_dump(mode="json", exclude_none=True), "matched": self.matched, "injected": self.injected}


@dataclass
class FaultPlan:
    """What to do to one request: a total injected delay and at most one terminal fault."""

    delay: float = 0.0
    terminal: Any = None
    applied: list[str] = field(default_factory=list)


NO_FAULTS = FaultPlan()  # shared by every request no rule touches; never mutated


def _unit(seed: int, rule_id: str, tenant: str | None, n: int, salt: str) -> float:
    digest = hashlib.blake2b(f"{seed}|{rule_id}|{tenant}|{n}|{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class FaultEngine:
    def __init__(self, simulator: str, clock: VirtualClock, seed: int = 0) -> None:
        self.simulator = simulator
        self.clock = clock
        self.seed = seed
        self._rules: list[ActiveRule] = []
        self._lock = threading.Lock()
        self._next = 0

    def add(self, rule: Any) -> ActiveRule:
        with self._lock:
            if rule.id is None:
                self._next += 1
                rule = rule.model_copy(update={"id": f"{rule.kind}-{self._next}"})
            self._rules = [r for r in self._rules if r.rule.id != rule.id]
            active = ActiveRule(rule=rule, created_at=self.clock.now())
            self._rules.append(active)
            return active

    def load_profile(self, profile: FaultProfile) -> list[ActiveRule]:
        """Replace every rule with the profile's (and its seed, when it names one)."""
        self.clear()
        if profile.seed is not None:
            self.seed = profile.seed
        return [self.add(r) for r in profile.faults if r.simulator in (None, self.simulator)]

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.rule.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        """Forget every rule; generated ids start again, so a reset run draws the same faults as the first."""
        with self._lock:
            self._rules = []
            self._next = 0

    def has_rules(self, kind: str | None = None) -> bool:
        """Cheap check for hot paths (event feeds) before asking for event rules."""
        return any(kind is None or r.rule.kind == kind for r in self._rules)

    def rules(self) -> list[ActiveRule]:
        now = self.clock.now()
        return [r for r in self._rules if not r.expired(now)]

    def _fires(self, active: ActiveRule, tenant: str | None, now: datetime) -> tuple[bool, float]:
        """Count a match and decide, deterministically, whether the rule injects this time."""
        rule = active.rule
        n = active.matched_by_tenant.get(tenant or "", 0)
        active.matched_by_tenant[tenant or ""] = n + 1
        active.matched += 1
        if not rule.in_window(now):
            return False, 0.0
        if rule.first_n is not None and active.matched > rule.first_n:
            return False, 0.0
        if rule.probability is not None and _unit(self.seed, rule.id, tenant, n, "p") >= rule.probability:
            return False, 0.0
        active.injected += 1
        return True, _unit(self.seed, rule.id, tenant, n, "v")

    def plan(self, tenant: str | None, method: str, path: str, operation: str | None) -> FaultPlan:
        if not self._rules:
            return NO_FAULTS
        plan = FaultPlan()
        now = self.clock.now()
        with self._lock:
            for active in self._rules:
                rule = active.rule
                if rule.kind not in HTTP_KINDS or active.expired(now):
                    continue
                if not rule.matches(self.simulator, tenant, method, path, operation):
                    continue
                if rule.kind != "latency" and plan.terminal is not None:
                    continue
                fires, u = self._fires(active, tenant, now)
                if not fires:
                    continue
                plan.applied.append(rule.id)
                if rule.kind == "latency":
                    plan.delay += rule.delay_seconds(u)
                else:
                    plan.terminal = rule
        return plan

    def event_rules(self, tenant: str | None, stream: str, kind: str) -> list[tuple[Any, float]]:
        """For event feeds: the `duplicate`/`reorder` rules that fire for one event (operation = stream name)."""
        if not self._rules:
            return []
        now = self.clock.now()
        fired = []
        with self._lock:
            for active in self._rules:
                rule = active.rule
                if rule.kind != kind or active.expired(now):
                    continue
                if rule.operation not in (None, stream) or rule.tenant not in (None, tenant):
                    continue
                fires, u = self._fires(active, tenant, now)
                if fires:
                    fired.append((rule, u))
        return fired

    def draw(self, tenant: str | None, salt: str, n: int) -> float:
        """A seeded number in [0, 1) for vendor-side choices (e.g. where a reordered event lands)."""
        return _unit(self.seed, "draw", tenant, n, salt)
