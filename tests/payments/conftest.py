from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone

import httpx
import pytest

from q2c_simulators.payments import PaymentsSimulator

ACCOUNT = "acme"
_SHARED: list[PaymentsSimulator] = []


def fresh_sim(seed: int = 7) -> PaymentsSimulator:
    """No state, the clock frozen at 2026-11-30 12:00 UTC, webhooks delivered only when a test asks."""
    if not _SHARED:
        _SHARED.append(PaymentsSimulator(seed=seed))
    sim = _SHARED[0]
    sim.reset()
    sim.faults.seed = seed
    sim.webhooks.auto = False
    sim.webhooks.stop()
    sim.webhooks.retry_schedule = (3600.0, 7200.0, 14400.0)
    sim.clock.set(datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc), freeze=True)
    return sim


@pytest.fixture
def sim() -> PaymentsSimulator:
    return fresh_sim()


def client_for(sim: PaymentsSimulator, account: str = ACCOUNT) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://payments.sim",
                             headers={"Authorization": f"Bearer {sim.keys.mint(account)}"})


@pytest.fixture
async def api(sim: PaymentsSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sim) as c:
        yield c
