"""Prometheus metrics of one simulator: requests by route and status, faults injected, quota rejections.

Requests are counted in plain dicts and turned into Prometheus families only when scraped: a labelled
`Counter.inc()` plus `Histogram.observe()` on every request cost more than the rest of the kernel's bookkeeping.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class SimulatorMetrics:
    def __init__(self, simulator: str) -> None:
        self.simulator = simulator
        self.registry = CollectorRegistry(auto_describe=True)
        self._served: dict[tuple[str, str, int], int] = {}  # (method, route template, status) -> requests
        self._latency = [0] * (len(LATENCY_BUCKETS) + 1)  # per bucket, not cumulative; the last is +Inf
        self._latency_sum = 0.0
        self.registry.register(self)
        self.faults = Counter(
            "sim_faults_injected_total", "Faults injected, by rule and kind",
            ["simulator", "rule", "kind"], registry=self.registry,
        )
        self.quota_rejections = Counter(
            "sim_quota_rejections_total", "Requests refused by a quota",
            ["simulator", "quota"], registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self._served[key] = self._served.get(key, 0) + 1
        self._latency[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # Prometheus buckets are `le`: v <= bound
        self._latency_sum += seconds

    def fault(self, rule_id: str, kind: str) -> None:
        self.faults.labels(self.simulator, rule_id, kind).inc()

    def rejected(self, quota: str) -> None:
        self.quota_rejections.labels(self.simulator, quota).inc()

    def collect(self) -> Iterator[Metric]:
        """The request families, for the registry (a custom collector)."""
        requests = CounterMetricFamily("sim_requests", "Requests served, by route template and status",
                                       labels=["simulator", "method", "route", "status"])
        for (method, route, status), count in list(self._served.items()):
            requests.add_metric([self.simulator, method, route, str(status)], count)
        yield requests
        latency = HistogramMetricFamily("sim_request_duration_seconds",
                                        "Time to serve a request, injected faults included", labels=["simulator"])
        cumulative, buckets = 0, []
        for bound, count in zip((*map(floatToGoString, LATENCY_BUCKETS), "+Inf"), list(self._latency)):
            cumulative += count
            buckets.append((bound, cumulative))
        latency.add_metric([self.simulator], buckets, self._latency_sum)
        yield latency

    def render(self) -> bytes:
        return generate_latest(self.registry)
