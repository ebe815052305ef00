"""The `netsuite` package (0.12, unchanged) against the simulator over HTTPS with TBA credentials from admin."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from netsuite import Config, NetSuiteRestApi, TokenAuth
from netsuite.exceptions import NetsuiteAPIRequestError

from q2c_simulators.kernel.serving import running_servers
from q2c_simulators.netsuite.simulator import NetSuiteSimulator

from .conftest import ACCOUNT, tba_credentials


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    sim = NetSuiteSimulator(seed=1, snapshot_dir=tmp_path_factory.mktemp("snap"))
    with running_servers({"netsuite": sim}, tls_dir=tmp_path_factory.mktemp("tls")) as endpoints:
        old = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = endpoints.ca_bundle  # httpx (used by the package) trusts the simulator's CA
        try:
            yield sim, endpoints
        finally:
            if old is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = old


def api_for(endpoints, creds: dict[str, str], account: str = ACCOUNT) -> NetSuiteRestApi:
    api = NetSuiteRestApi(Config(account=account, auth=TokenAuth(**creds)))
    api.hostname = endpoints.base_urls["netsuite"].removeprefix("https://")
    return api


async def _creds(endpoints, account: str = ACCOUNT) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=endpoints.base_urls["netsuite"] + "/__admin",
                                 verify=endpoints.ca_bundle) as admin:
        return await tba_credentials(admin, account)


async def test_record_crud_suiteql_and_metadata(served):
    sim, endpoints = served
    api = api_for(endpoints, await _creds(endpoints))
    assert await api.post("/record/v1/customer", json={"companyName": "Globex", "subsidiary": {"id": "1"},
                                                       "externalId": "GLX"}) is None
    raw = await api.request("POST", "/record/v1/customer", json={"companyName": "Initech", "subsidiary": {"id": "1"}})
    assert raw.status_code == 204 and "/record/v1/customer/" in raw.headers["location"]
    new_id = raw.headers["location"].rsplit("/", 1)[1]
    got = await api.get("/record/v1/customer/eid:GLX")
    assert got["companyName"] == "Globex" and got["subsidiary"]["refName"] == "Parent Company"
    assert await api.put("/record/v1/customer/eid:HOOLI", json={"companyName": "Hooli", "subsidiary": {"id": "1"}}) is None
    assert await api.patch(f"/record/v1/customer/{new_id}", json={"email": "ap@initech.test"}) is None
    assert (await api.get(f"/record/v1/customer/{new_id}", params={"fields": "email"}))["email"] == "ap@initech.test"
    listed = await api.get("/record/v1/customer", params={"q": 'companyName START_WITH "h"'})
    assert listed["totalResults"] == 1
    assert await api.delete(f"/record/v1/customer/{new_id}") is None

    for i in range(5):
        await api.post("/record/v1/customer", json={"companyName": f"Bulk {i}", "subsidiary": {"id": "1"}})
    q = "SELECT id, companyname AS name FROM customer WHERE companyname LIKE 'Bulk%' ORDER BY id"
    first = await api.suiteql(q, limit=2, offset=0)
    assert first["count"] == 2 and first["hasMore"] is True and first["totalResults"] == 5
    assert set(first["items"][0]) == {"links", "id", "name"} and first["items"][0]["name"] == "Bulk 0"
    pages = [first] + [await api.suiteql(q, limit=2, offset=o) for o in (2, 4)]
    names = [row["name"] for p in pages for row in p["items"]]
    assert names == [f"Bulk {i}" for i in range(5)] and pages[-1]["hasMore"] is False
    agg = await api.suiteql("SELECT s.name, COUNT(*) AS n FROM customer c JOIN subsidiary s ON s.id = c.subsidiary "
                            "GROUP BY s.name")
    assert agg["items"][0] == {"links": [], "name": "Parent Company", "n": "7"}

    schema = await api.jsonschema("customer")
    assert schema["properties"]["companyName"]["type"] == "string" and "subsidiary" in schema["required"]
    spec = await api.openapi(["customer", "invoice"])
    assert spec["openapi"].startswith("3.") and "/invoice/{id}" in spec["paths"]
    assert "amountRemaining" in spec["components"]["schemas"]["invoice"]["properties"]


async def test_error_mapping_and_wrong_secret(served):
    sim, endpoints = served
    creds = await _creds(endpoints)
    api = api_for(endpoints, creds)
    with pytest.raises(NetsuiteAPIRequestError) as err:
        await api.get("/record/v1/customer/999999")
    assert err.value.status_code == 404 and '"o:errorCode":"NONEXISTENT_ID"' in err.value.response_text.replace(" ", "")
    with pytest.raises(NetsuiteAPIRequestError) as err:
        await api.post("/record/v1/customer", json={"companyName": "X", "subsidiary": {"id": "42"}})
    assert err.value.status_code == 400 and "INVALID_KEY_OR_REF" in err.value.response_text
    with pytest.raises(NetsuiteAPIRequestError) as err:
        await api.suiteql("SELECT FROM WHERE")
    assert err.value.status_code == 400

    bad = api_for(endpoints, {**creds, "consumer_secret": "wrong"})
    raw = await bad.request("GET", "/record/v1/customer")
    assert raw.status_code == 401
    assert raw.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    assert raw.headers["www-authenticate"] == f'OAuth realm="{ACCOUNT}", error="token_rejected"'
    with pytest.raises(NetsuiteAPIRequestError) as err:
        await bad.get("/record/v1/customer")
    assert err.value.status_code == 401
    wrong_token = api_for(endpoints, {**creds, "token_secret": "nope"})
    assert (await wrong_token.request("GET", "/record/v1/customer")).status_code == 401
    other = await _creds(endpoints, "999_OTHER")  # a token of another account does not open this one
    assert (await api_for(endpoints, other, ACCOUNT).request("GET", "/record/v1/customer")).status_code == 401


async def test_replayed_nonce_and_stale_timestamp_are_rejected(served):
    sim, endpoints = served
    creds = await _creds(endpoints)
    api = api_for(endpoints, creds)
    ok = await api.request("GET", "/record/v1/customer", params={"limit": 1, "q": 'companyName START_WITH "a b"'})
    assert ok.status_code == 200  # query parameters are part of the signature base string
    # sign one request, send it twice: the second is a replay
    auth = api._make_auth()
    request = httpx.Request("POST", f"{endpoints.base_urls['netsuite']}/services/rest/record/v1/customer",
                            content=b'{"companyName":"Once","subsidiary":{"id":"1"}}',
                            headers={"Content-Type": "application/json"})
    signed = next(auth.auth_flow(request))
    assert "oauth_body_hash" in signed.headers["authorization"]
    async with httpx.AsyncClient(verify=endpoints.ca_bundle) as c:
        first = await c.send(signed)
        again = await c.send(signed)
        tampered = httpx.Request("POST", str(signed.url), content=b'{"companyName":"Twice","subsidiary":{"id":"1"}}',
                                 headers={k: v for k, v in signed.headers.items() if k != "content-length"})
        changed_body = await c.send(tampered)
    assert first.status_code == 204 and again.status_code == 401 and changed_body.status_code == 401
    # a timestamp an hour off both clocks is stale
    from authlib.oauth1.rfc5849 import client_auth

    real = client_auth.generate_timestamp
    client_auth.generate_timestamp = lambda: int(real()) - 3600
    try:
        stale = await api.request("GET", "/record/v1/customer")
    finally:
        client_auth.generate_timestamp = real
    assert stale.status_code == 401


async def test_concurrent_clients_share_the_account(served):
    sim, endpoints = served
    api = api_for(endpoints, await _creds(endpoints))
    results = await asyncio.gather(*(api.get("/record/v1/subsidiary/1") for _ in range(4)))
    assert all(r["name"] == "Parent Company" for r in results)


def test_benchmark_cases_replay(served):
    from benchmarks.netsuite_cases import prepare

    sim, endpoints = served
    cases = prepare(endpoints.base_urls["netsuite"], endpoints.ca_bundle)
    assert len(cases) == 2
    with httpx.Client(base_url=endpoints.base_urls["netsuite"], verify=endpoints.ca_bundle) as c:
        for case in cases:
            r = c.request(case.method, case.path, headers=case.headers, content=case.body)
            assert r.status_code == case.stub.status == 200, r.text
            assert r.text == case.stub.body
