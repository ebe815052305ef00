"""PSA (Kantata OX v1 style) client against respx mocks of the documented shapes (vendor-apis.md section 3)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from q2c_harness.connectors.errors import (
    AuthError,
    BusinessError,
    ContractError,
    RecordNotFoundError,
    TransientError,
)
from q2c_harness.connectors.http import BearerToken, RetryPolicy
from q2c_harness.connectors.psa import PsaClient, sign_webhook, unpack, verify_webhook_signature

BASE = "https://api.mavenlink.com/api/v1"


def envelope(key: str, records: list[dict], *, total: int | None = None, page: int = 1, per_page: int = 200,
             **side: dict) -> dict:
    total = len(records) if total is None else total
    body = {"count": total, "results": [{"key": key, "id": r["id"]} for r in records],
            key: {r["id"]: r for r in records},
            "meta": {"count": total, "page_count": (total + per_page - 1) // per_page, "page_number": page,
                     "page_size": per_page}}
    body.update(side)
    return body


def psa_error(type_: str, message: str, field: str | None = None) -> dict:
    err = {"type": type_, "message": message}
    if field:
        err["field"] = field
    return {"errors": [err]}


@pytest.fixture
def mock():
    with respx.mock(base_url=BASE, assert_all_called=False) as m:
        yield m


def client(fake_sleep, **kw) -> PsaClient:
    kw.setdefault("token", "tok-1")
    kw.setdefault("retry", RetryPolicy(max_attempts=3, seed=5))
    return PsaClient(BASE, sleep=fake_sleep, **kw)


def test_unpack_keeps_results_order_and_side_loads():
    body = {"count": 2, "results": [{"key": "workspaces", "id": "9"}, {"key": "workspaces", "id": "3"}],
            "workspaces": {"3": {"id": "3", "title": "B"}, "9": {"id": "9", "title": "A", "story_ids": ["5"]}},
            "stories": {"5": {"id": "5", "title": "Design"}},
            "meta": {"count": 2, "page_count": 1, "page_number": 1, "page_size": 20}}
    page = unpack(body)
    assert [r["title"] for r in page.records] == ["A", "B"]
    assert page.related("stories", "5") == {"id": "5", "title": "Design"}
    assert page.count == 2 and page.meta["page_count"] == 1


def test_unpack_missing_record_is_contract_error():
    with pytest.raises(ContractError):
        unpack({"count": 1, "results": [{"key": "workspaces", "id": "1"}], "workspaces": {}})
    with pytest.raises(ContractError):
        unpack({"workspaces": {}})


async def test_list_follows_pages_with_include_and_filters(mock, fake_sleep):
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        ids = [str(i) for i in range((page - 1) * 2 + 1, min(page * 2, 5) + 1)]
        return httpx.Response(200, json=envelope("time_entries", [{"id": i, "workspace_id": "7"} for i in ids],
                                                 total=5, page=page, per_page=2,
                                                 workspaces={"7": {"id": "7", "title": "W"}}))

    route = mock.get("/time_entries.json").mock(side_effect=handler)
    async with client(fake_sleep) as psa:
        ids = [r["id"] async for r in psa.list("time_entries", filters={"workspace_id": 7, "approval_state":
                                                                       "approved"},
                                               include=["workspace"], per_page=2)]
    assert ids == ["1", "2", "3", "4", "5"]
    params = route.calls[0].request.url.params
    assert (params["include"], params["workspace_id"], params["approval_state"], params["per_page"]) == (
        "workspace", "7", "approved", "2")
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2", "3"]
    assert all(c.request.headers["Authorization"] == "Bearer tok-1" for c in route.calls)


async def test_create_wraps_in_singular_and_unpacks(mock, fake_sleep):
    route = mock.post("/workspaces.json").mock(return_value=httpx.Response(
        201, json=envelope("workspaces", [{"id": "11", "title": "Acme rollout", "price_in_cents": 1250000}])))
    async with client(fake_sleep) as psa:
        ws = await psa.create("workspaces", {"title": "Acme rollout", "price_in_cents": 1250000})
    assert ws["id"] == "11"
    assert json.loads(route.calls.last.request.content) == {
        "workspace": {"title": "Acme rollout", "price_in_cents": 1250000}}


@pytest.mark.parametrize("status,body,cls,code", [
    (422, psa_error("validation", "title can't be blank", "title"), BusinessError, "validation"),
    (400, psa_error("argument", "order: 'x' is not one of id", "order"), BusinessError, "argument"),
    (401, psa_error("authentication", "Invalid or missing bearer token"), AuthError, "authentication"),
    (404, psa_error("not_found", "workspace 5 not found"), RecordNotFoundError, "not_found"),
    (409, psa_error("conflict", "timesheet submission 3 is already approved"), BusinessError, "conflict"),
    (429, psa_error("rate_limit", "Too many requests"), TransientError, "rate_limit"),
    (503, psa_error("system", "Service unavailable"), TransientError, "system"),
])
async def test_error_taxonomy(mock, fake_sleep, status, body, cls, code):
    mock.get("/workspaces/5.json").mock(return_value=httpx.Response(status, json=body))
    async with client(fake_sleep, retry=RetryPolicy(max_attempts=1)) as psa:
        with pytest.raises(cls) as info:
            await psa.get("workspaces", 5)
    assert (info.value.system, info.value.code, info.value.status) == ("psa", code, status)
    assert body["errors"][0]["message"] in info.value.message


async def test_429_without_headers_retried_with_backoff(mock, fake_sleep):
    route = mock.get("/workspaces/5.json").mock(side_effect=[
        httpx.Response(429, json=psa_error("rate_limit", "Too many requests")),
        httpx.Response(200, json=envelope("workspaces", [{"id": "5"}]))])
    async with client(fake_sleep) as psa:
        assert (await psa.get("workspaces", 5))["id"] == "5"
    assert route.call_count == 2 and len(fake_sleep.calls) == 1


async def test_401_with_token_provider_refreshes_once(mock, fake_sleep):
    tokens = iter(["old", "new"])
    route = mock.get("/workspaces/5.json").mock(side_effect=[
        httpx.Response(401, json=psa_error("authentication", "expired")),
        httpx.Response(200, json=envelope("workspaces", [{"id": "5"}]))])
    async with client(fake_sleep, token=BearerToken(provider=lambda: next(tokens))) as psa:
        await psa.get("workspaces", 5)
    assert [c.request.headers["Authorization"] for c in route.calls] == ["Bearer old", "Bearer new"]


async def test_upsert_by_reference_creates_then_updates(mock, fake_sleep):
    refs = mock.get("/external_references.json").mock(side_effect=[
        httpx.Response(200, json=envelope("external_references", [])),
        httpx.Response(200, json=envelope("external_references", [{
            "id": "1", "subject_type": "Workspace", "subject_id": "11", "service_name": "q2c",
            "service_model": "Engagement", "service_model_ref": "ENG-1"}])),
    ])
    create_ref = mock.post("/external_references.json").mock(return_value=httpx.Response(
        201, json=envelope("external_references", [{"id": "1"}])))
    mock.post("/workspaces.json").mock(return_value=httpx.Response(
        201, json=envelope("workspaces", [{"id": "11", "title": "A"}])))
    update = mock.put("/workspaces/11.json").mock(return_value=httpx.Response(
        200, json=envelope("workspaces", [{"id": "11", "title": "A2"}])))
    async with client(fake_sleep) as psa:
        ws, created = await psa.upsert_by_reference("workspaces", {"title": "A"}, service_name="q2c",
                                                    service_model="Engagement", service_model_ref="ENG-1")
        ws2, created2 = await psa.upsert_by_reference("workspaces", {"title": "A2"}, service_name="q2c",
                                                      service_model="Engagement", service_model_ref="ENG-1")
    assert (created, created2, ws2["title"]) == (True, False, "A2")
    assert json.loads(create_ref.calls.last.request.content) == {"external_reference": {
        "subject_type": "Workspace", "subject_id": 11, "service_name": "q2c", "service_model": "Engagement",
        "service_model_ref": "ENG-1"}}
    assert refs.calls[0].request.url.params["service_model_ref"] == "ENG-1"
    assert update.call_count == 1


async def test_events_feed_dedupes_reorders_and_advances_cursor(mock, fake_sleep):
    def ev(i: int) -> dict:
        return {"id": str(i), "event_type": "time_entry:created", "subject_type": "TimeEntry", "subject_id": str(i),
                "created_at": f"2026-01-01T00:00:0{i}.000000+00:00", "previous_payload": None,
                "current_payload": {"id": str(i)}, "payload_changes": {}}

    def page(events: list[dict], total: int) -> dict:
        return {"count": total, "results": [{"key": "subscribed_events", "id": e["id"]} for e in events],
                "subscribed_events": {e["id"]: e for e in events},
                "meta": {"count": total, "page_count": 2, "page_number": 1, "page_size": 3}}

    route = mock.get("/subscribed_events.json").mock(side_effect=[
        httpx.Response(200, json=page([ev(2), ev(1), ev(2), ev(3)], total=5)),  # duplicated and reordered
        httpx.Response(200, json=page([ev(5), ev(4)], total=2)),
    ])
    async with client(fake_sleep) as psa:
        ids = [e["id"] async for e in psa.events(created_after="2026-01-01T00:00:00+00:00", per_page=3)]
    assert ids == ["1", "2", "3", "4", "5"]
    first, second = (c.request.url.params for c in route.calls)
    assert first["created_after"] == "2026-01-01T00:00:00+00:00" and "since_id" not in first
    assert second["since_id"] == "3"


def test_webhook_signature_helper():
    body = b'{"id":"7","event_type":"invoice:created"}'
    headers = {"X-PSA-Timestamp": "1700000000", "X-PSA-Signature": sign_webhook("s3cret", "1700000000", body)}
    assert verify_webhook_signature("s3cret", body, headers, now=1700000010)
    assert not verify_webhook_signature("other", body, headers, now=1700000010)
    assert not verify_webhook_signature("s3cret", body + b" ", headers, now=1700000010)
    assert not verify_webhook_signature("s3cret", body, headers, now=1700009999)  # replayed too late
    assert verify_webhook_signature("s3cret", body, headers, tolerance_seconds=None)
    assert not verify_webhook_signature("s3cret", body, {"X-PSA-Timestamp": "1700000000"})
