"""The simulator's Prometheus exposition: what a scrape of /__admin/metrics reads."""

from prometheus_client.parser import text_string_to_metric_families

from q2c_simulators.kernel.metrics import SimulatorMetrics


def _samples(metrics: SimulatorMetrics) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(metrics.render().decode()) for s in family.samples}


def test_requests_are_counted_per_route_and_status_and_timed_in_cumulative_buckets():
    metrics = SimulatorMetrics("toy")
    metrics.observe("GET", "/things/{id}", 200, 0.0004)
    metrics.observe("GET", "/things/{id}", 200, 0.001)  # on a bound: `le` counts it in that bucket
    metrics.observe("GET", "<unmatched>", 404, 3.0)
    samples = _samples(metrics)

    def served(route: str, status: str) -> float:
        labels = {"simulator": "toy", "method": "GET", "route": route, "status": status}
        return samples[("sim_requests_total", frozenset(labels.items()))]

    def bucket(le: str) -> float:
        return samples[("sim_request_duration_seconds_bucket", frozenset({"simulator": "toy", "le": le}.items()))]

    assert served("/things/{id}", "200") == 2
    assert served("<unmatched>", "404") == 1
    assert bucket("0.001") == 2 and bucket("2.5") == 2 and bucket("5.0") == 3 and bucket("+Inf") == 3
    assert samples[("sim_request_duration_seconds_count", frozenset({"simulator": "toy"}.items()))] == 3
    assert abs(samples[("sim_request_duration_seconds_sum", frozenset({"simulator": "toy"}.items()))] - 3.0014) < 1e-9
