"""Salesforce client against respx mocks of the documented shapes (vendor-apis.md section 1)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from q2c_harness.connectors.errors import (
    AuthError,
    BusinessError,
    ContractError,
    DuplicateRecordError,
    RecordNotFoundError,
    TransientError,
)
from q2c_harness.connectors.http import RetryPolicy, VendorAccount
from q2c_harness.connectors.salesforce import SalesforceAuth, SalesforceClient

INSTANCE = "https://acme.my.salesforce.com"
LOGIN = "https://login.salesforce.com"
V = "/services/data/v59.0"


def sf_error(code: str, message: str = "msg", fields: list[str] | None = None) -> list[dict]:
    return [{"message": message, "errorCode": code, "fields": fields or []}]


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False) as m:
        yield m


def client(fake_sleep, **kw) -> SalesforceClient:
    kw.setdefault("auth", "00Dxx!SESSION")
    kw.setdefault("retry", RetryPolicy(max_attempts=3, seed=1))
    return SalesforceClient(INSTANCE, sleep=fake_sleep, **kw)


@pytest.mark.parametrize("status,body,cls,code", [
    (400, sf_error("INVALID_FIELD", "No such column 'Foo__c' on entity 'Account'"), BusinessError, "INVALID_FIELD"),
    (400, sf_error("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"]), BusinessError,
     "REQUIRED_FIELD_MISSING"),
    (400, sf_error("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Close date must be in the future"), BusinessError,
     "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
    (400, sf_error("DUPLICATE_VALUE", "duplicate value found: Ext_Id__c"), DuplicateRecordError, "DUPLICATE_VALUE"),
    (400, sf_error("MALFORMED_QUERY", "unexpected token: FROM"), BusinessError, "MALFORMED_QUERY"),
    (400, sf_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"), TransientError,
     "UNABLE_TO_LOCK_ROW"),
    (401, sf_error("INVALID_SESSION_ID", "Session expired or invalid"), AuthError, "INVALID_SESSION_ID"),
    (403, sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), TransientError,
     "REQUEST_LIMIT_EXCEEDED"),
    (403, sf_error("INSUFFICIENT_ACCESS", "insufficient access rights"), AuthError, "INSUFFICIENT_ACCESS"),
    (404, sf_error("NOT_FOUND", "The requested resource does not exist"), RecordNotFoundError, "NOT_FOUND"),
    (404, sf_error("ENTITY_IS_DELETED", "entity is deleted"), RecordNotFoundError, "ENTITY_IS_DELETED"),
    (503, None, TransientError, "HTTP_503"),
    (500, sf_error("UNKNOWN_EXCEPTION", "An unexpected error occurred"), BusinessError, "UNKNOWN_EXCEPTION"),
    (300, ["/services/data/v59.0/sobjects/Account/001A", "/services/data/v59.0/sobjects/Account/001B"],
     DuplicateRecordError, "MULTIPLE_CHOICES"),
])
async def test_error_taxonomy(mock, fake_sleep, status, body, cls, code):
    kwargs = {"json": body} if body is not None else {}
    mock.get(f"{INSTANCE}{V}/sobjects/Account/001A").mock(return_value=httpx.Response(status, **kwargs))
    async with client(fake_sleep, retry=RetryPolicy(max_attempts=1)) as sf:
        with pytest.raises(cls) as info:
            await sf.get("Account", "001A")
    err = info.value
    assert (err.system, err.code, err.status) == ("salesforce", code, status)
    if body and isinstance(body[0], dict):
        assert body[0]["message"] in err.message


async def test_unable_to_lock_row_retried_even_on_create(mock, fake_sleep):
    route = mock.post(f"{INSTANCE}{V}/sobjects/Account/").mock(side_effect=[
        httpx.Response(400, json=sf_error("UNABLE_TO_LOCK_ROW")),
        httpx.Response(201, json={"id": "001000000000001", "success": True, "errors": []}),
    ])
    async with client(fake_sleep) as sf:
        assert await sf.create("Account", {"Name": "Acme"}) == "001000000000001"
    assert route.call_count == 2 and len(fake_sleep.calls) == 1
    assert json.loads(route.calls.last.request.content) == {"Name": "Acme"}


async def test_invalid_session_reauthenticates_once_then_succeeds(mock, fake_sleep, calls):
    token = mock.post(f"{LOGIN}/services/oauth2/token").mock(side_effect=[
        httpx.Response(200, json={"access_token": "T1", "instance_url": INSTANCE, "token_type": "Bearer"}),
        httpx.Response(200, json={"access_token": "T2", "instance_url": INSTANCE, "token_type": "Bearer"}),
    ])
    rec = mock.get(f"{INSTANCE}{V}/sobjects/Account/001A").mock(side_effect=[
        httpx.Response(200, json={"Id": "001A"}),
        httpx.Response(401, json=sf_error("INVALID_SESSION_ID", "Session expired or invalid")),
        httpx.Response(200, json={"Id": "001A", "Name": "Acme"}),
    ])
    auth = SalesforceAuth(grant="password", client_id="ck", client_secret="cs", username="u@x", password="pw")
    async with SalesforceClient(auth=auth, sleep=fake_sleep, call_log=calls) as sf:
        assert (await sf.get("Account", "001A"))["Id"] == "001A"
        assert sf.base_url == INSTANCE  # adopted from the token response
        assert (await sf.get("Account", "001A"))["Name"] == "Acme"
    assert token.call_count == 2
    form = parse_qs(token.calls[0].request.content.decode())
    assert form == {"grant_type": ["password"], "client_id": ["ck"], "client_secret": ["cs"], "username": ["u@x"],
                    "password": ["pw"]}
    assert [c.request.headers["Authorization"] for c in rec.calls] == ["Bearer T1", "Bearer T1", "Bearer T2"]
    assert fake_sleep.calls == []


async def test_invalid_session_twice_surfaces_auth_error(mock, fake_sleep):
    mock.post(f"{INSTANCE}/services/oauth2/token").mock(
        return_value=httpx.Response(200, json={"access_token": "T", "instance_url": INSTANCE}))
    rec = mock.get(f"{INSTANCE}{V}/sobjects/Account/001A").mock(
        return_value=httpx.Response(401, json=sf_error("INVALID_SESSION_ID", "Session expired or invalid")))
    auth = SalesforceAuth(grant="client_credentials", client_id="ck", client_secret="cs",
                          login_url="https://acme.my.salesforce.com")
    async with SalesforceClient(INSTANCE, auth=auth, sleep=fake_sleep) as sf:
        with pytest.raises(AuthError):
            await sf.get("Account", "001A")
    assert rec.call_count == 2


async def test_client_credentials_uses_basic_auth(mock, fake_sleep):
    token = mock.post(f"{INSTANCE}/services/oauth2/token").mock(
        return_value=httpx.Response(200, json={"access_token": "T", "instance_url": INSTANCE}))
    mock.get(f"{INSTANCE}{V}/limits/").mock(return_value=httpx.Response(200, json={"DailyApiRequests": {}}))
    auth = SalesforceAuth(grant="client_credentials", client_id="ck", client_secret="cs", login_url=INSTANCE)
    async with SalesforceClient(INSTANCE, auth=auth, sleep=fake_sleep) as sf:
        await sf.limits()
    req = token.calls.last.request
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"ck:cs").decode()
    assert parse_qs(req.content.decode()) == {"grant_type": ["client_credentials"]}


async def test_token_failure_is_auth_error(mock, fake_sleep):
    mock.post(f"{LOGIN}/services/oauth2/token").mock(return_value=httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "authentication failure"}))
    auth = SalesforceAuth(grant="password", client_id="ck", client_secret="cs", username="u", password="bad")
    async with SalesforceClient(INSTANCE, auth=auth, sleep=fake_sleep) as sf:
        with pytest.raises(AuthError) as info:
            await sf.limits()
    assert info.value.code == "invalid_grant" and "authentication failure" in info.value.message


async def test_query_follows_next_records_url(mock, fake_sleep):
    first = mock.get(f"{INSTANCE}{V}/query/", params={"q": "SELECT Id FROM Account"}).mock(
        return_value=httpx.Response(200, json={
            "totalSize": 3, "done": False, "nextRecordsUrl": f"{V}/query/01gRO0000016-2",
            "records": [{"attributes": {"type": "Account", "url": f"{V}/sobjects/Account/001A"}, "Id": "001A"},
                        {"attributes": {"type": "Account", "url": f"{V}/sobjects/Account/001B"}, "Id": "001B"}]}))
    second = mock.get(f"{INSTANCE}{V}/query/01gRO0000016-2").mock(return_value=httpx.Response(200, json={
        "totalSize": 3, "done": True,
        "records": [{"attributes": {"type": "Account", "url": f"{V}/sobjects/Account/001C"}, "Id": "001C"}]}))
    async with client(fake_sleep) as sf:
        ids = [r["Id"] async for r in sf.query("SELECT Id FROM Account")]
    assert ids == ["001A", "001B", "001C"]
    assert first.call_count == second.call_count == 1


async def test_query_without_records_key_is_contract_error(mock, fake_sleep):
    mock.get(f"{INSTANCE}{V}/query/").mock(return_value=httpx.Response(200, json={"totalSize": 0}))
    async with client(fake_sleep) as sf:
        with pytest.raises(ContractError):
            await sf.query_all("SELECT Id FROM Account")


async def test_upsert_by_external_id(mock, fake_sleep, calls):
    route = mock.patch(f"{INSTANCE}{V}/sobjects/Account/Q2C_Client_Id__c/CL-1001%20A").mock(side_effect=[
        httpx.Response(201, json={"id": "001X", "success": True, "errors": [], "created": True}),
        httpx.Response(200, json={"id": "001X", "success": True, "errors": [], "created": False}),
        httpx.Response(204),
    ])
    async with client(fake_sleep, call_log=calls) as sf:
        r1 = await sf.upsert("Account", "Q2C_Client_Id__c", "CL-1001 A", {"Name": "Acme", "Q2C_Client_Id__c": "x"})
        r2 = await sf.upsert("Account", "Q2C_Client_Id__c", "CL-1001 A", {"Name": "Acme"})
        r3 = await sf.upsert("Account", "Q2C_Client_Id__c", "CL-1001 A", {"Name": "Acme"})
    assert (r1.id, r1.created, r2.id, r2.created, r3.created) == ("001X", True, "001X", False, False)
    assert json.loads(route.calls[0].request.content) == {"Name": "Acme"}
    assert calls.records[0].idempotency_key == "Account/Q2C_Client_Id__c/CL-1001 A"


async def test_upsert_timeout_is_retried_because_idempotent(mock, fake_sleep):
    route = mock.patch(f"{INSTANCE}{V}/sobjects/Account/Ext__c/1").mock(side_effect=[
        httpx.ReadTimeout("t"), httpx.Response(201, json={"id": "001X", "success": True, "errors": [],
                                                         "created": True})])
    async with client(fake_sleep) as sf:
        assert (await sf.upsert("Account", "Ext__c", "1", {"Name": "A"})).created
    assert route.call_count == 2


async def test_collection_per_record_errors_use_status_code(mock, fake_sleep):
    route = mock.post(f"{INSTANCE}{V}/composite/sobjects").mock(return_value=httpx.Response(200, json=[
        {"id": "001A", "success": True, "errors": []},
        {"success": False, "errors": [{"statusCode": "DUPLICATE_VALUE", "message": "dup", "fields": []}]},
        {"success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "lock", "fields": []}]},
    ]))
    async with client(fake_sleep) as sf:
        results = await sf.create_many("Account", [{"Name": "A"}, {"Name": "B"}, {"Name": "C"}])
    assert [r.success for r in results] == [True, False, False]
    assert isinstance(results[1].error, DuplicateRecordError) and isinstance(results[2].error, TransientError)
    sent = json.loads(route.calls.last.request.content)
    assert sent == {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Name": n} for n in "ABC"]}


async def test_limit_info_header_feeds_usage_guard(mock, fake_sleep):
    acct = VendorAccount("salesforce", "org")
    route = mock.get(f"{INSTANCE}{V}/sobjects/Account/001A").mock(return_value=httpx.Response(
        200, json={"Id": "001A"}, headers={"Sforce-Limit-Info": "api-usage=99000/100000"}))
    async with client(fake_sleep, vendor_account=acct) as sf:
        await sf.get("Account", "001A")
        assert acct.api_usage == (99000, 100000)
        with pytest.raises(TransientError) as info:
            await sf.get("Account", "001A")
    assert info.value.code == "API_USAGE_GUARD" and route.call_count == 1


async def test_change_events_pull_until_caught_up(mock, fake_sleep):
    header = {"entityName": "Opportunity", "recordIds": ["006A"], "changeType": "UPDATE",
              "changedFields": ["StageName"], "commitTimestamp": 1}

    def ev(rid: int) -> dict:
        return {"replayId": rid, "channel": "/data/OpportunityChangeEvent",
                "payload": {"ChangeEventHeader": header, "StageName": "Closed Won"}}

    route = mock.get(f"{INSTANCE}{V}/sim/events/OpportunityChangeEvent").mock(side_effect=[
        httpx.Response(200, json={"channel": "/data/OpportunityChangeEvent", "events": [ev(6), ev(5), ev(6)],
                                  "latestReplayId": 6}),
        httpx.Response(200, json={"channel": "/data/OpportunityChangeEvent", "events": [ev(7)],
                                  "latestReplayId": 7}),
    ])
    async with client(fake_sleep) as sf:
        events = [e async for e in sf.change_events("/data/OpportunityChangeEvent", replay_id=4, batch_size=2)]
    assert [e["replayId"] for e in events] == [5, 6, 7]
    assert [c.request.url.params["replayId"] for c in route.calls] == ["4", "6"]
