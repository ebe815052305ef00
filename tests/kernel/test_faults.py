"""Every fault kind, with exact outcomes, through the kernel pipeline."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime, timedelta, timezone
from statistics import NormalDist

import httpx
import pytest

from q2c_simulators.kernel import ConnectionReset
from q2c_simulators.kernel.faults import _unit
from q2c_simulators.kernel.serving import running_servers

from .conftest import as_tenant
from .toy import ToySimulator


async def add_fault(client, **rule):
    r = await client.post("/__admin/faults", json=rule)
    assert r.status_code == 201, r.text
    return r.json()


async def statuses(client, n, path="/api/items", tenant="t1"):
    return [(await client.get(path, headers=as_tenant(tenant))).status_code for _ in range(n)]


async def test_error_fault_uses_the_vendor_error_shape_and_retry_after(client):
    await add_fault(client, kind="error", status=503, code="MAINTENANCE", message="down for maintenance",
                    retry_after_seconds=30, path="/api/items")
    r = await client.get("/api/items", headers=as_tenant("t1"))
    assert r.status_code == 503
    assert r.json() == {"error": {"code": "MAINTENANCE", "message": "down for maintenance"}}
    assert r.headers["Retry-After"] == "30"
    # another path is untouched
    assert (await client.get("/api/items/1", headers=as_tenant("t1"))).status_code == 404


async def test_fail_first_n_then_succeed(client):
    await add_fault(client, kind="error", status=500, first_n=3, method="GET")
    assert await statuses(client, 5) == [500, 500, 500, 200, 200]


async def test_rule_expires_after_max_hits(client):
    await add_fault(client, kind="error", status=502, max_hits=2)
    assert await statuses(client, 4) == [502, 502, 200, 200]
    faults = (await client.get("/__admin/faults")).json()["faults"]
    assert faults == []  # an expired rule is no longer listed


async def test_rule_expires_after_its_time_to_live_on_the_virtual_clock(client):
    await add_fault(client, kind="error", status=503, ttl_seconds=600)
    assert await statuses(client, 1) == [503]
    await client.post("/__admin/clock", json={"advance_seconds": 601})
    assert await statuses(client, 1) == [200]


async def test_probability_is_seeded_and_per_tenant(sim, client):
    await add_fault(client, id="flaky", kind="error", status=500, probability=0.3)
    got = await statuses(client, 200)
    expected = [500 if _unit(7, "flaky", "t1", n, "p") < 0.3 else 200 for n in range(200)]
    assert got == expected
    assert 40 <= got.count(500) <= 80
    # another tenant's traffic draws from its own sequence, so t1's dice are unchanged by it
    await statuses(client, 50, tenant="t2")
    sim.faults.rules()[0].matched_by_tenant["t1"] = 0
    assert await statuses(client, 200) == expected


async def test_outage_window_on_the_virtual_clock(client):
    start = datetime(2026, 11, 30, 23, 55, tzinfo=timezone.utc)
    await client.post("/__admin/clock", json={"set": start.isoformat(), "freeze": True})
    await add_fault(client, kind="error", status=503, window_start=(start + timedelta(minutes=5)).isoformat(),
                    window_seconds=600)
    assert await statuses(client, 1) == [200]
    await client.post("/__admin/clock", json={"advance_seconds": 300})
    assert await statuses(client, 2) == [503, 503]
    await client.post("/__admin/clock", json={"advance_seconds": 600})
    assert await statuses(client, 1) == [200]


@pytest.mark.parametrize(
    "rule, expected_ms",
    [
        ({"distribution": "fixed", "ms": 120}, lambda u: 120),
        ({"distribution": "uniform", "ms": 50, "spread_ms": 100}, lambda u: 50 + 100 * u),
        ({"distribution": "lognormal", "median_ms": 80, "sigma": 0.4},
         lambda u: 80 * math.exp(0.4 * NormalDist().inv_cdf(u))),
    ],
)
async def test_latency_distributions_are_exact_for_the_seed(sim, client, rule, expected_ms):
    """The delay each request gets is the seeded draw exactly (the fault plan), and the server does wait it. Only the
    lower bound is timed: an upper bound on wall time fails on a loaded machine without saying anything about us."""
    await add_fault(client, id="slow", kind="latency", **rule)
    for n in range(3):
        want = expected_ms(_unit(7, "slow", "t1", n, "v"))
        assert sim.faults.plan("t1", "GET", "/api/items", None).delay * 1000 == pytest.approx(want)
    for n in range(3, 5):
        started = time.perf_counter()
        assert (await client.get("/api/items", headers=as_tenant("t1"))).status_code == 200
        assert (time.perf_counter() - started) * 1000 >= expected_ms(_unit(7, "slow", "t1", n, "v")) - 1


async def test_latency_combines_with_an_error(client):
    await add_fault(client, kind="latency", ms=100)
    await add_fault(client, kind="error", status=429)
    started = time.perf_counter()
    r = await client.get("/api/items", headers=as_tenant("t1"))
    assert r.status_code == 429 and time.perf_counter() - started >= 0.1


async def test_reset_in_process_raises_connection_reset(client):
    await add_fault(client, kind="reset", first_n=1)
    with pytest.raises(ConnectionReset):
        await client.get("/api/items", headers=as_tenant("t1"))
    assert await statuses(client, 1) == [200]


def test_reset_hang_and_dribble_over_real_sockets(tmp_path):
    sim = ToySimulator(seed=1)
    with running_servers({"toy": sim}, http=True) as endpoints:
        base = endpoints.base_urls["toy"]
        with httpx.Client(base_url=base, headers=as_tenant("t1")) as c:
            sim.faults.add(_rule({"kind": "reset", "first_n": 1}))
            with pytest.raises(httpx.TransportError):
                c.get("/api/items")
            assert c.get("/api/items").status_code == 200
            sim.faults.clear()

            sim.faults.add(_rule({"kind": "hang", "max_seconds": 30, "first_n": 1}))
            started = time.perf_counter()
            with pytest.raises(httpx.ReadTimeout):
                c.get("/api/items", timeout=0.5)
            assert time.perf_counter() - started < 5
            sim.faults.clear()

            sim.faults.add(_rule({"kind": "dribble", "chunk_bytes": 100, "interval_ms": 150, "path": "/api/slow"}))
            chunks = []
            started = time.perf_counter()
            with c.stream("GET", "/api/slow") as r:
                for chunk in r.iter_raw():
                    chunks.append(len(chunk))
            assert sum(chunks) == 300
            assert time.perf_counter() - started >= 0.3  # 3 chunks, 2 pauses of 150 ms


def _rule(data):
    from q2c_simulators.kernel.faults import fault_rule_adapter

    return fault_rule_adapter.validate_python(data)


async def test_event_faults_duplicate_and_reorder_are_seeded(sim):
    from q2c_simulators.kernel.faults import DuplicateFault

    sim.faults.add(DuplicateFault(kind="duplicate", id="dup", probability=0.5, operation="events"))
    first = [len(sim.faults.event_rules("t1", "events", "duplicate")) for _ in range(50)]
    sim.faults.rules()[0].matched_by_tenant.clear()
    second = [len(sim.faults.event_rules("t1", "events", "duplicate")) for _ in range(50)]
    assert first == second and 10 < sum(first) < 40
    assert sim.faults.event_rules("t1", "other-stream", "duplicate") == []


async def test_same_seed_same_requests_give_an_identical_journal():
    async def run() -> list[tuple]:
        sim = ToySimulator(seed=42)
        sim.faults.add(_rule({"id": "p", "kind": "error", "status": 503, "probability": 0.25}))
        sim.faults.add(_rule({"id": "l", "kind": "latency", "distribution": "uniform", "ms": 0, "spread_ms": 2}))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://toy.sim") as c:
            for i in range(60):
                await c.post("/api/items", json={"sku": f"S{i}"}, headers=as_tenant("t1"))
        return [(e.seq, e.method, e.path, e.status, e.fault, e.body) for e in sim.journal.query(_query())]

    assert await run() == await run()


def _query():
    from q2c_simulators.kernel import JournalQuery

    return JournalQuery()
