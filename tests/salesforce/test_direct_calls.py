"""The kernel's direct calls (hot reads without FastAPI's per-request machinery) answer exactly as FastAPI does."""

from __future__ import annotations

import httpx
import pytest

from q2c_simulators.salesforce import SalesforceSimulator

from .conftest import V


async def _client(sim: SalesforceSimulator) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://salesforce.sim")
    await client.post("/__admin/clock", json={"set": "2026-11-30T12:00:00Z", "freeze": True})
    r = await client.post("/__admin/salesforce/tokens", json={"tenant": "acme"})
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    r = await client.post("/__admin/salesforce/orgs/acme/fields", json={
        "object": "Account", "name": "External_Id__c", "type": "string", "external_id": True, "unique": True})
    assert r.status_code == 201, r.text
    return client


@pytest.fixture
async def pair():
    """The same org twice: one simulator calling operations directly, one serving every request through FastAPI."""
    direct, fastapi = await _client(SalesforceSimulator(seed=7)), await _client(
        SalesforceSimulator(seed=7, direct_calls=False))
    yield direct, fastapi
    await direct.aclose()
    await fastapi.aclose()


async def test_hot_reads_and_writes_answer_as_fastapi_does(pair):
    assert {row.operation for row in SalesforceSimulator().routes.rows if row.direct is None} == set()
    created = [await c.patch(f"{V}/sobjects/Account/External_Id__c/EQ-1", json={"Name": "Equivalence Ltd"})
               for c in pair]
    assert created[0].json() == created[1].json()
    rid = created[0].json()["id"]
    requests = [
        ("GET", f"{V}/sobjects/Account/{rid}", None),
        ("GET", f"{V}/sobjects/Account/{rid[:15]}", None),  # the 15-character form
        ("GET", f"{V}/sobjects/Account/{rid}?fields=Name,External_Id__c", None),
        ("GET", f"{V}/sobjects/Account/{rid}?fields=Name,Nope__c", None),  # INVALID_FIELD
        ("GET", f"{V}/sobjects/Account/001000000000000AAA", None),  # NOT_FOUND
        ("GET", f"{V}/sobjects/Nope/{rid}", None),
        ("GET", f"/services/data/v12.0/sobjects/Account/{rid}", None),  # an unknown version
        ("GET", f"{V}/query/?q=SELECT+Id,+Name+FROM+Account+WHERE+External_Id__c+=+'EQ-1'", None),
        ("GET", f"{V}/query?q=SELECT+COUNT()+FROM+Account", None),
        ("GET", f"{V}/query/?q=SELEC+Id+FROM+Account", None),  # MALFORMED_QUERY
        ("GET", f"{V}/query/", None),  # q missing: FastAPI's validation, in Salesforce's shape
        ("GET", f"{V}/queryAll/?q=SELECT+Id+FROM+Account", None),
        ("GET", f"{V}/sobjects/Account/External_Id__c/EQ-1", None),
        ("GET", f"{V}/sobjects/Account/describe", None),
        ("GET", f"{V}/sim/events/ChangeEvents?replayId=-2&limit=5", None),
        ("GET", f"{V}/sim/events/ChangeEvents?limit=many", None),  # not an int: FastAPI's 400
        ("POST", f"{V}/sobjects/Account/", {"Name": "Second Ltd"}),
        ("PATCH", f"{V}/sobjects/Account/{rid}", {"Name": "Renamed Ltd"}),
        ("POST", f"{V}/composite/sobjects", {"records": [{"attributes": {"type": "Account"}, "Name": "Third"}]}),
        ("POST", f"{V}/composite", {"compositeRequest": [
            {"method": "GET", "url": f"{V}/sobjects/Account/{rid}", "referenceId": "acct"},
            {"method": "GET", "url": f"/services/data/v58.0/sobjects/Account/{rid}?fields=Name", "referenceId": "old"},
            {"method": "GET", "url": f"{V}/nowhere", "referenceId": "missing"}]}),
        ("GET", f"{V}/limits/", None),
    ]
    for method, path, body in requests:
        a, b = [await c.request(method, path, json=body) for c in pair]
        assert (a.status_code, a.headers.get("content-type"), a.content) == \
            (b.status_code, b.headers.get("content-type"), b.content), path
    for client in pair:
        r = await client.get(f"{V}/sobjects/Account/{rid}", headers={"Authorization": "Bearer revoked"})
        assert r.status_code == 401
        assert r.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


async def test_a_direct_read_counts_against_the_api_allocation(api, ext_id):
    first = await api.get(f"{V}/limits/")
    used = first.json()["DailyApiRequests"]["Max"] - first.json()["DailyApiRequests"]["Remaining"]
    created = await api.patch(f"{V}/sobjects/Account/External_Id__c/EQ-2", json={"Name": "Counted Ltd"})
    read = await api.get(f"{V}/sobjects/Account/{created.json()['id']}")
    assert read.headers["Sforce-Limit-Info"] == f"api-usage={used + 2}/{first.json()['DailyApiRequests']['Max']}"
