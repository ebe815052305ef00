"""The kernel calls plain routes directly (no FastAPI routing or solving per request): same answers, same pipeline."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from q2c_simulators.kernel import QuotaSpec, Responses, VendorError
from q2c_simulators.kernel.journal import JournalQuery

from .toy import ToySimulator


class Gone(VendorError):
    def response(self) -> Response:
        return JSONResponse({"error": {"code": "GONE", "message": str(self)}}, 410)


class Thing(BaseModel):
    name: str


URLS = [
    ("GET", "/api/things/{tid}", "get_thing"),
    ("GET", "/api/search", "search"),
    ("GET", "/api/codes/{code}", "get_code"),
    ("GET", "/api/pages/{book}", "get_page"),
    ("GET", "/api/skus/{sku}", "get_sku"),
    ("POST", "/api/things", "create_thing"),
    ("GET", "/api/whoami", "whoami"),
    ("GET", "/api/boom", "boom"),
]


class PlainResponses(Responses["PlainRoutes"]):
    """Operations as vendors write them: the request, typed parameters, a body model, a Response back."""

    async def get_thing(self, request: Request, tid: str, fields: str | None = None) -> Response:
        if tid == "retired":
            raise Gone(f"thing {tid} was retired")
        return JSONResponse({"id": tid, "fields": fields, "tenant": request.scope["state"]["tenant"],
                             "path_params": request.path_params})

    async def search(self, q: str, limit: str = "10") -> Response:
        return JSONResponse({"q": q, "limit": limit})

    async def get_code(self, code: str = Path(max_length=4)) -> Response:
        return JSONResponse({"code": code})

    async def get_page(self, book: str = Path(min_length=2, max_length=6), page: int = Query(1, ge=1, le=500),
                       expand: bool = False, note: str | None = Query(None, max_length=3)) -> Response:
        return JSONResponse({"book": book, "page": page, "expand": expand, "note": note})

    async def get_sku(self, sku: str = Path(pattern="^[A-Z]+$")) -> Response:
        return JSONResponse({"sku": sku})

    async def create_thing(self, thing: Thing) -> Response:
        return JSONResponse({"name": thing.name}, 201)

    async def whoami(self, request: Request) -> Response:
        return JSONResponse({"principal": request.scope["state"]["principal"],
                             "app": request.app is self.sim.routes_app})

    async def boom(self) -> Response:
        raise RuntimeError("a bug in a vendor route")


class PlainRoutes(ToySimulator):
    urls = URLS
    responses = PlainResponses

    async def authenticate(self, request: Request, operation: str):
        if request.headers.get("authorization") == "Bearer nobody":
            raise Gone("no such credential")
        return f"{operation} by {request.scope['state']['tenant']}"

    def validation_response(self, request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"error": {"code": "BAD_PARAM", "message": str(exc.errors()[0]["loc"])}}, 400)

    def default_quotas(self):
        return [QuotaSpec(name="tiny", kind="fixed_window", limit=3, window_seconds=3600, operation="search")]


@pytest.fixture
def plain(tmp_path) -> PlainRoutes:
    return PlainRoutes(seed=1, snapshot_dir=tmp_path)


@pytest.fixture
async def plain_client(plain):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(plain.asgi), base_url="https://toy.sim") as c:
        yield c


@pytest.fixture
async def fastapi_client(tmp_path):
    """The same simulator with direct calls off: FastAPI serves every operation."""
    sim = PlainRoutes(seed=1, snapshot_dir=tmp_path, direct_calls=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://toy.sim") as c:
        yield c


def test_operations_with_plain_parameters_and_json_bodies_are_called_directly(plain):
    direct = {row.operation for row in plain.routes.rows if row.direct is not None}
    assert {"get_thing", "search", "get_code", "get_page", "get_sku", "create_thing", "boom"} <= direct
    assert PlainRoutes(direct_calls=False).routes.rows[0].direct is None


@pytest.mark.parametrize("url", [
    "/api/codes/abcd", "/api/codes/abcde", "/api/codes/%C3%A9t%C3%A9",
    "/api/pages/ab", "/api/pages/a", "/api/pages/abcdefg", "/api/pages/abc?page=500", "/api/pages/abc?page=501",
    "/api/pages/abc?page=0", "/api/pages/abc?page=007", "/api/pages/abc?page=-1", "/api/pages/abc?page=+3",
    "/api/pages/abc?page=%203", "/api/pages/abc?page=1_0", "/api/pages/abc?page=", "/api/pages/abc?page=x",
    "/api/pages/abc?page=%D9%A3", "/api/pages/abc?expand=true", "/api/pages/abc?expand=false",
    "/api/pages/abc?expand=True", "/api/pages/abc?expand=1", "/api/pages/abc?expand=yes", "/api/pages/abc?expand=maybe",
    "/api/pages/abc?expand=", "/api/pages/abc?note=abc", "/api/pages/abc?note=abcd", "/api/pages/abc?note=",
    "/api/pages/abc?page=2&page=3&expand=true&expand=false", "/api/skus/ABC", "/api/skus/abc",
])
async def test_direct_calls_convert_and_check_parameters_exactly_as_fastapi_does(plain_client, fastapi_client, url):
    """The direct call validates each value as FastAPI does and hands what does not validate to FastAPI: either
    way the answer is the one FastAPI alone gives (its validation errors in the vendor's shape included)."""
    expected = await fastapi_client.get(url)
    got = await plain_client.get(url)
    assert (got.status_code, got.json()) == (expected.status_code, expected.json())


@pytest.mark.parametrize("body,headers", [
    (b'{"name": "x"}', {"content-type": "application/json"}),
    (b'{"name": "x"}', {"content-type": "application/json; charset=utf-8"}),
    (b'{"name": "x"}', {"content-type": "text/plain"}),
    (b'{"name": "x"}', {}),
    (b'{"nom": "x"}', {"content-type": "application/json"}),
    (b'{"name": 5}', {"content-type": "application/json"}),
    (b'{"name": ', {"content-type": "application/json"}),
    (b"", {"content-type": "application/json"}),
    (b"[" * 1000 + b"]" * 1000, {"content-type": "application/json"}),
])
async def test_a_direct_body_is_the_one_fastapi_would_validate(plain_client, fastapi_client, body, headers):
    expected = await fastapi_client.post("/api/things", content=body, headers=headers)
    got = await plain_client.post("/api/things", content=body, headers=headers)
    assert (got.status_code, got.json()) == (expected.status_code, expected.json())


async def test_the_auth_hook_names_the_principal_or_refuses_before_the_operation(plain_client, fastapi_client):
    for client in (plain_client, fastapi_client):
        r = await client.get("/api/whoami", headers={"Authorization": "Bearer acme"})
        assert r.json() == {"principal": "whoami by acme", "app": True}
        r = await client.get("/api/whoami", headers={"Authorization": "Bearer nobody"})
        assert r.status_code == 410 and r.json()["error"]["message"] == "no such credential"
        r = await client.get("/api/search", headers={"Authorization": "Bearer nobody"})  # before validation
        assert r.status_code == 410


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
    for url in ("/api/pages/abc?page=42&expand=true&note=ok", "/api/codes/abcd", "/api/pages/abc?expand=yes",  # direct
                "/api/pages/abc?page=501", "/api/codes/abcde"):  # FastAPI's
        assert (await plain_client.get(url)).status_code in (200, 400)
    assert (await plain_client.post("/api/things", json={"name": "n"})).status_code == 201  # direct
    assert (await plain_client.post("/api/things", json={"nom": "n"})).status_code == 400  # FastAPI's
    assert served == ["/api/pages/abc?page=501", "/api/codes/abcde?", "/api/things?"]
