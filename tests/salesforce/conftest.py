"""Fixtures: an in-process Salesforce simulator, an httpx client on it, and an admin-minted session token."""

from __future__ import annotations

import httpx
import pytest

from simulators.salesforce import SalesforceSimulator

V = "/services/data/v59.0"


@pytest.fixture
def sim() -> SalesforceSimulator:
    return SalesforceSimulator(seed=7)


@pytest.fixture
async def client(sim):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://salesforce.sim") as c:
        yield c


@pytest.fixture
async def token(client) -> str:
    r = await client.post("/__admin/salesforce/tokens", json={"tenant": "acme"})
    assert r.status_code == 201
    return r.json()["access_token"]


@pytest.fixture
async def api(client, token):
    """The client with the bearer token on every request."""
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture
async def ext_id(client) -> None:
    r = await client.post("/__admin/salesforce/orgs/acme/fields", json={
        "object": "Account", "name": "External_Id__c", "type": "string", "external_id": True, "unique": True})
    assert r.status_code == 201, r.text
