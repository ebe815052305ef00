"""Fixtures: an in-process Salesforce simulator, an httpx client on it, and an admin-minted session token."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from q2c_simulators.kernel.serving import Endpoints, SimServers
from q2c_simulators.salesforce import SalesforceSimulator

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


@contextmanager
def https_server(sim: SalesforceSimulator, tls_dir) -> Iterator[Endpoints]:
    """`running_servers`, but stopped with force_exit: uvicorn otherwise waits out asyncio's 30 s TLS shutdown
    timeout for every connection a client closed without a close_notify (requests does exactly that)."""
    servers = SimServers({"salesforce": sim}, tls_dir=tls_dir)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(servers.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not all(s.started for s in servers.servers.values()):
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("simulator server did not start")
        time.sleep(0.02)
    try:
        yield servers.endpoints()
    finally:
        for server in servers.servers.values():
            server.should_exit = True
            server.force_exit = True
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
