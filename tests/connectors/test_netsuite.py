"""NetSuite client against respx mocks of the documented shapes (vendor-apis.md section 2)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header, unescape

from q2c_harness.connectors.errors import (
    AuthError,
    BusinessError,
    ContractError,
    RecordNotFoundError,
    TransientError,
)
from q2c_harness.connectors.http import RetryPolicy, VendorAccount
from q2c_harness.connectors.netsuite import NetSuiteClient, NetSuiteOAuth2, NetSuiteTBA

ACCOUNT = "123456_SB1"
BASE = "https://123456-sb1.suitetalk.api.netsuite.com/services/rest"
CK, CS, TK, TS = "consumer-key", "consumer-secret", "token-id", "token-secret"


def ns_error(status: int, code: str, detail: str, path: str | None = None) -> dict:
    item = {"detail": detail, "o:errorCode": code}
    if path:
        item["o:errorPath"] = path
    titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
              503: "Service Unavailable", 500: "Internal Server Error"}
    return {"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1", "title": titles[status],
            "status": status, "o:errorDetails": [item]}


def tba() -> NetSuiteTBA:
    return NetSuiteTBA(ACCOUNT, CK, CS, TK, TS)


def client(fake_sleep, **kw) -> NetSuiteClient:
    kw.setdefault("auth", tba())
    kw.setdefault("retry", RetryPolicy(max_attempts=3, seed=3))
    return NetSuiteClient(ACCOUNT, sleep=fake_sleep, **kw)


@pytest.fixture
def mock():
    with respx.mock(base_url=BASE, assert_all_called=False) as m:
        yield m


def verify_tba(request: httpx.Request) -> bool:
    """oauthlib's server-side HMAC-SHA256 check over the RFC 5849 base string (JSON body left out)."""
    authorization = request.headers["Authorization"]
    params = dict(parse_authorization_header(authorization))
    oreq = OAuthRequest(str(request.url), request.method, body=None, headers={"Authorization": authorization})
    oreq.params = oauth_signature.collect_parameters(uri_query=urlsplit(str(request.url)).query,
                                                     headers={"Authorization": authorization},
                                                     exclude_oauth_signature=True)
    oreq.signature = unescape(params["oauth_signature"])
    return oauth_signature.verify_hmac_sha256(oreq, CS, TS)


async def test_tba_signature_verifies_with_oauthlib(mock, fake_sleep):
    post = mock.post("/record/v1/customer").mock(return_value=httpx.Response(
        204, headers={"Location": f"{BASE}/record/v1/customer/647"}))
    get = mock.get("/record/v1/customer/647").mock(return_value=httpx.Response(200, json={"id": "647"}))
    async with client(fake_sleep) as ns:
        assert await ns.create("customer", {"companyName": "Acme GmbH", "subsidiary": {"id": "1"}}) == "647"
        await ns.get("customer", "647", fields=["companyName", "email"])
    for route in (post, get):
        req = route.calls.last.request
        auth = req.headers["Authorization"]
        assert auth.startswith('OAuth realm="123456_SB1"')
        params = dict(parse_authorization_header(auth))
        assert params["oauth_signature_method"] == "HMAC-SHA256" and params["oauth_consumer_key"] == CK
        assert params["oauth_token"] == TK
        assert verify_tba(req)
    body = post.calls.last.request.content
    sent_hash = dict(parse_authorization_header(post.calls.last.request.headers["Authorization"]))["oauth_body_hash"]
    assert unescape(sent_hash) == (base64.b64encode(hashlib.sha1(body).digest()).decode())
    assert "oauth_body_hash" not in get.calls.last.request.headers["Authorization"]
    assert json.loads(body) == {"companyName": "Acme GmbH", "subsidiary": {"id": "1"}}


async def test_tba_signature_fails_with_wrong_secret(mock, fake_sleep):
    route = mock.get("/record/v1/customer/1").mock(return_value=httpx.Response(200, json={"id": "1"}))
    async with client(fake_sleep, auth=NetSuiteTBA(ACCOUNT, CK, "other", TK, TS)) as ns:
        await ns.get("customer", "1")
    assert not verify_tba(route.calls.last.request)


