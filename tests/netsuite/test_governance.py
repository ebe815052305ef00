"""Governance: the account concurrency limit is exact, tiers, governanceLimits, maintenance and upgrade windows."""

from __future__ import annotations

import asyncio
import time

import httpx

from .conftest import ACCOUNT, REST, bearer_for, problem


def _in_flight_probe(sim):
    """Wrap the simulator's ASGI app: track requests that got past governance (not answered 429) and overlap."""
    state = {"now": 0, "max": 0, "intervals": []}
    inner = sim.asgi

    async def app(scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/__admin"):
            return await inner(scope, receive, send)
        start = time.perf_counter()
        status = {}

        async def capture(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await inner(scope, receive, capture)
        state["intervals"].append((start, time.perf_counter(), status.get("code")))

    return app, state


def _max_overlap(intervals) -> int:
    events = sorted([(s, 1) for s, _, _ in intervals] + [(e, -1) for _, e, _ in intervals], key=lambda x: (x[0], x[1]))
    now = best = 0
    for _, delta in events:
        now += delta
        best = max(best, now)
    return best


async def test_concurrency_limit_is_exact(sim, admin):
    token = await bearer_for(admin)
    r = await admin.post("/faults", json={"kind": "latency", "ms": 400, "operation": "get_record", "id": "slow"})
    assert r.status_code == 201
    app, state = _in_flight_probe(sim)
    samples = []

    async def sample():
        while True:
            samples.append(sim.quotas.usage("concurrency", ACCOUNT)[0])
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=f"https://netsuite.sim{REST}",
                                 headers={"Authorization": f"Bearer {token}"}) as c:
        responses = await asyncio.gather(*(c.get("/record/v1/subsidiary/1") for _ in range(12)))
    sampler.cancel()
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 5 and codes.count(429) == 7, codes
    admitted = [i for i in state["intervals"] if i[2] == 200]
    assert _max_overlap(admitted) == 5 and max(samples) == 5
    rejected = next(r for r in responses if r.status_code == 429)
    d = problem(rejected)
    assert d["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED" and "retry-after" not in rejected.headers
    # slots are given back: the account is usable again and nothing is left in flight
    assert sim.quotas.usage("concurrency", ACCOUNT)[0] == 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url=f"https://netsuite.sim{REST}",
                                 headers={"Authorization": f"Bearer {token}"}) as c:
        assert (await c.get("/record/v1/subsidiary/1")).status_code == 200


async def test_tier_raises_one_account_only(sim, admin, client):
    r = await admin.put(f"/netsuite/accounts/{ACCOUNT}/concurrency", json={"tier": "tier1", "suitecloud_plus_licenses": 1})
    assert r.json()["concurrency_limit"] == 25
    limits = (await client.get("/system/v1/governanceLimits")).json()
    assert limits["accountConcurrencyLimit"] == 25
    await admin.post("/faults", json={"kind": "latency", "ms": 200, "operation": "get_record"})
    other = await bearer_for(admin, "777_OTHER")
    mine = {"Authorization": client.headers["authorization"]}
    theirs = {"Authorization": f"Bearer {other}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url=f"https://netsuite.sim{REST}") as c:
        rs = await asyncio.gather(*(c.get("/record/v1/subsidiary/1", headers=mine) for _ in range(8)),
                                  *(c.get("/record/v1/subsidiary/1", headers=theirs) for _ in range(8)))
    assert [r.status_code for r in rs[:8]].count(200) == 8
    assert [r.status_code for r in rs[8:]].count(200) == 5


async def test_maintenance_and_upgrade_windows_follow_the_virtual_clock(sim, admin, client):
    await admin.post("/clock", json={"set": "2026-03-01T08:00:00Z", "freeze": True})
    r = await admin.post(f"/netsuite/accounts/{ACCOUNT}/windows", json={
        "kind": "upgrade", "start": "2026-03-01T09:00:00Z", "end": "2026-03-01T10:00:00Z", "to_release": "2026.2"})
    assert r.status_code == 201
    assert (await client.get("/record/v1/subsidiary/1")).status_code == 200
    await admin.post("/clock", json={"advance_seconds": 3600 + 60})
    r = await client.get("/record/v1/subsidiary/1")
    assert r.status_code == 503 and problem(r)["o:errorCode"] == "SERVICE_UNAVAILABLE"
    assert r.headers["retry-after"] == str(59 * 60)
    await admin.post("/clock", json={"advance_seconds": 3600})
    schema = (await client.get("/record/v1/metadata-catalog/invoice")).json()
    assert "amountDue" in schema["properties"] and "amountRemaining" not in schema["properties"]
    assert (await admin.get(f"/netsuite/accounts/{ACCOUNT}")).json()["effective_release"] == "2026.2"
