from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone

import httpx
import pytest

from q2c_simulators.psa import PsaSimulator, mint_token

ACCOUNT = "acme"


_SHARED: list[PsaSimulator] = []


def fresh_sim(seed: int = 7) -> PsaSimulator:
    """A simulator with no state, the clock frozen at 2024-03-01 09:00 UTC. Building the routes takes about a
    second, so tests share one instance and reset it (tenants, journal, faults, quotas, clock, webhooks)."""
    if not _SHARED:
        _SHARED.append(PsaSimulator(seed=seed))
    s = _SHARED[0]
    s.reset()
    s.faults.seed = seed
    s.clock.set(datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc), freeze=True)
    return s


@pytest.fixture
def sim() -> PsaSimulator:
    return fresh_sim()


def client_for(sim: PsaSimulator, user_id: str | None = None, account: str = ACCOUNT) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://psa.sim",
                             headers={"Authorization": f"Bearer {mint_token(account, user_id)}"})


@pytest.fixture
async def api(sim: PsaSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """The account's integration token (no user)."""
    async with client_for(sim) as c:
        yield c


def record(body: dict) -> dict:
    ref = body["results"][0]
    return body[ref["key"]][ref["id"]]


async def create(api: httpx.AsyncClient, key: str, singular: str, **attrs) -> dict:
    r = await api.post(f"/api/v1/{key}.json", json={singular: attrs})
    assert r.status_code == 201, r.text
    return record(r.json())
