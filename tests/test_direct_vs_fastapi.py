"""Every route of every simulator answers the same whether the kernel calls its operation directly or FastAPI
serves it: two simulators of one kind, one with direct calls off, get the same requests (a sample request for
every row of the urls table, on an account with a record in it) and must answer the same status, media type and
bytes. Operations the direct call cannot vouch for go to FastAPI either way; this proves the rest."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest

from q2c_simulators.kernel import Simulator
from q2c_simulators.kernel.serving import simulator_class
from q2c_simulators.psa import mint_token

Setup = Callable[[httpx.AsyncClient], Awaitable[None]]


async def _salesforce(c: httpx.AsyncClient) -> None:
    r = await c.post("/__admin/salesforce/tokens", json={"tenant": "parity"})
    c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    r = await c.post("/services/data/v59.0/sobjects/Account/", json={"Name": "Parity Ltd"})
    assert r.status_code == 201, r.text


async def _netsuite(c: httpx.AsyncClient) -> None:
    r = await c.post("/__admin/netsuite/accounts/PARITY/access-tokens", json={})
    c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    r = await c.post("/services/rest/record/v1/customer", json={"companyName": "Parity Ltd", "externalId": "P-1",
                                                                     "subsidiary": {"id": "1"}})
    assert r.status_code == 204, r.text


async def _psa(c: httpx.AsyncClient) -> None:
    c.headers["Authorization"] = f"Bearer {mint_token('parity')}"
    r = await c.post("/api/v1/roles.json", json={"role": {"name": "Consultant"}})
    assert r.status_code == 201, r.text


async def _tax(c: httpx.AsyncClient) -> None:
    r = await c.post("/__admin/tax/accounts", json={"account_id": 2000000001, "license_key": "PARITYKEY0001"})
    c.auth = ("2000000001", "PARITYKEY0001")
    r = await c.post("/api/v2/transactions/create", json={
        "type": "SalesInvoice", "code": "INV-1", "companyCode": "DEFAULT", "date": "2026-11-30", "customerCode": "C1",
        "addresses": {"singleLocation": {"line1": "1 Main St", "city": "Seattle", "region": "WA", "country": "US",
                                         "postalCode": "98101"}},
        "lines": [{"number": "1", "amount": 100, "taxCode": "P0000000"}]})
    assert r.status_code == 201, r.text


async def _payments(c: httpx.AsyncClient) -> None:
    r = await c.post("/__admin/payments/keys", json={"account": "parity"})
    c.headers["Authorization"] = f"Bearer {r.json()['secret_key']}"
    r = await c.post("/v1/customers", data={"name": "Parity Ltd"})
    assert r.status_code == 200, r.text


SETUPS: dict[str, Setup] = {"salesforce": _salesforce, "netsuite": _netsuite, "psa": _psa, "tax": _tax,
                            "payments": _payments}
# a value for each path parameter the tables name (the record the setup created where one is meant)
SAMPLES = {"version": "v59.0", "sobject": "Account", "record_type": "customer", "record_id": "1", "field": "Name",
           "value": "Parity%20Ltd", "locator": "01gD0000002HU6KIAW-2000", "job_id": "750000000000001AAA",
           "channel": "ChangeEvents", "sublist": "addressBook", "line": "1", "task_id": "1", "fmt": ".json",
           "company_code": "DEFAULT", "transaction_code": "INV-1", "transaction_id": "1", "customer": "cus_1"}


def _concrete(path: str) -> str:
    if path.startswith("/services/Soap/"):
        return path.replace("{version}", "59.0")

    def value(m: re.Match[str]) -> str:
        name, _, convertor = m.group(1).partition(":")
        return "1" if convertor == "int" else SAMPLES.get(name, "1")

    return re.sub(r"\{([^}]+)\}", value, path)


async def _pair(name: str) -> tuple[httpx.AsyncClient, httpx.AsyncClient, Simulator]:
    cls = simulator_class(name)
    sims = cls(seed=5), cls(seed=5, direct_calls=False)
    clients = []
    for sim in sims:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url=f"https://{name}.sim")
        await c.post("/__admin/clock", json={"set": "2026-11-30T12:00:00Z", "freeze": True})
        await SETUPS[name](c)
        clients.append(c)
    return clients[0], clients[1], sims[0]


@pytest.mark.parametrize("name", sorted(SETUPS))
async def test_every_route_answers_the_same_directly_and_through_fastapi(name):
    direct, fastapi, sim = await _pair(name)
    try:
        rows = [row for row in sim.routes.rows if row.operation not in ("openapi", "docs")]
        assert sum(row.direct is not None for row in rows) >= len(rows) * 0.9, "most operations are called directly"
        checked = 0
        for row in rows:
            path = _concrete(row.path)
            body = None if row.method in ("GET", "DELETE") else {}
            a, b = [await c.request(row.method, path, json=body) for c in (direct, fastapi)]
            assert (a.status_code, a.headers.get("content-type"), a.content) == \
                (b.status_code, b.headers.get("content-type"), b.content), f"{row.method} {path} ({row.operation})"
            checked += 1
        assert checked == len(rows)
    finally:
        await direct.aclose()
        await fastapi.aclose()
