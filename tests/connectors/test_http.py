"""The shared HTTP layer: retries, Retry-After, breaker, budget, correlation ids, call log."""

from __future__ import annotations

import asyncio
import email.utils

import random

import httpx

from q2c_harness import correlation
import pytest
import respx

from q2c_harness.connectors.errors import (
    AuthError,
    BusinessError,
    CircuitOpenError,
    ContractError,
    RecordNotFoundError,
    TransientError,
)
from q2c_harness.connectors.http import (
    BreakerPolicy,
    RetryPolicy,
    UsagePolicy,
    VendorAccount,
    VendorClient,
    parse_retry_after,
)

BASE = "https://api.vendor.test"


class PlainClient(VendorClient):
    system = "test"


def make(fake_sleep, calls=None, **kw) -> PlainClient:
    kw.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=8, max_total_delay=30, seed=7))
    return PlainClient(BASE, sleep=fake_sleep, call_log=calls, **kw)


@pytest.fixture
def mock():
    with respx.mock(base_url=BASE, assert_all_called=False) as m:
        yield m


async def test_429_then_success_honours_retry_after(mock, fake_sleep, calls):
    route = mock.get("/things/1").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={"id": "1"}),
    ])
    async with make(fake_sleep, calls) as c:
        body = await c.request_json("GET", "/things/1", operation="thing.get")
    assert body == {"id": "1"}
    assert route.call_count == 2
    assert fake_sleep.calls == [3.0]
    assert [(r.attempt, r.status, r.retry_in) for r in calls.records] == [(1, 429, 3.0), (2, 200, None)]


def test_retry_after_http_date():
    now = 1_700_000_000.0
    value = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after(value, now=lambda: now) == pytest.approx(42)
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_503_retried_with_seeded_full_jitter(mock, fake_sleep):
    mock.get("/x").mock(side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200, json={})])
    async with make(fake_sleep) as c:
        await c.request("GET", "/x", operation="x")
    policy, rng = RetryPolicy(base_delay=0.5, max_delay=8, seed=7), random.Random(7)
    assert fake_sleep.calls == [policy.backoff(1, rng), policy.backoff(2, rng)]
    assert 0 <= fake_sleep.calls[0] <= 0.5 and 0 <= fake_sleep.calls[1] <= 1.0


async def test_timeout_retried_then_surfaces_as_transient(mock, fake_sleep, calls):
    route = mock.get("/slow").mock(side_effect=httpx.ReadTimeout("read timed out"))
    async with make(fake_sleep, calls) as c:
        with pytest.raises(TransientError) as info:
            await c.request("GET", "/slow", operation="slow")
    assert info.value.code == "TIMEOUT" and info.value.system == "test"
    assert route.call_count == 4
    assert len(fake_sleep.calls) == 3
    assert calls.records[-1].retry_in is None and calls.records[-1].error_class == "TransientError"


async def test_connection_reset_is_transient(mock, fake_sleep):
    mock.get("/r").mock(side_effect=[httpx.RemoteProtocolError("peer closed"), httpx.Response(200)])
    async with make(fake_sleep) as c:
        assert (await c.request("GET", "/r", operation="r")).status_code == 200


async def test_non_idempotent_post_not_retried_after_ambiguous_failure(mock, fake_sleep):
    route = mock.post("/create").mock(side_effect=httpx.ReadTimeout("t"))
    async with make(fake_sleep) as c:
        with pytest.raises(TransientError):
            await c.request("POST", "/create", operation="create", json={"a": 1})
    assert route.call_count == 1  # may have been applied: the flow reconciles by idempotency key


async def test_non_idempotent_post_retried_when_vendor_rejected_it(mock, fake_sleep):
    route = mock.post("/create").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "1"}), httpx.ConnectError("refused"), httpx.Response(201),
    ])
    async with make(fake_sleep) as c:
        await c.request("POST", "/create", operation="create", json={"a": 1})
    assert route.call_count == 3


async def test_retry_after_beyond_total_budget_surfaces_with_retry_after(mock, fake_sleep):
    mock.get("/x").mock(return_value=httpx.Response(429, headers={"Retry-After": "600"}))
    async with make(fake_sleep) as c:
        with pytest.raises(TransientError) as info:
            await c.request("GET", "/x", operation="x")
    assert info.value.retry_after == 600 and fake_sleep.calls == []


