"""The request journal: query, count, verify with near misses, unmatched routes, bounded memory."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

from .conftest import as_tenant
from .toy import ToySimulator


async def test_verify_exactly_one_post_for_a_tenant_and_explain_a_miss(client):
    await client.post("/api/items", json={"sku": "A"}, headers=as_tenant("T"))
    await client.post("/api/items", json={"sku": "B"}, headers=as_tenant("U"))
    ok = (await client.post("/__admin/requests/verify",
                            json={"method": "POST", "path": "/api/items", "tenant": "T", "count": 1})).json()
    assert ok["ok"] is True and ok["count"] == 1
    miss = (await client.post("/__admin/requests/verify",
                              json={"method": "POST", "path": "/api/item", "count": 1})).json()
    assert miss["ok"] is False and miss["count"] == 0
    assert miss["near_misses"] == ["POST /api/items"]
    body = (await client.post("/__admin/requests/count", json={"body_contains": '"sku": "B"'})).json()
    assert body["count"] == 1


async def test_an_unmatched_request_gets_the_vendor_404_and_a_near_miss_hint(client):
    r = await client.get("/api/itemz/9", headers=as_tenant("T"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "E404"
    assert r.headers["X-Sim-Near-Miss"].startswith("GET /api/items/{rid}")
    rows = (await client.get("/__admin/requests/unmatched")).json()["requests"]
    assert rows[0]["path"] == "/api/itemz/9" and rows[0]["near_misses"][0] == "GET /api/items/{rid}"


async def test_journal_stays_bounded_after_100000_requests():
    sim = ToySimulator(journal_capacity=1000)
    scope = {"type": "http", "method": "GET", "path": "/api/items/1", "raw_path": b"/api/items/1",
             "query_string": b"", "headers": [(b"authorization", b"Bearer t")], "root_path": "",
             "scheme": "https", "server": ("toy.sim", 443), "http_version": "1.1", "client": ("127.0.0.1", 1)}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    async def burst(n):
        for _ in range(n):
            await sim.asgi(dict(scope), receive, send)

    await burst(20_000)
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    await burst(80_000)
    gc.collect()
    grown, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sim.journal.total == 100_000
    assert len(sim.journal) == 1000
    assert sim.journal.evicted == 99_000
    assert grown - base < 512 * 1024, f"journal memory grew by {grown - base} bytes over 80,000 requests"


async def test_journal_capacity_is_configurable(client):
    for _ in range(5):
        await client.get("/api/items", headers=as_tenant("T"))
    r = await client.put("/__admin/requests/config", json={"capacity": 2})
    assert r.json()["capacity"] == 2
    listed = (await client.get("/__admin/requests")).json()
    assert len(listed["requests"]) == 2 and listed["total"] == 5 and listed["evicted"] == 3
