"""Schemathesis against the PSA simulator's own OpenAPI, in-process: no failures, no 500s."""

from __future__ import annotations

from datetime import datetime, timezone

import schemathesis
from hypothesis import HealthCheck, settings

from q2c_simulators.kernel import QuotaSpec
from q2c_simulators.psa import PsaSimulator, mint_token

sim = PsaSimulator(seed=1)
sim.clock.set(datetime(2024, 3, 1, tzinfo=timezone.utc), freeze=True)
# Room for the fuzzer: the default per-account bucket would answer 429 (documented, but it hides the routes).
sim.quotas.set(QuotaSpec(name="account_requests", kind="token_bucket", limit=1_000_000, rate_per_second=1000,
                         path="/api/*"))
TOKEN = mint_token("fuzz")

schema = schemathesis.openapi.from_asgi("/openapi.json", sim.asgi)
schema.config.generation.update(max_examples=6, deterministic=True, database="none")
# Schema-valid bodies can still break business rules the schema cannot express (an id that names no record, a
# locked time entry, nothing to invoice): Kantata answers those with 422 `validation`, so 422 counts as accepted
# for positive data. Every other check runs with its defaults (a schema-valid request answered 400 still fails).
schema.config.checks.positive_data_acceptance.expected_statuses = ["200", "201", "204", "401", "404", "409", "422", "429"]


def _seed() -> None:
    """A few records so that generated ids (1, 2, ...) sometimes hit something."""
    b = sim.tenants.get("fuzz")
    if b.store.count("workspaces"):
        return
    u = b.create("users", {"full_name": "F", "email_address": "f@x"})
    ws = b.create("workspaces", {"title": "W"})
    b.create("stories", {"title": "S", "workspace_id": ws["id"]})
    b.create("time_entries", {"workspace_id": ws["id"], "date_performed": "2024-02-01", "time_in_minutes": 30}, u["id"])


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_openapi_conformance(case):
    _seed()
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
