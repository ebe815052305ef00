"""Prometheus metrics of one simulator: requests by route and status, faults injected, quota rejections."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class SimulatorMetrics:
    def __init__(self, simulator: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sim_requests_total", "Requests served, by route template and status",
            ["simulator", "method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "sim_request_duration_seconds", "Time to serve a request, injected faults included",
            ["simulator"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.faults = Counter(
            "sim_faults_injected_total", "Faults injected, by rule and kind",
            ["simulator", "rule", "kind"], registry=self.registry,
        )
        self.quota_rejections = Counter(
            "sim_quota_rejections_total", "Requests refused by a quota",
            ["simulator", "quota"], registry=self.registry,
        )
        self.simulator = simulator
        self._latency = self.latency.labels(simulator)
        self._served: dict[tuple[str, str, int], Any] = {}  # labelled children, looked up once (hot path)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        served = self._served.get(key)
        if served is None:
            served = self._served[key] = self.requests.labels(self.simulator, method, route, str(status))
        served.inc()
        self._latency.observe(seconds)

    def fault(self, rule_id: str, kind: str) -> None:
        self.faults.labels(self.simulator, rule_id, kind).inc()

    def rejected(self, quota: str) -> None:
        self.quota_rejections.labels(self.simulator, quota).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
