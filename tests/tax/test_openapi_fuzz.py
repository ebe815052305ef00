"""Schemathesis against the tax simulator's own OpenAPI, in-process: no failures, no 500s.

AvaTax answers a request it understands but refuses (a region its table lacks, a code already committed, a document
that does not exist) with 400 or 404 and its error body, so those count as accepted for schema-valid data; every
other check runs with its defaults.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import schemathesis
from hypothesis import HealthCheck, settings

from q2c_simulators.kernel import QuotaSpec
from q2c_simulators.tax import TaxSimulator

sim = TaxSimulator(seed=1)
sim.clock.set(datetime(2026, 11, 30, tzinfo=timezone.utc), freeze=True)
sim.quotas.set(QuotaSpec(name="account_requests", kind="token_bucket", limit=1_000_000, rate_per_second=1000,
                         path="/api/*"))
_backend = sim.tenants.get("2000000001")
_backend.add_license_key("FUZZKEY000000000")
AUTH = "Basic " + base64.b64encode(b"2000000001:FUZZKEY000000000").decode()

schema = schemathesis.openapi.from_asgi("/openapi.json", sim.asgi)
schema.config.generation.update(max_examples=8, deterministic=True, database="none")
schema.config.checks.positive_data_acceptance.expected_statuses = ["200", "201", "400", "404", "429"]


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_openapi_conformance(case):
    case.call_and_validate(headers={"Authorization": AUTH})