async def test_each_retry_is_signed_afresh(mock, fake_sleep):
    route = mock.get("/record/v1/customer/1").mock(side_effect=[
        httpx.Response(429, json=ns_error(429, "CONCURRENCY_LIMIT_EXCEEDED", "Request blocked by the concurrency "
                                                                             "limit.")),
        httpx.Response(200, json={"id": "1"}),
    ])
    async with client(fake_sleep) as ns:
        await ns.get("customer", "1")
    nonces = [dict(parse_authorization_header(c.request.headers["Authorization"]))["oauth_nonce"]
              for c in route.calls]
    assert len(set(nonces)) == 2 and all(verify_tba(c.request) for c in route.calls)


@pytest.mark.parametrize("status,code,detail,cls", [
    (400, "INVALID_CONTENT", "Error while accessing a resource. Invalid Field Value 9999 for the following field: "
                             "item", BusinessError),
    (400, "INVALID_KEY_OR_REF", "Invalid Field Value 42 for the following field: subsidiary", BusinessError),
    (400, "USER_ERROR", "Please enter value(s) for: Company Name", BusinessError),
    (400, "SSS_REQUEST_LIMIT_EXCEEDED", "Request limit exceeded", TransientError),
    (401, "INVALID_LOGIN", "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI "
                           "at Setup > Users/Roles > User Management > View Login Audit Trail.", AuthError),
    (404, "NONEXISTENT_ID", "The record instance does not exist. Provide a valid record instance ID.",
     RecordNotFoundError),
    (429, "CONCURRENCY_LIMIT_EXCEEDED", "Request blocked by the concurrency limit.", TransientError),
    (503, "SERVICE_UNAVAILABLE", "NetSuite is undergoing scheduled maintenance.", TransientError),
    (500, "UNEXPECTED_ERROR", "An unexpected error occurred.", BusinessError),
])
async def test_error_taxonomy(mock, fake_sleep, status, code, detail, cls):
    mock.get("/record/v1/invoice/5").mock(return_value=httpx.Response(
        status, json=ns_error(status, code, detail, "item.items[0].item"),
        headers={"Content-Type": "application/vnd.oracle.resource+json; type=error"}))
    async with client(fake_sleep, retry=RetryPolicy(max_attempts=1)) as ns:
        with pytest.raises(cls) as info:
            await ns.get("invoice", "5")
    err = info.value
    assert (err.system, err.code, err.status) == ("netsuite", code, status)
    assert detail in err.message
    assert err.details["errors"][0]["o:errorPath"] == "item.items[0].item"


async def test_concurrency_429_without_body_or_retry_after_is_retried(mock, fake_sleep):
    route = mock.get("/record/v1/customer/1").mock(side_effect=[httpx.Response(429), httpx.Response(200, json={})])
    async with client(fake_sleep) as ns:
        await ns.get("customer", "1")
    assert route.call_count == 2 and len(fake_sleep.calls) == 1


async def test_upsert_by_external_id_is_put_eid(mock, fake_sleep, calls):
    route = mock.put("/record/v1/customer/eid:CL-0001").mock(return_value=httpx.Response(
        204, headers={"Location": f"{BASE}/record/v1/customer/648"}))
    async with client(fake_sleep, call_log=calls) as ns:
        rid = await ns.upsert("customer", "CL-0001", {"externalId": "CL-0001", "companyName": "Acme"})
    assert rid == "648"
    assert json.loads(route.calls.last.request.content) == {"companyName": "Acme"}
    assert calls.records[0].idempotency_key == "customer/eid:CL-0001"


async def test_upsert_timeout_retried_because_put_is_idempotent(mock, fake_sleep):
    route = mock.put("/record/v1/customer/eid:CL-1").mock(side_effect=[httpx.ReadTimeout("t"), httpx.Response(204)])
    async with client(fake_sleep) as ns:
        assert await ns.upsert("customer", "CL-1", {"companyName": "A"}) is None
    assert route.call_count == 2


