"""The kernel's direct calls (hot reads without FastAPI's per-request machinery) answer exactly as FastAPI does."""

from __future__ import annotations

import httpx
import pytest
from starlette.datastructures import Headers

from .conftest import V


@pytest.fixture
async def fastapi_only(sim, token):
    """The same routes through FastAPI alone, with the tenant the kernel would have put in the scope."""

    async def app(scope, receive, send):
        scope.setdefault("state", {})["tenant"] = sim.tenant_of(Headers(scope=scope), scope["path"])
        await sim.routes_app(scope, receive, send)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://salesforce.sim",
                                 headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


async def test_hot_reads_answer_as_fastapi_does(sim, api, fastapi_only, ext_id):
    created = await api.patch(f"{V}/sobjects/Account/External_Id__c/EQ-1", json={"Name": "Equivalence Ltd"})
    rid = created.json()["id"]
    requests = [
        f"{V}/sobjects/Account/{rid}",
        f"{V}/sobjects/Account/{rid[:15]}",  # the 15-character form
        f"{V}/sobjects/Account/{rid}?fields=Name,External_Id__c",
        f"{V}/sobjects/Account/{rid}?fields=Name,Nope__c",  # INVALID_FIELD
        f"{V}/sobjects/Account/001000000000000AAA",  # NOT_FOUND
        f"{V}/sobjects/Nope/{rid}",
        f"/services/data/v12.0/sobjects/Account/{rid}",  # an unknown version
        f"{V}/query/?q=SELECT+Id,+Name+FROM+Account+WHERE+External_Id__c+=+'EQ-1'",
        f"{V}/query?q=SELECT+COUNT()+FROM+Account",
        f"{V}/query/?q=SELEC+Id+FROM+Account",  # MALFORMED_QUERY
        f"{V}/query/",  # q missing: FastAPI's validation, in Salesforce's shape
        f"{V}/queryAll/?q=SELECT+Id+FROM+Account",
        f"{V}/sobjects/Account/External_Id__c/EQ-1",
        f"{V}/sobjects/Account/describe",
        f"{V}/limits/",
    ]
    for path in requests:
        kernel, plain = await api.get(path), await fastapi_only.get(path)
        assert (kernel.status_code, kernel.headers.get("content-type"), kernel.json()) == \
            (plain.status_code, plain.headers.get("content-type"), plain.json()), path
    kernel = await api.get(f"{V}/sobjects/Account/{rid}", headers={"Authorization": "Bearer revoked"})
    plain = await fastapi_only.get(f"{V}/sobjects/Account/{rid}", headers={"Authorization": "Bearer revoked"})
    assert kernel.status_code == plain.status_code == 401
    assert kernel.json() == plain.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


async def test_a_direct_read_counts_against_the_api_allocation(api, ext_id):
    first = await api.get(f"{V}/limits/")
    used = first.json()["DailyApiRequests"]["Max"] - first.json()["DailyApiRequests"]["Remaining"]
    created = await api.patch(f"{V}/sobjects/Account/External_Id__c/EQ-2", json={"Name": "Counted Ltd"})
    read = await api.get(f"{V}/sobjects/Account/{created.json()['id']}")
    assert read.headers["Sforce-Limit-Info"] == f"api-usage={used + 2}/{first.json()['DailyApiRequests']['Max']}"
