"""The kernel calls plain routes directly (no FastAPI routing or solving per request): same answers, same pipeline."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from simulators.kernel import QuotaSpec
from simulators.kernel.direct import DirectCall
from simulators.kernel.journal import JournalQuery

from .toy import ToySimulator


class Gone(Exception):
    pass


class Thing(BaseModel):
    name: str


class PlainRoutes(ToySimulator):
    """Routes a vendor writes for its hot reads: the request, string parameters, a Response back."""

    def build_routes(self) -> FastAPI:
        app = FastAPI(title="Plain")

        @app.exception_handler(Gone)
        async def _gone(request: Request, exc: Gone) -> Response:
            return JSONResponse({"error": {"code": "GONE", "message": str(exc)}}, 410)

        @app.exception_handler(RequestValidationError)
        async def _invalid(request: Request, exc: RequestValidationError) -> Response:
            return JSONResponse({"error": {"code": "BAD_PARAM", "message": str(exc.errors()[0]["loc"])}}, 400)

        @app.get("/api/things/{tid}", name="get_thing")
        async def get_thing(request: Request, tid: str, fields: str | None = None) -> Response:
            if tid == "retired":
                raise Gone(f"thing {tid} was retired")
            return JSONResponse({"id": tid, "fields": fields, "tenant": request.scope["state"]["tenant"],
                                 "path_params": request.path_params})

        @app.get("/api/search", name="search")
        async def search(q: str, limit: str = "10") -> Response:
            return JSONResponse({"q": q, "limit": limit})

        @app.get("/api/codes/{code}", name="get_code")
        async def get_code(code: str = Path(max_length=4)) -> Response:
            return JSONResponse({"code": code})

        @app.post("/api/things", name="create_thing")
        async def create_thing(thing: Thing) -> Response:
            return JSONResponse({"name": thing.name}, 201)

        @app.get("/api/boom", name="boom")
        async def boom() -> Response:
            raise RuntimeError("a bug in a vendor route")

        return app

    def default_quotas(self):
        return [QuotaSpec(name="tiny", kind="fixed_window", limit=3, window_seconds=3600, operation="search")]


@pytest.fixture
def plain(tmp_path) -> PlainRoutes:
    return PlainRoutes(seed=1, snapshot_dir=tmp_path)


@pytest.fixture
async def plain_client(plain):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(plain.asgi), base_url="https://toy.sim") as c:
        yield c


def _route(sim: PlainRoutes, name: str):
    return next(r for r in sim.routes_app.router.routes if getattr(r, "name", None) == name)


def test_only_plain_routes_are_called_directly(plain):
    app = plain.routes_app
    assert DirectCall.for_route(app, _route(plain, "get_thing")) is not None
    assert DirectCall.for_route(app, _route(plain, "search")) is not None
    assert DirectCall.for_route(app, _route(plain, "create_thing")) is None  # a body model: FastAPI validates it
    assert DirectCall.for_route(app, _route(plain, "get_code")) is None  # so does a constrained parameter


async def test_a_direct_call_gets_path_query_and_tenant_as_fastapi_would(plain_client):
    r = await plain_client.get("/api/things/t-1", params={"fields": "a,b"}, headers={"Authorization": "Bearer acme"})
    assert r.status_code == 200
    assert r.json() == {"id": "t-1", "fields": "a,b", "tenant": "acme", "path_params": {"tid": "t-1"}}
    r = await plain_client.get("/api/things/t-2")
    assert r.json()["fields"] is None  # the default, when the parameter is absent
    r = await plain_client.get("/api/search", params=[("q", "first"), ("q", "last"), ("limit", "")])
    assert r.json() == {"q": "last", "limit": ""}  # the last repeated value wins, a blank value stays blank


async def test_vendor_exception_handlers_answer_for_direct_calls(plain_client):
    r = await plain_client.get("/api/things/retired")
    assert r.status_code == 410
    assert r.json() == {"error": {"code": "GONE", "message": "thing retired was retired"}}


async def test_a_missing_required_parameter_gets_fastapis_validation_in_the_vendor_shape(plain_client):
    r = await plain_client.get("/api/search")
    assert r.status_code == 400
    assert r.json() == {"error": {"code": "BAD_PARAM", "message": "('query', 'q')"}}
    r = await plain_client.post("/api/things", json={"nom": "x"})
    assert r.status_code == 400


async def test_an_unhandled_error_still_surfaces(plain_client):
    with pytest.raises(RuntimeError, match="a bug in a vendor route"):
        await plain_client.get("/api/boom")


async def test_direct_calls_still_pass_quotas_journal_and_metrics(plain, plain_client):
    statuses = [(await plain_client.get("/api/search", params={"q": "x"})).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    entries = plain.journal.query(JournalQuery(operation="search"))
    assert [(e.operation, e.status, e.quota) for e in entries] == [("search", 200, None)] * 3 + [("search", 429, "tiny")]
    assert b'sim_requests_total{method="GET",route="/api/search",simulator="toy",status="200"} 3.0' \
        in plain.metrics.render()
