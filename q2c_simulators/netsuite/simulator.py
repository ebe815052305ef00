"""The NetSuite simulator: kernel hooks (tenant = account id, authentication, error shape, concurrency governance).

Rooms: urls.py (the table), responses.py (the operations and the wire format), models.py (an account's records and
rules), records.py (record types per release), suiteql.py and qfilter.py (queries), auth.py (TBA and OAuth 2.0),
admin.py (/__admin/netsuite), exceptions.py (the error body), releases.py.
"""

from __future__ import annotations

import copy
import math
from datetime import datetime
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from q2c_simulators.kernel import QuotaSpec, Simulator

from .admin import router
from .auth import account_of_bearer, account_of_realm, verify_bearer, verify_tba
from .exceptions import NetSuiteError, error_body, error_json, error_schema, invalid_login
from .models import CONCURRENCY_QUOTA, TIER_LIMITS, NetSuiteBackend
from .records import json_schema, record_types
from .releases import CHANGES, DEFAULT_RELEASE, RELEASES
from .responses import COMMON_ERRORS, NetSuiteResponses, read_body
from .urls import URLS

_HOST_SUFFIX = ".suitetalk.api.netsuite.com"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NetSuiteSimulator(Simulator):
    name = "netsuite"
    title = "NetSuite"
    api_title = "NetSuite REST web services (simulated)"
    urls = URLS
    responses = NetSuiteResponses
    admin_router = router
    api_version = DEFAULT_RELEASE
    api_description = ("SuiteTalk REST: record service, metadata catalog, SuiteQL, async jobs, governance limits and "
                       "OAuth 2.0 client credentials, as served by the q2c-harness simulator.")
    common_responses = COMMON_ERRORS
    security_schemes = {
        "tba": {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "OAuth 1.0a TBA, HMAC-SHA256, realm = account id"},
        "oauth2": {"type": "http", "scheme": "bearer",
                   "description": "OAuth 2.0 client credentials (JWT assertion) access token"},
    }

    def __init__(self, **options: Any) -> None:
        self._openapi_by_release: dict[str, dict[str, Any]] = {}
        super().__init__(**options)

    # ---- kernel hooks ----------------------------------------------------------------------------------------
    def new_backend(self, tenant_id: str) -> NetSuiteBackend:
        return NetSuiteBackend(tenant_id, self.clock)

    def default_quotas(self) -> list[QuotaSpec]:
        return [QuotaSpec(name=CONCURRENCY_QUOTA, kind="concurrency", limit=TIER_LIMITS["shared"],
                          description="NetSuite account concurrency limit (REST, SOAP and RESTlets share it); "
                                      "shared tier = 5")]

    def tenant_of(self, headers: Headers, path: str) -> str | None:
        explicit = headers.get("x-sim-tenant")
        if explicit:
            return explicit
        authorization = headers.get("authorization")
        if authorization:
            scheme = authorization[:7].lower()
            account = None
            if scheme.startswith("oauth "):
                account = account_of_realm(authorization)
            elif scheme == "bearer ":
                account = account_of_bearer(authorization)
            if account:
                return account
        host = (headers.get("host") or "").split(":")[0].lower()
        if host.endswith(_HOST_SUFFIX):
            return host[: -len(_HOST_SUFFIX)].upper().replace("-", "_")
        return super().tenant_of(headers, path)

    async def authenticate(self, request: Request, operation: str) -> NetSuiteBackend:
        """The account's backend: 503 in a maintenance or upgrade window, else 401 without valid TBA or bearer
        credentials of this account."""
        backend: NetSuiteBackend = self.backend(request)
        window = backend.active_window()
        if window is not None:
            end = datetime.fromisoformat(window["end"])
            retry = max(1, math.ceil((end - self.clock.now()).total_seconds()))
            what = (f"NetSuite is being upgraded to release {window['to_release']}" if window.get("to_release")
                    else "NetSuite is unavailable for scheduled maintenance")
            raise NetSuiteError(503, "SERVICE_UNAVAILABLE", f"{what} until {window['end']}.",
                                headers={"Retry-After": str(retry)})
        authorization = request.headers.get("authorization", "")
        scheme = authorization[:7].lower()
        if scheme.startswith("oauth "):
            body = await read_body(request) if request.method in _BODY_METHODS else b""
            verify_tba(backend, request.method, _signed_uri(request), authorization, body)
        elif scheme == "bearer ":
            verify_bearer(backend, authorization)
        else:
            raise invalid_login(backend.account)
        return backend

    def error_response(self, status: int, code: str | None, message: str | None,
                       retry_after: float | None = None) -> Response:
        headers = {"Retry-After": str(max(0, round(retry_after)))} if retry_after is not None else None
        return error_json(error_body(status, code, message or "An error occurred."), status, headers)

    def validation_response(self, request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(p) for p in first.get("loc", ())[1:])
        return NetSuiteError(400, "INVALID_PARAMETER", f"Invalid value for parameter {loc}: {first.get('msg', '')}",
                             query_param=loc or None).response()

    def quota_response(self, quota: QuotaSpec, retry_after: float | None, tenant: str | None) -> Response:
        # Oracle documents REST over-limit answers as 429 Too Many Requests but not their body; this body follows the
        # documented error format, and the code/detail strings are our choice (not found in Oracle material).
        # Third-party notes say NetSuite sends no Retry-After, so neither do we.
        return error_json(error_body(429, "CONCURRENCY_LIMIT_EXCEEDED",
                                     "Request blocked by the account's concurrency limit "
                                     f"({self.concurrency_limit(tenant)} concurrent requests)."), 429)

    def concurrency_limit(self, account: str | None) -> int:
        spec = self.quotas.get(CONCURRENCY_QUOTA)
        return spec.limit_for(account) if spec is not None else 0

    # ---- OpenAPI of everything served, per release -----------------------------------------------------------
    def openapi_document(self, doc: dict[str, Any]) -> dict[str, Any]:
        for path_item in doc.get("paths", {}).values():
            for op in path_item.values():
                for resp in op.get("responses", {}).values():
                    content = resp.get("content")
                    if content and len(content) > 1:
                        content.pop("application/json", None)
        doc["components"].setdefault("schemas", {})["NetSuiteError"] = error_schema()
        return doc

    def openapi(self, request: Request | None = None) -> dict[str, Any]:
        """`?release=` picks the release; otherwise the release of the account the request names (if known)."""
        release = request.query_params.get("release") if request is not None else None
        if release is None and request is not None:
            tenant = request.scope.get("state", {}).get("tenant")
            release = self.tenants.get(tenant).release if tenant in self.tenants else DEFAULT_RELEASE
        release = release if release in RELEASES else DEFAULT_RELEASE
        cached = self._openapi_by_release.get(release)
        if cached is None:
            cached = copy.deepcopy(super().openapi())
            cached["info"]["version"] = release
            cached["info"]["x-ns-release-changes"] = CHANGES[release]
            schemas = cached["components"]["schemas"]
            for rt in record_types(release).values():
                schema = json_schema(rt, "/services/rest")
                for key in ("$schema", "links"):
                    schema.pop(key, None)
                schemas[f"record.{rt.name}"] = schema
            self._openapi_by_release[release] = cached
        return cached


def _signed_uri(request: Request) -> str:
    host = request.headers.get("host") or "netsuite.sim"
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    uri = f"{request.url.scheme}://{host}{raw.decode('latin-1')}"
    query = request.scope.get("query_string", b"")
    return f"{uri}?{query.decode('latin-1')}" if query else uri


__all__ = ["CONCURRENCY_QUOTA", "NetSuiteError", "NetSuiteSimulator"]
