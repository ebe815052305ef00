"""PSA admin endpoints under /__admin/psa: bearer tokens, webhook subscriptions and deliveries, and the
delivery-team actors (actions through the public API)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from q2c_simulators.kernel.admin import current_simulator

from .actors import ACTIONS, run_action
from .auth import mint_token

ACCOUNT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
Sim = Annotated[Any, Depends(current_simulator)]  # the PsaSimulator
router = APIRouter(prefix="/psa", tags=["psa"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TokenRequest(_Strict):
    account: str = Field(pattern=ACCOUNT_PATTERN)
    user_id: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,17}$")


class TokenView(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    account: str
    user_id: str | None


class WebhookCreate(_Strict):
    account: str = Field(pattern=ACCOUNT_PATTERN)
    url: str = Field(pattern=r"^https?://", max_length=2000)
    event_types: list[Annotated[str, Field(pattern=r"^[a-z_]{1,64}:([a-z_]{1,64}|\*)$")]] | None = Field(default=None, max_length=100)
    secret: str | None = Field(default=None, min_length=8, max_length=200)


class PumpRequest(_Strict):
    account: str | None = Field(default=None, pattern=ACCOUNT_PATTERN)


class AutopumpRequest(_Strict):
    interval_seconds: float | None = Field(default=None, gt=0, le=3600, description="null stops the pumper")


class ActorRequest(_Strict):
    account: str = Field(pattern=ACCOUNT_PATTERN)
    user_id: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,17}$", description="who acts (token user)")
    params: dict[str, Any] = Field(default_factory=dict)
    repeat: int = Field(default=1, ge=1, le=10_000)


@router.post("/tokens", response_model=TokenView, status_code=201)
def create_token(body: TokenRequest) -> TokenView:
    """A bearer token for an account, acting as one of its users (user_id) or as the account."""
    return TokenView(access_token=mint_token(body.account, body.user_id), account=body.account, user_id=body.user_id)


@router.post("/webhooks", status_code=201)
def create_webhook(body: WebhookCreate, sim: Sim) -> dict[str, Any]:
    """Subscribe a URL to the account's events; the response carries the signing secret."""
    return sim.webhooks.subscribe(body.account, body.url, event_types=body.event_types, secret=body.secret)


@router.get("/webhooks")
def list_webhooks(account: Annotated[str, Query(pattern=ACCOUNT_PATTERN)], sim: Sim) -> dict[str, Any]:
    return {"subscriptions": sim.tenants.get(account).store.records("webhook_subscriptions")}


@router.delete("/webhooks/{account}/{sub_id}", status_code=204, responses={404: {"description": "no such subscription"}})
def delete_webhook(account: Annotated[str, Path(pattern=ACCOUNT_PATTERN)],
                   sub_id: Annotated[str, Path(pattern=r"^[0-9]{1,18}$")], sim: Sim) -> Response:
    if not sim.webhooks.unsubscribe(account, sub_id):
        raise HTTPException(404, f"no webhook subscription {sub_id} in {account}")
    return Response(status_code=204)


@router.get("/webhooks/deliveries")
def list_deliveries(account: Annotated[str, Query(pattern=ACCOUNT_PATTERN)], sim: Sim,
                    status: Literal["pending", "in_flight", "delivered", "failed"] | None = None) -> dict[str, Any]:
    rows = sim.tenants.get(account).store.records("webhook_deliveries")
    return {"deliveries": [d for d in rows if status is None or d["status"] == status]}


@router.post("/webhooks/pump")
async def pump_webhooks(body: PumpRequest, sim: Sim) -> dict[str, int]:
    """Attempt every delivery due now on the virtual clock (advance the clock to reach retries)."""
    return {"attempts": await sim.webhooks.pump(body.account)}


@router.post("/webhooks/autopump")
async def autopump(body: AutopumpRequest, sim: Sim) -> dict[str, Any]:
    """Pump deliveries in the background every `interval_seconds` of real time (null stops it)."""
    if body.interval_seconds is None:
        sim.webhooks.stop_autopump()
    else:
        sim.webhooks.start_autopump(body.interval_seconds)
    return {"interval_seconds": body.interval_seconds}


@router.post("/actors/{action}", responses={404: {"description": "no such action"}})
async def act(action: Annotated[str, Path(max_length=64)], body: ActorRequest, sim: Sim) -> dict[str, Any]:
    """Run a delivery-team action through the public API (so quotas, faults and the journal apply), `repeat`
    times. Actions: see `q2c_simulators.psa.actors.ACTIONS`. Each result is the API's status and body."""
    if action not in ACTIONS:
        raise HTTPException(404, f"no actor action {action!r}; try one of {', '.join(sorted(ACTIONS))}")
    results = [await run_action(sim, body.account, body.user_id, action, body.params) for _ in range(body.repeat)]
    return {"action": action, "results": results}
