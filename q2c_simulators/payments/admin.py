"""Payments admin endpoints under `/__admin/payments`: API keys, and the webhook deliveries and their schedule.

`POST /__admin/payments/keys {"account": "acme"}` answers a secret key `sk_test_...` for that account (the tenant).
Deliveries are attempted by the simulator on its own; `POST .../webhooks/deliver` attempts what is due now (for a
test that turned `auto_deliver` off, or right after advancing the virtual clock).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from q2c_simulators.kernel.admin import current_simulator

from .auth import ACCOUNT

Account = Annotated[str, Field(pattern=ACCOUNT.pattern)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class KeyIn(_Strict):
    account: Account = "default"


class DeliverIn(_Strict):
    account: Account | None = None


class WebhookConfigIn(_Strict):
    retry_schedule_seconds: list[Annotated[float, Field(gt=0, le=7 * 86400, strict=False)]] | None = Field(
        default=None, max_length=20, description="virtual seconds before each retry; its length is the retry count")
    timeout_seconds: float | None = Field(default=None, gt=0, le=120, strict=False)
    auto_deliver: bool | None = None


Sim = Annotated[Any, Depends(current_simulator)]  # the PaymentsSimulator
router = APIRouter(prefix="/payments", tags=["payments"])


@router.post("/keys", status_code=201)
def create_key(sim: Sim, body: KeyIn | None = None) -> dict[str, Any]:
    """A secret API key for an account (the tenant)."""
    account = (body or KeyIn()).account
    sim.tenants.get(account)
    return {"account": account, "secret_key": sim.keys.mint(account)}


@router.get("/webhooks/deliveries")
def deliveries(account: Annotated[str, Query(pattern=ACCOUNT.pattern)], sim: Sim,
               status: Literal["pending", "in_flight", "delivered", "failed"] | None = None) -> dict[str, Any]:
    rows = sim.tenants.get(account).store.records("webhook_deliveries")
    rows.sort(key=lambda d: (d["event_seq"], d["id"]))
    return {"deliveries": [d for d in rows if status is None or d["status"] == status]}


@router.post("/webhooks/deliver")
async def deliver(sim: Sim, body: DeliverIn | None = None) -> dict[str, int]:
    """Attempt every delivery due now on the virtual clock."""
    return {"attempts": await sim.webhooks.deliver_due((body or DeliverIn()).account)}


@router.put("/webhooks/config")
def configure(body: WebhookConfigIn, sim: Sim) -> dict[str, Any]:
    if body.retry_schedule_seconds is not None:
        sim.webhooks.retry_schedule = tuple(body.retry_schedule_seconds)
    if body.timeout_seconds is not None:
        sim.webhooks.timeout = body.timeout_seconds
    if body.auto_deliver is not None:
        sim.webhooks.auto = body.auto_deliver
        if not body.auto_deliver:
            sim.webhooks.stop()
    return {"retry_schedule_seconds": list(sim.webhooks.retry_schedule), "timeout_seconds": sim.webhooks.timeout,
            "auto_deliver": sim.webhooks.auto}
