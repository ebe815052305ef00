"""The payments simulator (Stripe API, stateful): kernel glue. Tenant = the account an API key belongs to.

stripe-python passes `verify=stripe.ca_bundle_path` itself, so `REQUESTS_CA_BUNDLE` is ignored: point
`stripe.ca_bundle_path` at the simulator's CA bundle (reference tax-and-payments.md "surprises").
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from q2c_simulators.kernel import QuotaSpec, Simulator

from . import openapi as doc
from .auth import KeyRing, key_of
from .events import WebhookDispatcher
from .exceptions import StripeError, error_for_status, invalid, rate_limited
from .models import PaymentsBackend
from .responses import PaymentsResponses, request_id
from .urls import URLS

QUOTA = "requests"
_UNRECOGNIZED = "Unrecognized request URL. Please see https://stripe.com/docs or we can help at https://support.stripe.com/."


class PaymentsSimulator(Simulator):
    name = "payments"
    title = "Payment gateway (Stripe API)"

    def __init__(self, **options: Any) -> None:
        self.keys = KeyRing()
        super().__init__(**options)
        self.webhooks = WebhookDispatcher(self)

    # ---- kernel hooks --------------------------------------------------------------------------------------------
    def build_routes(self) -> FastAPI:
        app = FastAPI(title=self.title, version="2026-10-28.endive", openapi_url="/openapi.json", docs_url=None,
                      redoc_url=None, description="The Stripe API as stripe-python calls it (see docs/payments.md)")
        responses = PaymentsResponses(self)
        for method, path, operation in URLS:
            app.add_api_route(path, getattr(responses, operation), methods=[method], name=operation,
                              openapi_extra=doc.operation(method, operation), response_class=Response)

        async def vendor_error(request: Request, exc: StripeError) -> Response:
            response = exc.response()
            response.headers["Request-Id"] = request_id()
            return response

        async def validation(request: Request, exc: RequestValidationError) -> Response:
            return await vendor_error(request, invalid("Invalid request"))

        app.add_exception_handler(StripeError, vendor_error)  # type: ignore[arg-type]
        app.add_exception_handler(RequestValidationError, validation)  # type: ignore[arg-type]
        build = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                schema = build()
                for item in schema.get("paths", {}).values():
                    for operation in item.values():
                        operation.get("responses", {}).pop("422", None)
                components = schema.setdefault("components", {})
                components.setdefault("schemas", {}).update(doc.SCHEMAS)
                for name in ("HTTPValidationError", "ValidationError"):
                    components["schemas"].pop(name, None)
                components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer",
                                                            "description": "sk_test_ key from the admin API"}}
                schema["security"] = [{"bearer": []}]
                app.openapi_schema = schema
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]
        return app

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
        response.headers["Request-Id"] = request_id()
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(0, round(retry_after)))
        return response

    def quota_response(self, quota: QuotaSpec, retry_after: float | None, tenant: str | None) -> Response:
        response = rate_limited(retry_after).response()
        response.headers["Request-Id"] = request_id()
        return response

    def extend_admin(self, admin: FastAPI) -> None:
        from .admin import install

        install(admin, self)

    def reset(self) -> None:
        super().reset()
        self.webhooks.transports.clear()

    # ---- secrets -------------------------------------------------------------------------------------------------
    def webhook_secret(self, account: str) -> str:
        return "whsec_" + secrets.token_hex(24)
