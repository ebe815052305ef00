"""OAuth 2.0 client credentials, async jobs with idempotency keys, releases side by side, SuiteQL shapes."""

from __future__ import annotations

import time

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import ACCOUNT, REST, problem, tba_credentials

TOKEN_URL = f"https://netsuite.sim{REST}/auth/oauth2/v1/token"
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _key_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, public


async def test_oauth2_client_credentials_with_jwt_assertion(sim, admin):
    key, public = _key_pair()
    r = await admin.post(f"/netsuite/accounts/{ACCOUNT}/oauth2/clients",
                         json={"client_id": "q2c-client", "certificate_id": "cert-1", "public_key_pem": public})
    assert r.status_code == 201, r.text
    now = int(time.time())
    claims = {"iss": "q2c-client", "scope": ["rest_webservices"], "aud": TOKEN_URL, "iat": now, "exp": now + 300}
    assertion = jwt.encode(claims, key, algorithm="PS256", headers={"kid": "cert-1"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://netsuite.sim") as c:
        form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION, "client_assertion": assertion}
        r = await c.post(f"{REST}/auth/oauth2/v1/token", data=form)
        assert r.status_code == 200, r.text
        token = r.json()
        assert token["token_type"] == "bearer" and token["expires_in"] == 3600
        r = await c.get(f"{REST}/record/v1/subsidiary/1", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert r.status_code == 200
        other, _ = _key_pair()
        forged = jwt.encode(claims, other, algorithm="PS256", headers={"kid": "cert-1"})
        r = await c.post(f"{REST}/auth/oauth2/v1/token", data={**form, "client_assertion": forged})
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
        expired = jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, key, algorithm="RS256",
                             headers={"kid": "cert-1"})
        r = await c.post(f"{REST}/auth/oauth2/v1/token", data={**form, "client_assertion": expired})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        r = await c.get(f"{REST}/record/v1/subsidiary/1", headers={"Authorization": "Bearer ns2.123456_SB1.nope"})
        assert r.status_code == 401 and problem(r)["o:errorCode"] == "INVALID_LOGIN"
        assert "www-authenticate" in r.headers
        r = await c.get(f"{REST}/record/v1/subsidiary/1")
        assert r.status_code == 401
    # tokens expire on the virtual clock
    await admin.post("/clock", json={"advance_seconds": 3601})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://netsuite.sim") as c:
        r = await c.get(f"{REST}/record/v1/subsidiary/1", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert r.status_code == 401


async def test_async_job_and_idempotency_key(client):
    headers = {"Prefer": "respond-async", "X-NetSuite-Idempotency-Key": "8b0d5f0e-0000-4000-8000-000000000001"}
    r = await client.post("/record/v1/customer", json={"companyName": "Async Co", "subsidiary": {"id": "1"}},
                          headers=headers)
    assert r.status_code == 202 and r.headers["preference-applied"] == "respond-async"
    job_url = r.headers["location"].split(REST)[1]
    job = (await client.get(job_url)).json()
    assert job["completed"] is True and job["progress"] == "succeeded"
    tasks = (await client.get(f"{job_url}/task")).json()
    task_url = tasks["items"][0]["links"][0]["href"].split(REST)[1]
    task = (await client.get(task_url)).json()
    result_link = next(link["href"] for link in task["links"] if link["rel"] == "related")
    result = await client.get(result_link.split(REST)[1])
    assert result.status_code == 204 and "/record/v1/customer/" in result.headers["location"]
    again = await client.post("/record/v1/customer", json={"companyName": "Async Co", "subsidiary": {"id": "1"}},
                              headers=headers)
    assert again.status_code == 400 and problem(again)["o:errorCode"] == "IDEMPOTENCY_ERROR"
    assert again.headers["location"] == r.headers["location"]
    listed = (await client.get("/record/v1/customer", params={"q": 'companyName IS "Async Co"'})).json()
    assert listed["totalResults"] == 1
    r = await client.post("/query/v1/suiteql", json={"q": "SELECT COUNT(*) AS n FROM customer"},
                          headers={"Prefer": "respond-async"})
    job_url = r.headers["location"].split(REST)[1]
    result = await client.get(f"{job_url}/task/{job_url.rsplit('/', 1)[1]}/result")
    assert result.json()["items"][0]["n"] == "1"
    r = await client.post("/record/v1/customer", json={"companyName": "Bad"}, headers={"Prefer": "respond-async"})
    job = (await client.get(r.headers["location"].split(REST)[1])).json()
    assert job["progress"] == "failed"


async def test_release_2026_2_requires_customer_external_id_and_renames_amount(admin, client):
    r = await client.post("/record/v1/serviceSaleItem", json={"itemId": "Svc", "rate": 10})
    item = r.headers["location"].rsplit("/", 1)[1]
    r = await client.put("/record/v1/customer/eid:K1", json={"companyName": "K", "subsidiary": {"id": "1"}})
    inv = await client.post("/record/v1/invoice", json={"entity": {"externalId": "K1"},
                                                         "item": {"items": [{"item": {"id": item}}]}})
    inv_url = inv.headers["location"].split(REST)[1]
    assert (await client.get(inv_url)).json()["amountRemaining"] == 10
    old_api = await client.get("/record/v1/metadata-catalog",
                               params={"select": "customer"}, headers={"Accept": "application/swagger+json"})
    assert "externalId" not in old_api.json()["components"]["schemas"]["customer"]["required"]

    r = await admin.put(f"/netsuite/accounts/{ACCOUNT}/release", json={"release": "2026.2"})
    assert r.status_code == 200 and r.json()["release"] == "2026.2"
    r = await client.post("/record/v1/customer", json={"companyName": "No Eid", "subsidiary": {"id": "1"}})
    assert r.status_code == 400 and problem(r)["o:errorPath"] == "externalId"
    r = await client.post("/record/v1/customer", json={"companyName": "Eid", "subsidiary": {"id": "1"},
                                                       "externalId": "E-2"})
    assert r.status_code == 204
    body = (await client.get(inv_url)).json()
    assert body["amountDue"] == 10 and "amountRemaining" not in body
    r = await client.get("/record/v1/invoice", params={"q": "amountDue GREATER 5"})
    assert r.json()["totalResults"] == 1
    new_api = await client.get("/record/v1/metadata-catalog", params={"select": "customer,invoice"},
                               headers={"Accept": "application/swagger+json"})
    schemas = new_api.json()["components"]["schemas"]
    assert "externalId" in schemas["customer"]["required"] and "amountDue" in schemas["invoice"]["properties"]
    assert new_api.json()["info"]["version"] == "2026.2"
    async with httpx.AsyncClient(transport=client._transport, base_url="https://netsuite.sim") as c:
        mine = (await c.get("/openapi.json", headers={"X-Sim-Tenant": ACCOUNT})).json()
        default = (await c.get("/openapi.json")).json()
    assert mine["info"]["version"] == "2026.2" and "amountDue" in mine["components"]["schemas"]["record.invoice"]["properties"]
    assert default["info"]["version"] == "2026.1"
    assert "amountRemaining" in default["components"]["schemas"]["record.invoice"]["properties"]


async def test_suiteql_shapes_joins_and_errors(client):
    for name in ("A", "B", "C"):
        await client.post("/record/v1/customer", json={"companyName": name, "subsidiary": {"id": "1"}})
    r = await client.post("/record/v1/serviceSaleItem", json={"itemId": "Svc", "rate": 100})
    item = r.headers["location"].rsplit("/", 1)[1]
    for cust, qty in (("1", 2), ("1", 1), ("2", 5)):
        r = await client.post("/record/v1/invoice", json={"entity": {"id": cust}, "tranDate": "2026-01-31",
                                                          "item": {"items": [{"item": {"id": item}, "quantity": qty}]}})
        assert r.status_code == 204
    q = ("SELECT c.companyname, SUM(t.foreigntotal) AS total, COUNT(*) AS n FROM transaction t "
         "JOIN customer c ON c.id = t.entity WHERE t.type = 'CustInvc' GROUP BY c.companyname ORDER BY total DESC")
    r = await client.post("/query/v1/suiteql", json={"q": q}, params={"limit": 1}, headers={"Prefer": "transient"})
    body = r.json()
    assert r.status_code == 200 and body["totalResults"] == 2 and body["hasMore"] is True
    assert body["items"] == [{"links": [], "companyname": "B", "total": "500", "n": "1"}]
    assert any(link["rel"] == "next" for link in body["links"])
    r = await client.post("/query/v1/suiteql", json={"q": "SELECT NVL(email, 'none') AS e FROM customer WHERE id = 1"})
    assert r.json()["items"][0]["e"] == "none"
    lines = await client.post("/query/v1/suiteql", json={
        "q": "SELECT SUM(netamount) AS s FROM transactionline tl JOIN item i ON i.id = tl.item"})
    assert lines.json()["items"][0]["s"] == "800"
    for bad in ("DELETE FROM customer", "SELECT nope FROM customer", "SELEC * FROM", "SELECT 1; SELECT 2"):
        r = await client.post("/query/v1/suiteql", json={"q": bad})
        assert r.status_code == 400 and problem(r)["o:errorCode"] == "INVALID_PARAMETER", (bad, r.text)


async def test_tba_signed_requests_verify_over_plain_http(sim, admin, monkeypatch):
    """`q2c sim serve --http` serves plain HTTP on purpose: a request signed for its http:// URL verifies (the
    signature covers the scheme, so one signed for https:// does not)."""
    import netsuite.rest_api_base  # noqa: F401 - registers HMAC-SHA256 with authlib, as the netsuite package signs
    from authlib.integrations.httpx_client import OAuth1Auth

    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # authlib's client refuses http:// unless told
    creds = await tba_credentials(admin)
    auth = OAuth1Auth(creds["consumer_key"], creds["consumer_secret"], token=creds["token_id"],
                      token_secret=creds["token_secret"], signature_method="HMAC-SHA256", realm=ACCOUNT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url=f"http://netsuite.sim{REST}",
                                 auth=auth) as c:
        r = await c.get("/record/v1/subsidiary/1")
        assert r.status_code == 200, r.text
        signed = next(auth.auth_flow(httpx.Request("GET", f"https://netsuite.sim{REST}/record/v1/subsidiary/1")))
        r = await c.get("/record/v1/subsidiary/1", headers={"Authorization": signed.headers["authorization"]},
                        auth=None)
        assert r.status_code == 401