async def test_create_without_location_is_contract_error(mock, fake_sleep):
    mock.post("/record/v1/customer").mock(return_value=httpx.Response(204))
    async with client(fake_sleep) as ns:
        with pytest.raises(ContractError):
            await ns.create("customer", {"companyName": "A"})


async def test_list_pages_with_has_more_and_offset(mock, fake_sleep):
    def page(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        ids = [str(i) for i in range(offset, min(offset + 2, 5))]
        return httpx.Response(200, json={
            "links": [], "count": len(ids), "hasMore": offset + 2 < 5, "offset": offset, "totalResults": 5,
            "items": [{"links": [{"rel": "self", "href": f"{BASE}/record/v1/customer/{i}"}], "id": i} for i in ids]})

    route = mock.get("/record/v1/customer").mock(side_effect=page)
    async with client(fake_sleep) as ns:
        ids = [item["id"] async for item in ns.list("customer", q='companyName START_WITH "A"', page_size=2)]
    assert ids == ["0", "1", "2", "3", "4"]
    assert [c.request.url.params["offset"] for c in route.calls] == ["0", "2", "4"]
    assert route.calls[0].request.url.params["q"] == 'companyName START_WITH "A"'


async def test_suiteql_pages_with_prefer_transient(mock, fake_sleep):
    route = mock.post("/query/v1/suiteql").mock(side_effect=[
        httpx.Response(200, json={"links": [], "count": 2, "hasMore": True, "offset": 0, "totalResults": 3,
                                  "items": [{"links": [], "id": "1"}, {"links": [], "id": "2"}]}),
        httpx.Response(200, json={"links": [], "count": 1, "hasMore": False, "offset": 2, "totalResults": 3,
                                  "items": [{"links": [], "id": "3"}]}),
    ])
    async with client(fake_sleep) as ns:
        rows = await ns.suiteql_all("SELECT id FROM customer", page_size=2)
    assert rows == [{"id": "1"}, {"id": "2"}, {"id": "3"}]
    req = route.calls[0].request
    assert req.headers["Prefer"] == "transient" and json.loads(req.content) == {"q": "SELECT id FROM customer"}
    assert route.calls[1].request.url.params["offset"] == "2"
    assert verify_tba(req)


async def test_async_request_with_idempotency_key_and_polling(mock, fake_sleep):
    submit = mock.post("/record/v1/invoice").mock(side_effect=[
        httpx.Response(202, headers={"Preference-Applied": "respond-async",
                                     "Location": f"{BASE}/async/v1/job/77"}),
        httpx.Response(400, json=ns_error(400, "IDEMPOTENCY_ERROR", "Duplicate idempotency key."),
                       headers={"Location": f"{BASE}/async/v1/job/77"}),
    ])
    mock.get("/async/v1/job/77").mock(side_effect=[
        httpx.Response(200, json={"id": "77", "completed": False, "progress": "pending"}),
        httpx.Response(200, json={"id": "77", "completed": True, "progress": "succeeded",
                                  "task": {"links": [{"rel": "self", "href": f"{BASE}/async/v1/job/77/task/1"}]}}),
        httpx.Response(200, json={"id": "77", "completed": True, "progress": "succeeded",
                                  "task": {"links": [{"rel": "self", "href": f"{BASE}/async/v1/job/77/task/1"}]}}),
    ])
    mock.get("/async/v1/job/77/task/1").mock(return_value=httpx.Response(200, json={
        "completed": True, "progress": "succeeded",
        "links": [{"rel": "related", "href": f"{BASE}/async/v1/job/77/task/1/result"}]}))
    mock.get("/async/v1/job/77/task/1/result").mock(return_value=httpx.Response(
        204, headers={"Location": f"{BASE}/record/v1/invoice/900"}))
    async with client(fake_sleep) as ns:
        job = await ns.submit_async("POST", "/record/v1/invoice", json={"entity": {"id": "1"}},
                                    idempotency_key="inv-key-1")
        again = await ns.submit_async("POST", "/record/v1/invoice", json={"entity": {"id": "1"}},
                                      idempotency_key="inv-key-1")
        done = await ns.wait_for_job(job.id, poll_interval=2.0)
        result = await ns.job_result(job.id)
    assert (job.id, job.reused, again.id, again.reused) == ("77", False, "77", True)
    assert submit.calls[0].request.headers["Prefer"] == "respond-async"
    assert submit.calls[0].request.headers["X-NetSuite-Idempotency-Key"] == "inv-key-1"
    assert done["progress"] == "succeeded" and fake_sleep.calls == [2.0]
    assert result.status_code == 204 and result.headers["Location"].endswith("/invoice/900")


async def test_concurrency_budget_caps_in_flight_calls(mock, fake_sleep):
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={"id": "1"})

    mock.get("/record/v1/customer/1").mock(side_effect=slow)
    a, b = client(fake_sleep), client(fake_sleep)  # two clients, one account: one budget (default 5)
    try:
        await asyncio.gather(*(c.get("customer", "1") for c in [a, b] * 10))
    finally:
        await a.aclose()
        await b.aclose()
    assert a.account is b.account and a.account.concurrency == 5
    assert peak == 5


