"""The payments simulator (Stripe API, stateful): kernel glue. Tenant = the account an API key belongs to.

stripe-python passes `verify=stripe.ca_bundle_path` itself, so `REQUESTS_CA_BUNDLE` is ignored: point
`stripe.ca_bundle_path` at the simulator's CA bundle (reference tax-and-payments.md "surprises").
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from q2c_simulators.kernel import QuotaSpec, Simulator

from . import openapi
from .admin import router
from .auth import KeyRing, key_of, redact
from .events import WebhookDispatcher
from .exceptions import authentication, error_for_status, invalid, rate_limited
from .models import PaymentsBackend
from .responses import PaymentsResponses
from .urls import URLS

QUOTA = "requests"
_UNRECOGNIZED = "Unrecognized request URL. Please see https://stripe.com/docs or we can help at https://support.stripe.com/."


class PaymentsSimulator(Simulator):
    name = "payments"
    title = "Payment gateway (Stripe API)"
    urls = URLS
    responses = PaymentsResponses
    admin_router = router
    api_version = "2026-10-28.endive"
    api_description = "The Stripe API as stripe-python calls it (see docs/payments.md)"
    security_schemes = {"bearer": {"type": "http", "scheme": "bearer",
                                   "description": "sk_test_ key from the admin API"}}

    def __init__(self, **options: Any) -> None:
        self.keys = KeyRing()
        self._request_ids = itertools.count(1)
        super().__init__(**options)
        self.webhooks = WebhookDispatcher(self)

    # ---- kernel hooks --------------------------------------------------------------------------------------------
    def new_backend(self, tenant_id: str) -> PaymentsBackend:
        backend = PaymentsBackend(tenant_id, self.clock)
        backend.on_event = lambda: self.webhooks.wake()
        return backend

    def default_quotas(self) -> list[QuotaSpec]:
        # Stripe: 25 operations per second in sandboxes (100 live) (docs.stripe.com/rate-limits).
        return [QuotaSpec(name=QUOTA, kind="token_bucket", limit=25, rate_per_second=25, path="/v1/*",
                          description="Stripe sandbox rate limit: 25 requests per second per account")]

    def tenant_of(self, headers: Headers, path: str) -> str | None:
        explicit = headers.get("x-sim-tenant")
        if explicit:
            return explicit
        return self.keys.account_of(key_of(headers.get("authorization"))) or "default"

    def error_response(self, status: int, code: str | None, message: str | None,
                       retry_after: float | None = None) -> Response:
        if status == 404 and code is None:
            message = _UNRECOGNIZED
        response = error_for_status(status, code.lower() if code else None, message).response()
        response.headers["Request-Id"] = self.request_id()
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(0, round(retry_after)))
        return response

    def quota_response(self, quota: QuotaSpec, retry_after: float | None, tenant: str | None) -> Response:
        response = rate_limited(retry_after).response()
        response.headers["Request-Id"] = self.request_id()
        return response

    async def authenticate(self, request: Request, operation: str) -> str:
        """The account of the request's API key, when it is the request's tenant; else Stripe's 401."""
        key = key_of(request.headers.get("authorization"))
        if key is None:
            raise authentication("You did not provide an API key. You need to provide your API key in the "
                                 "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                                 "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details.",
                                 headers={"Request-Id": self.request_id()})
        account = self.keys.account_of(key)
        if account is None or account != request.scope["state"]["tenant"]:
            raise authentication(f"Invalid API Key provided: {redact(key)}",
                                 headers={"Request-Id": self.request_id()})
        return account

    def validation_response(self, request: Request, exc: RequestValidationError) -> Response:
        response = invalid("Invalid request").response()
        response.headers["Request-Id"] = self.request_id()
        return response

    def openapi_document(self, doc: dict[str, Any]) -> dict[str, Any]:
        doc["components"].setdefault("schemas", {}).update(openapi.SCHEMAS)
        return doc

    def reset(self) -> None:
        super().reset()
        self.webhooks.transports.clear()

    def request_id(self) -> str:
        """Stripe's `Request-Id` of a response: counted per simulator, so the same requests give the same ids."""
        return f"req_Q2c{next(self._request_ids):014d}"

    # ---- secrets -------------------------------------------------------------------------------------------------
    def webhook_secret(self, account: str) -> str:
        return "whsec_" + secrets.token_hex(24)