async def test_business_error_is_not_retried(mock, fake_sleep):
    route = mock.get("/missing").mock(return_value=httpx.Response(404, text="nope"))
    async with make(fake_sleep) as c:
        with pytest.raises(RecordNotFoundError):
            await c.request("GET", "/missing", operation="m")
    assert route.call_count == 1


@pytest.mark.parametrize("status,cls", [
    (400, BusinessError), (401, AuthError), (403, AuthError), (404, RecordNotFoundError), (422, BusinessError),
    (429, TransientError), (500, BusinessError), (502, TransientError), (503, TransientError), (504, TransientError),
])
async def test_generic_status_mapping(mock, fake_sleep, status, cls):
    mock.get("/s").mock(return_value=httpx.Response(status))
    async with make(fake_sleep, retry=RetryPolicy(max_attempts=1)) as c:
        with pytest.raises(cls) as info:
            await c.request("GET", "/s", operation="s")
    assert info.value.status == status


async def test_500_with_retry_after_is_transient(mock, fake_sleep):
    mock.get("/s").mock(side_effect=[httpx.Response(500, headers={"Retry-After": "1"}), httpx.Response(200)])
    async with make(fake_sleep) as c:
        await c.request("GET", "/s", operation="s")
    assert fake_sleep.calls == [1.0]


async def test_unparsable_json_is_contract_error(mock, fake_sleep):
    mock.get("/j").mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
    async with make(fake_sleep) as c:
        with pytest.raises(ContractError):
            await c.request_json("GET", "/j", operation="j")


async def test_correlation_id_on_every_call_and_retry(mock, fake_sleep, calls):
    route = mock.get("/c").mock(side_effect=[httpx.Response(503), httpx.Response(200), httpx.Response(200)])
    async with make(fake_sleep, calls) as c:
        with correlation.use("corr-123"):
            await c.request("GET", "/c", operation="c")
        await c.request("GET", "/c", operation="c", correlation_id="explicit-9")
    ids = [call.request.headers[correlation.HEADER] for call in route.calls]
    assert ids == ["corr-123", "corr-123", "explicit-9"]
    assert [r.correlation_id for r in calls.records] == ids


async def test_generated_correlation_id_is_stable_across_retries(mock, fake_sleep):
    route = mock.get("/c").mock(side_effect=[httpx.Response(503), httpx.Response(200)])
    async with make(fake_sleep) as c:
        await c.request("GET", "/c", operation="c")
    a, b = (call.request.headers[correlation.HEADER] for call in route.calls)
    assert a == b and a.startswith("c-") and len(a) == 34  # correlation.new_correlation_id()


async def test_call_log_carries_idempotency_key_and_operation(mock, fake_sleep, calls):
    mock.put("/p").mock(return_value=httpx.Response(204))
    async with make(fake_sleep, calls) as c:
        await c.request("PUT", "/p", operation="p.put", idempotency_key="k-1", json={})
    (rec,) = calls.records
    assert (rec.system, rec.operation, rec.method, rec.status, rec.idempotency_key) == ("test", "p.put", "PUT", 204,
                                                                                         "k-1")
    assert rec.url == f"{BASE}/p" and rec.duration >= 0


async def test_breaker_opens_after_threshold_and_half_opens_after_cooldown(mock, fake_sleep, fake_clock):
    acct = VendorAccount("test", "acct", breaker=BreakerPolicy(failure_threshold=3, cooldown=30), clock=fake_clock)
    route = mock.get("/b").mock(return_value=httpx.Response(503))
    async with make(fake_sleep, vendor_account=acct, retry=RetryPolicy(max_attempts=1)) as c:
        for _ in range(3):
            with pytest.raises(TransientError):
                await c.request("GET", "/b", operation="b")
        assert acct.breaker("GET b").state == "open"
        with pytest.raises(CircuitOpenError) as info:
            await c.request("GET", "/b", operation="b")
        assert info.value.retry_after == pytest.approx(30)
        assert route.call_count == 3  # not called while open
        # another endpoint of the same account is unaffected
        mock.get("/other").mock(return_value=httpx.Response(200))
        await c.request("GET", "/other", operation="other")
        fake_clock.advance(30)
        assert acct.breaker("GET b").state == "half_open"
        route.mock(return_value=httpx.Response(200))
        await c.request("GET", "/b", operation="b")  # the probe
        assert acct.breaker("GET b").state == "closed"


