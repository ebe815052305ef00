"""Schemathesis against the payments simulator's own OpenAPI, in-process: no failures, no 500s.

Stripe answers a request it understands but refuses (an id that names nothing, a state that does not allow the
action, a declined card) with 400, 402 or 404 and its error body, so those count as accepted for schema-valid data;
every other check runs with its defaults.
"""

from __future__ import annotations

from datetime import datetime, timezone

import schemathesis
from hypothesis import HealthCheck, settings

from q2c_simulators.kernel import QuotaSpec
from q2c_simulators.payments import PaymentsSimulator

sim = PaymentsSimulator(seed=1)
sim.clock.set(datetime(2026, 11, 30, tzinfo=timezone.utc), freeze=True)
sim.webhooks.auto = False
sim.quotas.set(QuotaSpec(name="requests", kind="token_bucket", limit=1_000_000, rate_per_second=1000, path="/v1/*"))
KEY = sim.keys.mint("fuzz")

schema = schemathesis.openapi.from_asgi("/openapi.json", sim.asgi)
schema.config.generation.update(max_examples=6, deterministic=True, database="none")
schema.config.checks.positive_data_acceptance.expected_statuses = ["200", "400", "402", "404", "429"]


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_openapi_conformance(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"})
