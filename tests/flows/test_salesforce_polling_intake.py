"""The polling intake against the Salesforce simulator: 10,000 opportunities closed in bursts that straddle the
poll windows' minute edges (some polls land inside a burst, every record is touched again inside the overlap), read
through `GET /sobjects/Opportunity/updated/` + SOQL: every opportunity reaches the inbox once, none twice, though the
poller saw many of them more than once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import httpx
import pytest

from q2c_harness.connectors.salesforce import SalesforceClient
from q2c_harness.connectors.salesforce_polling import SalesforcePoller
from q2c_harness.engine import Engine
from q2c_harness.flows import quote_to_project
from q2c_harness.flows.intake import Intake
from q2c_simulators.salesforce import SalesforceSimulator

N, BURSTS = 10_000, 20
T0 = datetime(2026, 3, 31, 22, 0, tzinfo=timezone.utc)


@pytest.mark.slow
async def test_ten_thousand_closed_won_in_bursts_lose_and_duplicate_nothing(tmp_path):
    sim = SalesforceSimulator(seed=11)
    transport = httpx.ASGITransport(sim.asgi)
    now = T0

    async with httpx.AsyncClient(transport=transport, base_url="https://salesforce.sim") as admin:
        async def at(t: datetime) -> None:
            nonlocal now
            now = t
            r = await admin.post("/__admin/clock", json={"set": t.isoformat(), "freeze": True})
            assert r.status_code == 200, r.text

        await at(T0)
        token = (await admin.post("/__admin/salesforce/tokens", json={"tenant": "acme",
                                                                       "lifetime_seconds": 86_400})).json()
        sf = SalesforceClient("https://salesforce.sim", auth=token["access_token"], transport=transport)
        ids: list[str] = []
        for i in range(0, N, 200):
            results = await sf.create_many("Opportunity", [
                {"Name": f"Deal {n:05d}", "StageName": "Prospecting", "CloseDate": "2026-03-31"}
                for n in range(i, min(i + 200, N))], all_or_none=True)
            ids += [r.id for r in results]
        assert len(set(ids)) == N

        engine = Engine(f"sqlite:///{tmp_path / 'inbox.sqlite'}")
        runs: Counter[str] = Counter()
        engine.workflow(quote_to_project.WORKFLOW)(lambda m: runs.update([m["payload"]["opportunity_id"]]))
        intake = Intake(SimpleNamespace(engine=engine))
        poller = SalesforcePoller(sf, intake.polled_fields(), overlap_seconds=120, first_start=T0,
                                  now=lambda: now)
        mark = None
        observed: Counter[str] = Counter()

        async def poll() -> None:
            nonlocal mark
            result = await poller.poll("Opportunity", mark)
            mark = result.high_water
            for change in result.changes:
                observed[change.id] += 1
                intake.route_record(change)

        async def close(batch: list[str], stage: str = "Closed Won") -> None:
            for j in range(0, len(batch), 200):
                await sf.update_many("Opportunity", [{"Id": rid, "StageName": stage} for rid in batch[j:j + 200]],
                                     all_or_none=True)

        await at(T0 + timedelta(minutes=1))
        await poll()
        size = N // BURSTS
        for b in range(BURSTS):
            burst = ids[b * size:(b + 1) * size]
            edge = T0 + timedelta(minutes=2 + 3 * b)                 # a minute boundary
            await at(edge - timedelta(milliseconds=400))
            await close(burst[: size // 2])                          # just before the edge
            if b % 2:
                await poll()                                         # a poll inside the burst
            await at(edge + timedelta(milliseconds=300))
            await close(burst[size // 2:])                           # just after it
            await at(edge + timedelta(seconds=50 + b % 7))
            await poll()
            if b % 3 == 0:                                           # an unrelated edit later: seen again
                await sf.update_many("Opportunity", [{"Id": rid, "NextStep": "Kick-off"} for rid in burst[:100]])
        await at(T0 + timedelta(minutes=2 + 3 * BURSTS + 10))
        await poll()
        await poll()
        await sf.aclose()

    keys = [e.event_id for e in engine.inbox.list(limit=100_000)]
    assert len(keys) == N and set(keys) == {f"opportunity-closed-won:{rid}" for rid in ids}   # none lost
    assert set(runs) == set(ids) and max(runs.values()) == 1                                  # none twice
    assert sum(observed.values()) > N and max(observed.values()) > 1   # the overlap did re-read: dedupe was needed
    engine.shutdown()
