"""The tax simulator (AvaTax REST v2): kernel glue. Tenant = AvaTax account id.

Every response carries `x-correlation-id`: the avalara SDK reads it on every call and raises `KeyError` without it
(avalara `ava_logger.py`; reference tax-and-payments.md "surprises").
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from q2c_simulators.kernel import QuotaSpec, Simulator
from q2c_simulators.kernel.quotas import Admission

from . import openapi
from .admin import router
from .auth import TokenSigner, parse_authorization, refusal
from .exceptions import CODES, code_for_status, error_response
from .models import TaxBackend
from .responses import TaxResponses
from .urls import URLS

QUOTA = "account_requests"


class TaxSimulator(Simulator):
    name = "tax"
    title = "Tax service (AvaTax REST v2)"
    urls = URLS
    responses = TaxResponses
    admin_router = router
    api_version = "v2"
    api_description = "AvaTax REST v2 as the avalara SDK calls it (see docs/tax.md)"
    security_schemes = {"basic": {"type": "http", "scheme": "basic", "description": "account id : license key"},
                        "bearer": {"type": "http", "scheme": "bearer"}}

    def __init__(self, **options: Any) -> None:
        self.signer = TokenSigner()
        self._correlation = itertools.count(1)
        super().__init__(**options)

    # ---- kernel hooks --------------------------------------------------------------------------------------------
    def new_backend(self, tenant_id: str) -> TaxBackend:
        return TaxBackend(tenant_id, self.clock)

    def default_quotas(self) -> list[QuotaSpec]:
        # Avalara publishes no request limits (reference: a third-party page says 429/503); a stand-in per account:
        # bursts of 1,000 refilled at 100 a second. Change it with PUT /__admin/quotas.
        return [QuotaSpec(name=QUOTA, kind="token_bucket", limit=1000, rate_per_second=100, path="/api/*",
                          description="per-account request budget (Avalara publishes none)")]

    def tenant_of(self, headers: Headers, path: str) -> str | None:
        explicit = headers.get("x-sim-tenant")
        if explicit:
            return explicit
        creds = parse_authorization(headers.get("authorization"))
        return creds.account_id if creds and creds.account_id else "default"

    def error_response(self, status: int, code: str | None, message: str | None,
                       retry_after: float | None = None) -> Response:
        headers = {"Retry-After": str(max(0, round(retry_after)))} if retry_after is not None else None
        code = code if code in CODES else code_for_status(status)
        return error_response(status, code, message or code, headers=headers)

    def quota_response(self, quota: QuotaSpec, retry_after: float | None, tenant: str | None) -> Response:
        headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else None
        return error_response(429, "RequestLimitExceeded", "Too many requests: the account's request limit is reached.",
                              headers=headers)

    def response_headers(self, tenant: str | None, admission: Admission | None) -> list[tuple[bytes, bytes]]:
        # A fresh id per response, from the seed and a counter (the same run gives the same ids).
        n = next(self._correlation)
        return [(b"x-correlation-id", str(uuid.UUID(int=(self.seed & 0xFFFFFFFF) << 64 | n)).encode())]

    def validation_response(self, request: Request, exc: RequestValidationError) -> Response:
        return error_response(400, "ModelStateInvalid", "The request is not valid.")

    def openapi_document(self, doc: dict[str, Any]) -> dict[str, Any]:
        doc["components"].setdefault("schemas", {}).update(openapi.SCHEMAS)
        return doc

    async def authenticate(self, request: Request, operation: str) -> TaxBackend:
        """The account's backend, or the 401 AvaTax answers for what the Authorization header holds."""
        header = request.headers.get("authorization")
        account = self.account_for(header, request.scope["state"]["tenant"])
        if account is None:
            raise refusal(header, self.signer)
        return self.tenants.get(account)

    # ---- credentials ---------------------------------------------------------------------------------------------
    def account_for(self, authorization: str | None, tenant: str) -> str | None:
        """The account id the credentials prove, when it is the request's tenant; else None."""
        creds = parse_authorization(authorization)
        if creds is None or creds.account_id is None or creds.account_id != tenant or tenant not in self.tenants:
            return None
        if creds.kind == "OpenIdBearerToken":
            return tenant if self.signer.valid(creds.secret) else None
        backend: TaxBackend = self.tenants.get(tenant)
        return tenant if backend.license_key_valid(creds.secret) else None