@pytest.fixture(scope="module")
def rsa_key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


async def test_oauth2_client_credentials_token_cached_and_refreshed(mock, fake_sleep, rsa_key):
    private, public = rsa_key
    now = [1_700_000_000.0]
    token = mock.post("/auth/oauth2/v1/token").mock(side_effect=[
        httpx.Response(200, json={"access_token": "A1", "token_type": "bearer", "expires_in": 3600}),
        httpx.Response(200, json={"access_token": "A2", "token_type": "bearer", "expires_in": 3600}),
        httpx.Response(200, json={"access_token": "A3", "token_type": "bearer", "expires_in": 3600}),
    ])
    rec = mock.get("/record/v1/customer/1").mock(side_effect=[
        httpx.Response(200, json={"id": "1"}), httpx.Response(200, json={"id": "1"}),
        httpx.Response(200, json={"id": "1"}),
        httpx.Response(401, json=ns_error(401, "INVALID_LOGIN", "Invalid login attempt.")),
        httpx.Response(200, json={"id": "1"}),
    ])
    auth = NetSuiteOAuth2(ACCOUNT, "client-1", "cert-1", private, clock=lambda: now[0])
    async with client(fake_sleep, auth=auth) as ns:
        await ns.get("customer", "1")
        await ns.get("customer", "1")  # cached
        now[0] += 3600  # expired: fetch again before calling
        await ns.get("customer", "1")
        await ns.get("customer", "1")  # 401 -> one refresh -> success
    assert token.call_count == 3
    assert [c.request.headers["Authorization"] for c in rec.calls] == [
        "Bearer A1", "Bearer A1", "Bearer A2", "Bearer A2", "Bearer A3"]
    form = {k: v[0] for k, v in parse_qs(token.calls[0].request.content.decode()).items()}
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assertion = form["client_assertion"]
    assert jwt.get_unverified_header(assertion)["kid"] == "cert-1"
    claims = jwt.decode(assertion, public, algorithms=["PS256"], audience=f"{BASE}/auth/oauth2/v1/token",
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["iss"] == "client-1" and claims["scope"] == "rest_webservices"


async def test_tba_invalid_login_is_not_retried(mock, fake_sleep):
    route = mock.get("/record/v1/customer/1").mock(return_value=httpx.Response(
        401, json=ns_error(401, "INVALID_LOGIN", "Invalid login attempt."),
        headers={"WWW-Authenticate": 'OAuth realm="123456_SB1", error="token_rejected"'}))
    async with client(fake_sleep) as ns:
        with pytest.raises(AuthError):
            await ns.get("customer", "1")
    assert route.call_count == 1


def test_accounts_are_shared_per_account_id():
    a = NetSuiteClient(ACCOUNT, auth=tba())
    b = NetSuiteClient(ACCOUNT, auth=tba())
    c = NetSuiteClient("999_SB2", auth=tba(), vendor_account=VendorAccount("netsuite", "999_SB2", concurrency=15))
    assert a.account is b.account and c.account.concurrency == 15
