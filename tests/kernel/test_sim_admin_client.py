"""The typed admin client drives a simulator the same way in-process (async) and over a real socket (sync)."""

from __future__ import annotations

import httpx
import pytest

from q2c_harness.harness.sim_admin import AsyncSimAdmin, SimAdmin, VerificationFailed
from q2c_simulators.kernel.serving import running_servers

from .toy import ToySimulator


async def test_async_client_in_process(sim, client):
    admin = AsyncSimAdmin(client)
    await admin.set_clock("2026-11-30T23:00:00Z", freeze=True)
    await admin.add_fault({"kind": "error", "status": 503, "first_n": 1})
    assert (await client.post("/api/items", json={"sku": "A"}, headers={"Authorization": "Bearer T"})).status_code == 503
    assert (await client.post("/api/items", json={"sku": "A"}, headers={"Authorization": "Bearer T"})).status_code == 201
    result = await admin.verify(method="POST", path="/api/items", tenant="T", status=201, count=1)
    assert result.count == 1
    with pytest.raises(VerificationFailed, match="expected exactly 2 matching requests, found 1"):
        await admin.verify(method="POST", path="/api/items", status=201, count=2)
    assert (await admin.advance_clock(3600)).now.isoformat() == "2026-12-01T00:00:00+00:00"
    snap = await admin.snapshot()
    await admin.reset()
    assert await admin.tenants() == []
    assert [t["id"] for t in await admin.restore(snapshot=snap)] == ["T"]


def test_sync_client_over_a_real_server():
    sim = ToySimulator(seed=3)
    with running_servers({"toy": sim}, http=True) as endpoints:
        with httpx.Client(base_url=endpoints.base_urls["toy"]) as http:
            admin = SimAdmin(http)
            admin.set_quota({"name": "burst", "kind": "token_bucket", "limit": 1, "rate_per_second": 0.001})
            assert http.get("/api/items", headers={"Authorization": "Bearer T"}).status_code == 200
            assert http.get("/api/items", headers={"Authorization": "Bearer T"}).status_code == 429
            assert admin.count(status=429) == 1
            assert "sim_quota_rejections_total" in admin.metrics()
            with pytest.raises(httpx.HTTPStatusError, match="422"):
                admin.add_fault({"kind": "latency", "ms": -1})
