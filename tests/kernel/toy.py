"""A minimal vendor simulator used to prove the kernel on its own: items in a tenant store, its own error shape.

It is laid out as every simulator is (docs/simulators.md "Template"), in one file: the urls table, the responses
class, the backend, and the Simulator with its hooks.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.requests import Request

from q2c_simulators.kernel import QuotaSpec, Responses, Simulator, Store, operation

URLS = [
    ("POST", "/api/items", "create_item"),
    ("GET", "/api/items/{rid}", "get_item"),
    ("GET", "/api/items", "list_items"),
    ("GET", "/api/slow", "slow"),
]


class ToyResponses(Responses["ToySimulator"]):
    @operation(status=201, tags=["items"])
    async def create_item(self, request: Request) -> Response:
        body = await request.json()
        store = self.sim.backend(request).store
        with store.atomic():
            rid = str(store.next_id("items"))
            store.put("items", rid, {"id": rid, "sku": body.get("sku"), "at": self.sim.clock.now().isoformat()})
        return JSONResponse({"id": rid}, 201)

    async def get_item(self, request: Request, rid: str) -> Response:
        rec = self.sim.backend(request).store.get("items", rid)
        if rec is None:
            return self.sim.error_response(404, "NOT_FOUND", f"no item {rid}")
        return JSONResponse(rec)

    async def list_items(self, request: Request) -> Response:
        return JSONResponse({"items": self.sim.backend(request).store.records("items")})

    @operation(public=True)
    async def slow(self) -> Response:
        return Response(b"x" * 300, media_type="text/plain")


class ToyBackend:
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.store = Store()
        self.store.add_index("items", "sku")


class ToySimulator(Simulator):
    name = "toy"
    title = "Toy vendor"
    urls = URLS
    responses = ToyResponses

    def new_backend(self, tenant_id: str) -> ToyBackend:
        return ToyBackend(tenant_id)

    def tenant_of(self, headers: Headers, path: str) -> str | None:
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:]
        return super().tenant_of(headers, path)

    def error_response(self, status, code, message, retry_after=None):
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        return JSONResponse({"error": {"code": code or f"E{status}", "message": message or "error"}}, status, headers)

    def quota_response(self, quota, retry_after, tenant):
        return self.error_response(429, "RATE_LIMITED", f"{quota.name} exceeded", retry_after)

    def default_quotas(self):
        return [QuotaSpec(name="daily", kind="rolling_window", limit=1_000_000, window_seconds=86400)]
