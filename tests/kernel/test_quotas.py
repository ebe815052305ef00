"""Every quota kind with exact outcomes: counted on the virtual clock, rejected in the vendor's own shape."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from .conftest import as_tenant

T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
async def frozen(client):
    await client.post("/__admin/clock", json={"set": T0.isoformat(), "freeze": True})
    await client.post("/__admin/quotas/reset")
    return client


async def put_quota(client, **spec):
    r = await client.put("/__admin/quotas", json=spec)
    assert r.status_code == 200, r.text


async def get(client, tenant="t1", path="/api/items"):
    return await client.get(path, headers=as_tenant(tenant))


async def test_fixed_window_rejects_past_the_limit_with_retry_after_until_the_next_window(frozen):
    await put_quota(frozen, name="per-minute", kind="fixed_window", limit=3, window_seconds=60)
    await frozen.post("/__admin/clock", json={"advance_seconds": 15})
    assert [(await get(frozen)).status_code for _ in range(3)] == [200, 200, 200]
    r = await get(frozen)
    assert r.status_code == 429
    assert r.json() == {"error": {"code": "RATE_LIMITED", "message": "per-minute exceeded"}}
    assert r.headers["Retry-After"] == "45"
    await frozen.post("/__admin/clock", json={"advance_seconds": 45})
    assert (await get(frozen)).status_code == 200


async def test_rolling_window_frees_capacity_as_old_requests_age_out(frozen):
    await put_quota(frozen, name="daily", kind="rolling_window", limit=4, window_seconds=86400)
    for _ in range(2):
        assert (await get(frozen)).status_code == 200
    await frozen.post("/__admin/clock", json={"advance_seconds": 6 * 3600})
    for _ in range(2):
        assert (await get(frozen)).status_code == 200
    r = await get(frozen)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == str(18 * 3600)  # when the first two leave the trailing 24 hours
    await frozen.post("/__admin/clock", json={"advance_seconds": 18 * 3600})
    assert [(await get(frozen)).status_code for _ in range(3)] == [200, 200, 429]
    quota = next(q for q in (await frozen.get("/__admin/quotas?tenant=t1")).json()["quotas"] if q["name"] == "daily")
    assert (quota["used"], quota["remaining"]) == (4, 0)


async def test_token_bucket_allows_a_burst_then_refills_at_its_rate(frozen):
    await put_quota(frozen, name="bucket", kind="token_bucket", limit=5, rate_per_second=2)
    assert [(await get(frozen)).status_code for _ in range(6)] == [200] * 5 + [429]
    await frozen.post("/__admin/clock", json={"advance_seconds": 1})
    assert [(await get(frozen)).status_code for _ in range(3)] == [200, 200, 429]


async def test_concurrency_quota_limits_requests_in_flight(sim, frozen):
    await put_quota(frozen, name="concurrent", kind="concurrency", limit=2)
    sim.faults.add(__import__("tests.kernel.test_faults", fromlist=["_rule"])._rule(
        {"kind": "latency", "ms": 200}))
    results = await asyncio.gather(*(get(frozen) for _ in range(5)))
    assert sorted(r.status_code for r in results) == [200, 200, 429, 429, 429]
    assert [(await get(frozen)).status_code for _ in range(2)] == [200, 200]  # slots released after completion


async def test_tenant_scope_counts_each_tenant_apart_and_global_scope_does_not(frozen):
    await put_quota(frozen, name="per-tenant", kind="fixed_window", limit=1, window_seconds=60)
    assert (await get(frozen, "a")).status_code == 200
    assert (await get(frozen, "b")).status_code == 200
    assert (await get(frozen, "a")).status_code == 429
    await put_quota(frozen, name="per-tenant", kind="fixed_window", limit=1, window_seconds=60, scope="global",
                    path="/api/items/*")
    assert (await get(frozen, "a", "/api/items/1")).status_code == 404
    assert (await get(frozen, "b", "/api/items/1")).status_code == 429


async def test_quota_rejections_are_counted_in_metrics_and_the_journal(frozen):
    await put_quota(frozen, name="tiny", kind="fixed_window", limit=1, window_seconds=60)
    await get(frozen)
    await get(frozen)
    metrics = (await frozen.get("/__admin/metrics")).text
    assert 'sim_quota_rejections_total{quota="tiny",simulator="toy"} 1.0' in metrics
    rows = (await frozen.get("/__admin/requests?status=429")).json()["requests"]
    assert [r["quota"] for r in rows] == ["tiny"]


async def test_a_tenant_limit_overrides_the_default_for_that_tenant_only(frozen):
    await put_quota(frozen, name="concurrent-ish", kind="fixed_window", limit=1, window_seconds=60,
                    tenant_limits={"big": 3})
    assert [(await get(frozen, "big")).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [(await get(frozen, "small")).status_code for _ in range(2)] == [200, 429]
    quota = next(q for q in (await frozen.get("/__admin/quotas?tenant=big")).json()["quotas"]
                 if q["name"] == "concurrent-ish")
    assert (quota["used"], quota["remaining"]) == (3, 0)


async def test_a_path_with_a_newline_still_gets_the_vendor_error_shape(client):
    r = await client.get("/api/items/%0A", headers={"Authorization": "Bearer t"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = await client.get("/nowhere%0D%0A")
    assert r.status_code == 404 and r.json()["error"]["code"] == "E404"
