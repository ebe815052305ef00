"""The Salesforce simulator: kernel hooks (tenant from the session token, authentication, error shape, quotas,
Sforce-Limit-Info).

Rooms: urls.py (the table), responses.py (the operations and the wire format), models.py (an org's records and
rules), schema.py (objects and fields), soql.py (the query language), composite.py and bulk.py (composite resources
and Bulk 2.0, no HTTP), auth.py (sessions, OAuth and SOAP login), events.py (the change-event feed), admin.py
(/__admin/salesforce), exceptions.py (the error list), ids.py.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from q2c_simulators.kernel import QuotaSpec, Simulator
from q2c_simulators.kernel.quotas import Admission

from .admin import router
from .auth import Caller, caller
from .exceptions import error_list
from .models import SalesforceBackend, decode_tenant
from .responses import COMMON_ERRORS, SalesforceResponses
from .urls import DATA, URLS

SUPPORTED_VERSIONS = ("57.0", "58.0", "59.0", "60.0", "61.0", "62.0")
DAILY_LIMIT = 100_000
CONCURRENT_LIMIT = 25
# API calls count against the daily allocation; login, the versions list and the simulator's event feed do not.
API_PATHS = r"^/services/(data/v[0-9]+\.[0-9]+(/(?!sim/)|$)|async/)"


@lru_cache(maxsize=4096)
def _tenant_in_token(token: str) -> str | None:
    return decode_tenant(token)


class SalesforceSimulator(Simulator):
    name = "salesforce"
    title = "Salesforce"
    urls = URLS
    responses = SalesforceResponses
    admin_router = router
    api_title = "Salesforce REST API (q2c-harness simulator)"
    api_version = "62.0"
    api_description = ("Salesforce-style REST: OAuth and SOAP login, sObjects, SOQL, composite, Bulk 2.0, limits and "
                       "change events (see docs/salesforce.md).")
    common_responses = COMMON_ERRORS
    security_schemes = {"bearer": {"type": "http", "scheme": "bearer"}}
    default_version = "59.0"

    def __init__(self, *, api_versions: tuple[str, ...] | None = None, **options: Any) -> None:
        self.api_versions = tuple(api_versions or SUPPORTED_VERSIONS)
        self.version_paths = {f"v{v}": v for v in self.api_versions}
        super().__init__(**options)

    # ---- kernel hooks ------------------------------------------------------------------------------------------
    def new_backend(self, tenant_id: str) -> SalesforceBackend:
        return SalesforceBackend(tenant_id, self)

    def tenant_of(self, headers: Headers, path: str) -> str | None:
        explicit = headers.get("x-sim-tenant")
        if explicit:
            return explicit
        auth = headers.get("authorization") or headers.get("x-sfdc-session")
        if auth:
            tenant = _tenant_in_token(auth.rpartition(" ")[2])
            if tenant is not None and tenant in self.tenants:
                return tenant
        return "default"

    async def authenticate(self, request: Request, operation: str) -> Caller:
        return caller(self, request)

    def error_response(self, status: int, code: str | None, message: str | None, retry_after: float | None = None
                       ) -> Response:
        headers = {"Retry-After": str(max(int(retry_after + 0.999), 0))} if retry_after is not None else None
        return error_list(status, code, message, headers)

    def validation_response(self, request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "header"))
        code = "MALFORMED_QUERY" if where == "q" else "BAD_REQUEST"
        return error_list(400, code, f"{where or 'request'}: {first.get('msg', 'invalid request')}")

    def quota_response(self, quota: QuotaSpec, retry_after: float | None, tenant: str | None) -> Response:
        if quota.kind == "concurrency":
            return error_list(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
        headers = {"Retry-After": str(int(retry_after + 0.999))} if retry_after is not None else None
        return error_list(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", headers)

    def default_quotas(self) -> list[QuotaSpec]:
        return [
            QuotaSpec(name="DailyApiRequests", kind="rolling_window", limit=DAILY_LIMIT, window_seconds=86400,
                      path_regex=API_PATHS, description="Salesforce rolling 24-hour API request allocation"),
            QuotaSpec(name="ConcurrentLongRunningRequests", kind="concurrency", limit=CONCURRENT_LIMIT,
                      path_regex=API_PATHS,
                      description="Concurrent long-running requests (25 in production; 5 in Developer Edition)"),
        ]

    def response_headers(self, tenant: str | None, admission: Admission | None) -> list[tuple[bytes, bytes]]:
        counted = admission.usage("DailyApiRequests") if admission is not None else None
        if counted is None:  # a request the allocation did not count (unmatched, refused, or the quota removed)
            counted = self.quotas.usage("DailyApiRequests", tenant) if self.quotas.get("DailyApiRequests") else None
        used, limit = counted or (0, DAILY_LIMIT)
        return [(b"sforce-limit-info", f"api-usage={used}/{limit}".encode())]

    def openapi_document(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The versions this server serves as the `version` enum; no session errors on the login operations."""
        rest = [f"v{v}" for v in self.api_versions]
        for path, item in doc.get("paths", {}).items():
            for op in item.values():
                for param in op.get("parameters", []):
                    if param["name"] == "version" and param["in"] == "path":
                        param["schema"] = {**param["schema"], "enum": rest if path.startswith(DATA)
                                           else list(self.api_versions)}
                if op.get("security") == []:
                    for status in ("401", "403"):
                        if op["responses"].get(status) == COMMON_ERRORS[int(status)]:
                            del op["responses"][status]
        return doc

    # ---- helpers -----------------------------------------------------------------------------------------------
    def change_origin(self) -> str:
        return f"com/salesforce/api/rest/{self.default_version}"
