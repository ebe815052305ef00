"""The PSA simulator (Kantata OX / Mavenlink API v1): kernel hooks (tenant = the token's account, authentication,
error shape, the request budget).

Rooms: urls.py (the table), responses.py (the operations and the envelope), params.py (request models and query
parameters), schema.py (the resource declarations and a record's wire form), models.py (an account's records and
rules), events.py (the subscribed-event feed and webhooks), auth.py (bearer tokens), actors.py (delivery-team
actors over the public API), admin.py (/__admin/psa), exceptions.py (Kantata's error body).

Tenancy: one tenant per Kantata account. A bearer token names its account (and optionally a user); `X-Sim-Tenant`
still wins for the tenant, as on every simulator.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from q2c_simulators.kernel import QuotaSpec, Simulator
from q2c_simulators.kernel.http import header_value

from . import events as ev
from .admin import router
from .auth import Principal, mint_token, principal_of, unauthorized
from .exceptions import PsaError, error_response
from .models import PsaBackend
from .responses import PsaResponses
from .urls import URLS


class PsaSimulator(Simulator):
    name = "psa"
    title = "PSA (Kantata OX API v1)"
    urls = URLS
    responses = PsaResponses
    admin_router = router
    api_title = "PSA simulator (Kantata OX API v1)"
    api_version = "1.0.0"
    api_description = ("Kantata OX / Mavenlink API v1 as a simulator: side-loaded envelope, `.json` paths optional, "
                       "bearer tokens minted at POST /__admin/psa/tokens. See docs/psa.md.")
    security_schemes = {"bearerAuth": {"type": "http", "scheme": "bearer",
                                       "description": "token from POST /__admin/psa/tokens"}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.webhooks = ev.WebhookDispatcher(self)

    # ---- kernel hooks ----------------------------------------------------------------------------------------------
    def new_backend(self, tenant_id: str) -> PsaBackend:
        return PsaBackend(tenant_id, self.clock)

    def default_quotas(self) -> list[QuotaSpec]:
        # Kantata's numbers are not public (vendor-apis.md sections 3 and 4); this bucket is a stand-in: bursts of
        # 600 requests per account, refilled at 50 per second. Change it with PUT /__admin/quotas.
        return [QuotaSpec(name="account_requests", kind="token_bucket", limit=600, rate_per_second=50,
                          path="/api/*", description="per-account request budget (Kantata's limits are not public)")]

    def tenant_of(self, headers: Headers, path: str) -> str | None:
        explicit = headers.get("x-sim-tenant")
        if explicit:
            return explicit
        found = principal_of(headers.get("authorization"))
        return found.account if found else "default"

    async def authenticate(self, request: Request, operation: str) -> Principal:
        """A valid bearer token of the request's account (a token of another account, with `X-Sim-Tenant` naming
        this one, does not act here), or Kantata's 401 with WWW-Authenticate."""
        principal = principal_of(header_value(request.scope, b"authorization"))
        if principal is None or principal.account != request.scope["state"]["tenant"]:
            raise unauthorized()
        return principal

    def error_response(self, status: int, code: str | None, message: str | None, retry_after: float | None = None) -> Response:
        # Retry-After only when a fault rule asks for one explicitly; Kantata's own 429 carries no limit headers.
        headers = {"Retry-After": str(max(0, round(retry_after)))} if retry_after is not None else None
        return error_response(status, message or "error", code.lower() if code else None, headers=headers)

    def validation_response(self, request: Request, exc: RequestValidationError) -> Response:
        """A bad query parameter or unparsable JSON: 400 `argument`; a body that breaks its model: 422
        `validation`; a path id that names no record (/workspaces/0.json): Kantata's 404."""
        errors = []
        status = 422
        for e in exc.errors():
            loc = [str(part) for part in e.get("loc", ())]
            where = loc[0] if loc else "body"
            if where == "path":
                return error_response(404, "The requested resource does not exist")
            field = ".".join(loc[2:] if where == "body" and len(loc) > 2 else loc[1:]) or None
            if where != "body" or e.get("type") == "json_invalid":
                status = 400
            errors.append({"type": "argument" if where != "body" or e.get("type") == "json_invalid" else "validation",
                           "message": f"{field or where}: {e.get('msg')}", "field": field})
        if status == 400:
            errors = [e for e in errors if e["type"] == "argument"]
        return PsaError("invalid request", status=status, errors=errors).response()

    def quota_response(self, quota: QuotaSpec, retry_after: float | None, tenant: str | None) -> Response:
        return error_response(429, "Rate limit exceeded; slow down and retry", "rate_limit")

    def openapi_document(self, doc: dict[str, Any]) -> dict[str, Any]:
        """`{fmt}` (the optional `.json` suffix) is documented as `.json`, the form Kantata documents."""
        doc["paths"] = {path.replace("{fmt}", ".json"): item for path, item in doc["paths"].items()}
        return doc

    def reset(self) -> None:
        super().reset()
        self.webhooks.transports.clear()


__all__ = ["PsaSimulator", "mint_token"]
