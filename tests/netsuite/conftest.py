"""Fixtures for the NetSuite simulator tests: a simulator, an in-process client, credentials minted through admin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from q2c_simulators.netsuite.simulator import NetSuiteSimulator

ACCOUNT = "123456_SB1"
REST = "/services/rest"


@pytest.fixture
def sim(tmp_path) -> NetSuiteSimulator:
    return NetSuiteSimulator(seed=7, snapshot_dir=tmp_path / "snapshots")


@pytest.fixture
async def admin(sim) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://netsuite.sim/__admin") as c:
        yield c


async def bearer_for(admin: httpx.AsyncClient, account: str = ACCOUNT) -> str:
    r = await admin.post(f"/netsuite/accounts/{account}/access-tokens", json={})
    assert r.status_code == 201, r.text
    return r.json()["access_token"]


@pytest.fixture
async def client(sim, admin) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of ACCOUNT authenticated with a bearer token minted through admin."""
    token = await bearer_for(admin)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url=f"https://netsuite.sim{REST}",
                                 headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


async def tba_credentials(admin: httpx.AsyncClient, account: str = ACCOUNT) -> dict[str, str]:
    r = await admin.post(f"/netsuite/accounts/{account}/integrations", json={"name": "q2c"})
    assert r.status_code == 201, r.text
    integration = r.json()
    r = await admin.post(f"/netsuite/accounts/{account}/tokens", json={"consumer_key": integration["consumer_key"]})
    assert r.status_code == 201, r.text
    token = r.json()
    return {"consumer_key": integration["consumer_key"], "consumer_secret": integration["consumer_secret"],
            "token_id": token["token_id"], "token_secret": token["token_secret"]}


def problem(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) >= {"type", "title", "status", "o:errorDetails"}, body
    assert body["status"] == response.status_code
    return body["o:errorDetails"][0]
