"""The PSA simulator (Kantata OX / Mavenlink API v1): kernel glue, tokens, admin endpoints.

Tenancy: one tenant per Kantata account. A bearer token names its account (and optionally a user); `X-Sim-Tenant`
still wins for the tenant, as on every simulator. Tokens are minted at `POST /__admin/psa/tokens`; they are
stateless HMACs, so they survive reset, snapshot and restore (a token for a user that no longer exists acts as that
user id and fails validation where the user matters).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.responses import Response

from q2c_simulators.kernel import QuotaSpec, Simulator

from . import events as ev
from .exceptions import error_response
from .models import PsaBackend
from .routes import build_app

ACCOUNT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_TOKEN_KEY = b"q2c-psa-simulator-token-v1"


def _token_sig(account: str, user: str) -> str:
    return hmac.new(_TOKEN_KEY, f"{account}~{user}".encode(), hashlib.sha256).hexdigest()[:32]


def mint_token(account: str, user_id: str | None = None) -> str:
    """A bearer token for `account` (acting as `user_id`, or as the account itself when None)."""
    user = user_id or "0"
    return f"psa~{account}~{user}~{_token_sig(account, user)}"


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


class PsaSimulator(Simulator):
    name = "psa"
    title = "PSA (Kantata OX API v1)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._principals: dict[str, tuple[str, str | None] | None] = {}
        super().__init__(*args, **kwargs)
        self.webhooks = ev.WebhookDispatcher(self)

    # ---- kernel hooks ----------------------------------------------------------------------------------------------
    def build_routes(self) -> FastAPI:
        return build_app(self)

    def new_backend(self, tenant_id: str) -> PsaBackend:
        return PsaBackend(tenant_id, self.clock)

    def default_quotas(self) -> list[QuotaSpec]:
        # Kantata's numbers are not public (vendor-apis.md sections 3 and 4); this bucket is a stand-in: bursts of
        # 600 requests per account, refilled at 50 per second. Change it with PUT /__admin/quotas.
        return [QuotaSpec(name="account_requests", kind="token_bucket", limit=600, rate_per_second=50,
                          path="/api/*", description="per-account request budget (Kantata's limits are not public)")]

    def principal(self, authorization: str | None) -> tuple[str, str | None] | None:
        """(account, user id or None) for a valid `Bearer` header value, else None."""
        if not authorization:
            return None
        cached = self._principals.get(authorization)
        if cached is not None or authorization in self._principals:
            return cached
        result = None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            parts = token.strip().split("~")
            if len(parts) == 4 and parts[0] == "psa" and hmac.compare_digest(parts[3], _token_sig(parts[1], parts[2])):
                result = (parts[1], None if parts[2] == "0" else parts[2])
        if len(self._principals) > 10_000:
            self._principals.clear()
        self._principals[authorization] = result
        return result

    def tenant_of(self, headers: Headers, path: str) -> str | None:
        explicit = headers.get("x-sim-tenant")
        if explicit:
            return explicit
        found = self.principal(headers.get("authorization"))
        return found[0] if found else "default"

    def error_response(self, status: int, code: str | None, message: str | None, retry_after: float | None = None) -> Response:
        # Retry-After only when a fault rule asks for one explicitly; Kantata's own 429 carries no limit headers.
        headers = {"Retry-After": str(max(0, round(retry_after)))} if retry_after is not None else None
        return error_response(status, message or "error", code.lower() if code else None, headers=headers)

    def quota_response(self, quota: QuotaSpec, retry_after: float | None, tenant: str | None) -> Response:
        return error_response(429, "Rate limit exceeded; slow down and retry", "rate_limit")

    def reset(self) -> None:
        super().reset()
        self.webhooks.transports.clear()

    # ---- admin --------------------------------------------------------------------------------------------------
    def extend_admin(self, admin: FastAPI) -> None:
        from .actors import ACTIONS, run_action

        @admin.post("/psa/tokens", response_model=TokenView, status_code=201, tags=["psa"])
        def create_token(body: TokenRequest) -> TokenView:
            """A bearer token for an account, acting as one of its users (user_id) or as the account."""
            return TokenView(access_token=mint_token(body.account, body.user_id), account=body.account,
                             user_id=body.user_id)

        @admin.post("/psa/webhooks", status_code=201, tags=["psa"])
        def create_webhook(body: WebhookCreate) -> dict[str, Any]:
            """Subscribe a URL to the account's events; the response carries the signing secret."""
            return self.webhooks.subscribe(body.account, body.url, event_types=body.event_types, secret=body.secret)

        @admin.get("/psa/webhooks", tags=["psa"])
        def list_webhooks(account: Annotated[str, Query(pattern=ACCOUNT_PATTERN)]) -> dict[str, Any]:
            store = self.tenants.get(account).store
            return {"subscriptions": store.records("webhook_subscriptions")}

        @admin.delete("/psa/webhooks/{account}/{sub_id}", status_code=204, tags=["psa"],
                      responses={404: {"description": "no such subscription"}})
        def delete_webhook(account: Annotated[str, Path(pattern=ACCOUNT_PATTERN)],
                           sub_id: Annotated[str, Path(pattern=r"^[0-9]{1,18}$")]) -> Response:
            if not self.webhooks.unsubscribe(account, sub_id):
                raise HTTPException(404, f"no webhook subscription {sub_id} in {account}")
            return Response(status_code=204)

        @admin.get("/psa/webhooks/deliveries", tags=["psa"])
        def list_deliveries(account: Annotated[str, Query(pattern=ACCOUNT_PATTERN)],
                            status: Literal["pending", "in_flight", "delivered", "failed"] | None = None) -> dict[str, Any]:
            rows = self.tenants.get(account).store.records("webhook_deliveries")
            return {"deliveries": [d for d in rows if status is None or d["status"] == status]}

        @admin.post("/psa/webhooks/pump", tags=["psa"])
        async def pump_webhooks(body: PumpRequest) -> dict[str, int]:
            """Attempt every delivery due now on the virtual clock (advance the clock to reach retries)."""
            return {"attempts": await self.webhooks.pump(body.account)}

        @admin.post("/psa/webhooks/autopump", tags=["psa"])
        async def autopump(body: AutopumpRequest) -> dict[str, Any]:
            """Pump deliveries in the background every `interval_seconds` of real time (null stops it)."""
            if body.interval_seconds is None:
                self.webhooks.stop_autopump()
            else:
                self.webhooks.start_autopump(body.interval_seconds)
            return {"interval_seconds": body.interval_seconds}

        @admin.post("/psa/actors/{action}", tags=["psa"], responses={404: {"description": "no such action"}})
        async def act(action: Annotated[str, Path(max_length=64)], body: ActorRequest) -> dict[str, Any]:
            """Run a delivery-team action through the public API (so quotas, faults and the journal apply), `repeat`
            times. Actions: see `simulators.psa.actors.ACTIONS`. Each result is the API's status and body."""
            if action not in ACTIONS:
                raise HTTPException(404, f"no actor action {action!r}; try one of {', '.join(sorted(ACTIONS))}")
            results = [await run_action(self, body.account, body.user_id, action, body.params)
                       for _ in range(body.repeat)]
            return {"action": action, "results": results}
