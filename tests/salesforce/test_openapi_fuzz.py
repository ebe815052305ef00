"""Schemathesis against the simulator's own OpenAPI, in-process: bad input gets a Salesforce-shaped 4xx, never a 500."""

from __future__ import annotations

import asyncio

import httpx
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from q2c_simulators.salesforce import SalesforceSimulator

SIM = SalesforceSimulator(seed=11)


def _token() -> str:
    async def mint() -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(SIM.asgi), base_url="https://salesforce.sim") as c:
            await c.post("/__admin/salesforce/orgs/fuzz/fields", json={
                "object": "Account", "name": "External_Id__c", "type": "string", "external_id": True})
            r = await c.post("/__admin/salesforce/tokens", json={"tenant": "fuzz", "lifetime_seconds": 10 ** 8})
            return r.json()["access_token"]

    return asyncio.run(mint())


TOKEN = _token()


schema = schemathesis.openapi.from_asgi("/openapi.json", SIM.asgi)
schema.config.generation.update(max_examples=12, deterministic=True, database="none")


@schema.parametrize()
def test_every_operation_conforms(case):
    """Every check but positive_data_acceptance: a schema-valid string is not a valid SOQL query, and a schema-valid
    JSON object is not a valid record (fields come from the org's describe), so those get a Salesforce 400."""
    excluded = [positive_data_acceptance]
    if case.operation.path.startswith("/services/Soap/"):
        excluded.append(not_a_server_error)  # a SOAP fault is HTTP 500 with sf:exceptionCode, as Salesforce sends
    response = case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded)
    assert response.status_code < 500 or not_a_server_error in excluded
    content_type = (response.headers.get("content-type") or [""])[0]
    if response.status_code >= 400 and content_type.startswith("application/json") and case.path.startswith(
            "/services/data"):
        body = response.json()
        assert isinstance(body, list) and {"message", "errorCode"} <= set(body[0]), body