async def test_half_open_probe_failure_reopens(mock, fake_sleep, fake_clock):
    acct = VendorAccount("test", "acct", breaker=BreakerPolicy(failure_threshold=1, cooldown=10), clock=fake_clock)
    mock.get("/b").mock(return_value=httpx.Response(503))
    async with make(fake_sleep, vendor_account=acct, retry=RetryPolicy(max_attempts=1)) as c:
        with pytest.raises(TransientError):
            await c.request("GET", "/b", operation="b")
        fake_clock.advance(10)
        with pytest.raises(TransientError) as info:
            await c.request("GET", "/b", operation="b")
        assert not isinstance(info.value, CircuitOpenError)
        assert acct.breaker("GET b").state == "open"


async def test_business_errors_do_not_open_the_breaker(mock, fake_sleep, fake_clock):
    acct = VendorAccount("test", "acct", breaker=BreakerPolicy(failure_threshold=2), clock=fake_clock)
    mock.get("/v").mock(return_value=httpx.Response(400))
    async with make(fake_sleep, vendor_account=acct) as c:
        for _ in range(5):
            with pytest.raises(BusinessError):
                await c.request("GET", "/v", operation="v")
    assert acct.breaker("GET v").state == "closed"


async def test_throttling_does_not_open_the_breaker(mock, fake_sleep, fake_clock):
    """A 429 is a healthy vendor asking us to slow down: Retry-After paces us, the breaker stays closed."""
    acct = VendorAccount("test", "acct", breaker=BreakerPolicy(failure_threshold=2), clock=fake_clock)
    mock.get("/t").mock(return_value=httpx.Response(429, headers={"Retry-After": "1"}))
    async with make(fake_sleep, vendor_account=acct, retry=RetryPolicy(max_attempts=1)) as c:
        for _ in range(5):
            with pytest.raises(TransientError):
                await c.request("GET", "/t", operation="t")
    assert acct.breaker("GET t").state == "closed"


async def test_concurrency_budget_shared_by_clients_of_one_account(mock, fake_sleep):
    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return httpx.Response(200, json={})

    mock.get("/slow").mock(side_effect=slow)
    a = PlainClient(BASE, account_id="acct-1", concurrency=3, sleep=fake_sleep)
    b = PlainClient(BASE, account_id="acct-1", sleep=fake_sleep)  # joins the same account's budget
    assert a.account is b.account
    try:
        await asyncio.gather(*(c.request("GET", "/slow", operation="slow") for c in [a, b] * 8))
    finally:
        await a.aclose()
        await b.aclose()
    assert peak == 3 and a.account.max_in_flight == 3


async def test_usage_guard_slows_then_stops(mock, fake_sleep):
    acct = VendorAccount("test", "acct", usage=UsagePolicy(slow_ratio=0.8, stop_ratio=0.9, slow_delay=2.0))
    route = mock.get("/u").mock(return_value=httpx.Response(200))
    async with make(fake_sleep, vendor_account=acct) as c:
        acct.observe_usage(85, 100)
        await c.request("GET", "/u", operation="u")
        assert fake_sleep.calls == [pytest.approx(1.0)]
        acct.observe_usage(90, 100)
        with pytest.raises(TransientError) as info:
            await c.request("GET", "/u", operation="u")
    assert info.value.code == "API_USAGE_GUARD" and route.call_count == 1


async def test_in_process_asgi_transport_works():
    async def app(scope, receive, send):
        assert scope["type"] == "http"
        headers = dict(scope["headers"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body",
                    "body": b'{"cid": "' + headers[b"x-correlation-id"] + b'"}'})

    async with PlainClient("https://sim.local", transport=httpx.ASGITransport(app)) as c:
        body = await c.request_json("GET", "/anything", operation="a", correlation_id="abc")
    assert body == {"cid": "abc"}
