from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import httpx
import pytest

from q2c_simulators.tax import TaxSimulator

_SHARED: list[TaxSimulator] = []


def fresh_sim(seed: int = 7) -> TaxSimulator:
    """A simulator with no state and the clock frozen at 2026-11-30 12:00 UTC (one instance, reset per test)."""
    if not _SHARED:
        _SHARED.append(TaxSimulator(seed=seed))
    sim = _SHARED[0]
    sim.reset()
    sim.clock.set(datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc), freeze=True)
    return sim


@pytest.fixture
def sim() -> TaxSimulator:
    return fresh_sim()


def basic(account: int | str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{account}:{key}".encode()).decode()


@pytest.fixture
async def account(sim: TaxSimulator) -> dict:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://tax.sim") as admin:
        r = await admin.post("/__admin/tax/accounts", json={"account_id": 2000000001, "license_key": "ABCDEF0123456789"})
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture
async def api(sim: TaxSimulator, account: dict) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://tax.sim",
                                 headers={"Authorization": basic(account["account_id"], account["license_key"])}) as c:
        yield c


def invoice(code: str | None = "INV-1", *, commit: bool = False, type_: str = "SalesInvoice", lines=None,
            **addresses) -> dict:
    body = {"type": type_, "companyCode": "DEFAULT", "date": "2026-11-30", "customerCode": "CUST-1", "commit": commit,
            "addresses": addresses or {"singleLocation": {"line1": "100 Congress Ave", "city": "Austin", "region": "TX",
                                                          "country": "US", "postalCode": "78701"}},
            "lines": lines or [{"number": "1", "amount": 1000, "taxCode": "P0000000", "quantity": 1}]}
    if code is not None:
        body["code"] = code
    return body
