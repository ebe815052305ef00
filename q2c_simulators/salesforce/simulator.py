"""The Salesforce simulator: kernel hooks (tenant from the session token, error shape, quotas, Sforce-Limit-Info)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import Response

from q2c_simulators.kernel import QuotaSpec, Simulator
from q2c_simulators.kernel.quotas import Admission

from .models import SalesforceBackend, decode_tenant
from .responses import error_list

SUPPORTED_VERSIONS = ("57.0", "58.0", "59.0", "60.0", "61.0", "62.0")
VERSION_LABELS = {"57.0": "Spring '23", "58.0": "Summer '23", "59.0": "Winter '24", "60.0": "Spring '24",
                  "61.0": "Summer '24", "62.0": "Winter '25"}
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
    default_version = "59.0"

    def __init__(self, *, api_versions: tuple[str, ...] | None = None, **options: Any) -> None:
        self.api_versions = tuple(api_versions or SUPPORTED_VERSIONS)
        self.version_paths = {f"v{v}": v for v in self.api_versions}
        super().__init__(**options)

    # ---- kernel hooks ------------------------------------------------------------------------------------------
    def build_routes(self) -> FastAPI:
        from .routes import build_routes

        return build_routes(self)

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

    def error_response(self, status: int, code: str | None, message: str | None, retry_after: float | None = None
                       ) -> Response:
        headers = {"Retry-After": str(max(int(retry_after + 0.999), 0))} if retry_after is not None else None
        return error_list(status, code, message, headers)

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

    def extend_admin(self, admin: FastAPI) -> None:
        from .admin import add_admin_routes

        add_admin_routes(self, admin)

    # ---- helpers -----------------------------------------------------------------------------------------------
    def change_origin(self) -> str:
        return f"com/salesforce/api/rest/{self.default_version}"
