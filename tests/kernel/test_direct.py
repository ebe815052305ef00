"""The kernel calls plain routes directly (no FastAPI routing or solving per request): same answers, same pipeline."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from q2c_simulators.kernel import QuotaSpec
from q2c_simulators.kernel.direct import DirectCall
from q2c_simulators.kernel.journal import JournalQuery

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

        @app.get("/api/pages/{book}", name="get_page")
        async def get_page(book: str = Path(min_length=2, max_length=6), page: int = Query(1, ge=1, le=500),
                           expand: bool = False, note: str | None = Query(None, max_length=3)) -> Response:
            return JSONResponse({"book": book, "page": page, "expand": expand, "note": note})

        @app.get("/api/skus/{sku}", name="get_sku")
        async def get_sku(sku: str = Path(pattern="^[A-Z]+$")) -> Response:
            return JSONResponse({"sku": sku})

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
    assert DirectCall.for_route(app, _route(plain, "get_code")) is not None  # a length bound: checked directly
    assert DirectCall.for_route(app, _route(plain, "get_page")) is not None  # bounded int, bool, optional str
    assert DirectCall.for_route(app, _route(plain, "get_sku")) is None  # a pattern stays FastAPI's to check


@pytest.mark.parametrize("url", [
    "/api/codes/abcd", "/api/codes/abcde", "/api/codes/%C3%A9t%C3%A9",
    "/api/pages/ab", "/api/pages/a", "/api/pages/abcdefg", "/api/pages/abc?page=500", "/api/pages/abc?page=501",
    "/api/pages/abc?page=0", "/api/pages/abc?page=007", "/api/pages/abc?page=-1", "/api/pages/abc?page=+3",
    "/api/pages/abc?page=%203", "/api/pages/abc?page=1_0", "/api/pages/abc?page=", "/api/pages/abc?page=x",
    "/api/pages/abc?page=%D9%A3", "/api/pages/abc?expand=true", "/api/pages/abc?expand=false",
    "/api/pages/abc?expand=True", "/api/pages/abc?expand=1", "/api/pages/abc?expand=yes", "/api/pages/abc?expand=maybe",
    "/api/pages/abc?expand=", "/api/pages/abc?note=abc", "/api/pages/abc?note=abcd", "/api/pages/abc?note=",
    "/api/pages/abc?page=2&page=3&expand=true&expand=false",
])
async def test_direct_calls_convert_and_check_parameters_exactly_as_fastapi_does(plain, plain_client, url):
    """The direct call takes the plain spellings itself and hands every other value to FastAPI: either way the
    answer is the one FastAPI alone gives (its validation errors in the vendor's shape included)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(plain.routes_app), base_url="https://toy.sim") as fastapi:
        expected = await fastapi.get(url)
    got = await plain_client.get(url)
    assert (got.status_code, got.json()) == (expected.status_code, expected.json())


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


async def test_only_values_the_direct_call_cannot_vouch_for_reach_fastapi(plain, plain_client, monkeypatch):
    served, fastapi_call = [], FastAPI.__call__

    async def counting(app, scope, receive, send):
        if app is plain.routes_app:
            served.append(scope["path"] + "?" + scope["query_string"].decode())
        await fastapi_call(app, scope, receive, send)

    monkeypatch.setattr(FastAPI, "__call__", counting)
    for url in ("/api/pages/abc?page=42&expand=true&note=ok", "/api/codes/abcd",  # direct
                "/api/pages/abc?page=501", "/api/pages/abc?expand=yes", "/api/codes/abcde"):  # FastAPI's
        assert (await plain_client.get(url)).status_code in (200, 400)
    assert served == ["/api/pages/abc?page=501", "/api/pages/abc?expand=yes", "/api/codes/abcde?"]
