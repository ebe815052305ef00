"""A minimal vendor simulator used to prove the kernel on its own: items in a tenant store, its own error shape."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers

from q2c_simulators.kernel import QuotaSpec, Simulator, Store


class ToyBackend:
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.store = Store()
        self.store.add_index("items", "sku")


class ToySimulator(Simulator):
    name = "toy"
    title = "Toy vendor"

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

    def build_routes(self) -> FastAPI:
        app = FastAPI(title="Toy")

        @app.post("/api/items", name="create_item")
        async def create_item(request: Request):
            body = await request.json()
            store = self.backend(request).store
            with store.atomic():
                rid = str(store.next_id("items"))
                store.put("items", rid, {"id": rid, "sku": body.get("sku"), "at": self.clock.now().isoformat()})
            return JSONResponse({"id": rid}, 201)

        @app.get("/api/items/{rid}", name="get_item")
        async def get_item(rid: str, request: Request):
            rec = self.backend(request).store.get("items", rid)
            if rec is None:
                return self.error_response(404, "NOT_FOUND", f"no item {rid}")
            return rec

        @app.get("/api/items", name="list_items")
        async def list_items(request: Request):
            return {"items": self.backend(request).store.records("items")}

        @app.get("/api/slow", name="slow")
        async def slow():
            return Response(b"x" * 300, media_type="text/plain")

        return app
