from __future__ import annotations

import httpx
import pytest

from .toy import ToySimulator


@pytest.fixture
def sim(tmp_path) -> ToySimulator:
    return ToySimulator(seed=7, snapshot_dir=tmp_path / "snapshots")


@pytest.fixture
async def client(sim):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://toy.sim") as c:
        yield c


def as_tenant(tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant}"}
