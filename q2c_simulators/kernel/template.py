"""The simulator template: a flat URL table and a responses class; the kernel builds everything else from them.

    urls.py        URLS = [("GET", "/v1/customers/{customer}", "get_customer"), ...]   (method, path, operation)
    responses.py   class StripeResponses(Responses): one async method per operation, named as the operation

The operation name is what quotas, fault rules, metrics and the journal match on. From the table and the class the
kernel builds the routes app (FastAPI: parameter validation, the OpenAPI document), resolves every request to its
row, authenticates it through the simulator's `authenticate` hook unless the operation is `@operation(public=True)`,
and calls the method directly when its parameters allow (kernel/direct.py), else through FastAPI. Rows are matched
in table order; a row repeating an operation (a trailing-slash variant) is served but not documented.
See docs/simulators.md "Template".
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.convertors import Convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path

from .direct import DirectCall
from .http import json_bytes

Url = tuple[str, str, str]  # method, path template (Starlette syntax: {name} or {name:convertor}), operation
SimT = TypeVar("SimT")


@dataclass(frozen=True)
class Operation:
    """What an operation declares besides its signature: whether it needs credentials, and its OpenAPI facts."""

    public: bool = False  # served without the simulator's authenticate hook (login, token endpoints, versions)
    status: int = 200  # the documented success status
    summary: str | None = None
    tags: tuple[str, ...] = ()
    responses: Mapping[int | str, dict[str, Any]] | None = None  # documented responses besides the kernel's
    request_body: dict[str, Any] | None = None  # an OpenAPI requestBody, for a body the method reads itself
    openapi_extra: dict[str, Any] | None = None
    documented: bool = True  # False: served, not in the OpenAPI document


_DEFAULT = Operation()
_MARK = "__sim_operation__"


def operation(**facts: Any) -> Callable[[Callable], Callable]:
    """Declare an operation's facts on its responses method: `@operation(public=True, status=201, tags=...)`."""
    declared = Operation(**{k: tuple(v) if k == "tags" else v for k, v in facts.items()})

    def mark(method: Callable) -> Callable:
        setattr(method, _MARK, declared)
        return method

    return mark


def operation_of(method: Callable) -> Operation:
    return getattr(method, _MARK, _DEFAULT)


class Responses(Generic[SimT]):
    """A simulator's wire format: one async method per operation of its urls table; `self.sim` is the simulator.
    Every simulator also serves the kernel's two operations below (KERNEL_URLS)."""

    def __init__(self, sim: SimT) -> None:
        self.sim = sim

    @operation(public=True, documented=False)
    async def openapi(self, request: Request) -> Response:
        """The OpenAPI document of every operation the simulator serves."""
        return Response(json_bytes(self.sim.openapi(request)), media_type="application/json")  # type: ignore[attr-defined]

    @operation(public=True, documented=False)
    async def docs(self, request: Request) -> Response:
        """Swagger UI over /openapi.json."""
        return get_swagger_ui_html(openapi_url=request.scope.get("root_path", "") + "/openapi.json",
                                   title=f"{self.sim.title} API")  # type: ignore[attr-defined]


KERNEL_URLS: list[Url] = [("GET", "/openapi.json", "openapi"), ("GET", "/docs", "docs")]


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the table, compiled: what resolving, authenticating and calling a request need."""

    method: str
    path: str
    operation: str
    endpoint: Callable[..., Any]  # the bound responses method
    public: bool
    documented: bool
    regex: re.Pattern[str]
    convertors: dict[str, Convertor]
    direct: DirectCall | None  # None: FastAPI serves every request of this row
    index: int  # of its route in the routes app

    def params(self, path: str) -> dict[str, Any] | None:
        m = self.regex.match(path)
        if m is None:
            return None
        return {k: self.convertors[k].convert(v) for k, v in m.groupdict().items()}

    def serves(self, method: str) -> bool:
        return method == self.method or (method == "HEAD" and self.method == "GET")


@dataclass(frozen=True, slots=True)
class ResolvedRoute:
    row: Row
    path_params: dict[str, Any]
    full: bool  # False: the path is served, the method is not (a 405)

    @property
    def operation(self) -> str:
        return self.row.operation

    @property
    def template(self) -> str:
        return self.row.path


@dataclass
class RouteTable:
    """The compiled table: resolution (cached per method and path), allowed methods, templates for near misses."""

    rows: list[Row]
    _cache: OrderedDict[tuple[str, str], ResolvedRoute | None] = field(default_factory=OrderedDict)

    @classmethod
    def compile(cls, urls: Iterable[Url], api: Any, *, direct: bool = True) -> RouteTable:
        rows: list[Row] = []
        seen: set[str] = set()
        for method, path, name in urls:
            endpoint = getattr(api, name, None)
            if endpoint is None:
                raise TypeError(f"the urls table names operation {name!r}; {type(api).__name__} has no such method")
            regex, _, convertors = compile_path(path)
            op = operation_of(endpoint)
            rows.append(Row(method.upper(), path, name, endpoint, op.public, op.documented and name not in seen,
                            regex, convertors, DirectCall.for_endpoint(endpoint, path) if direct else None,
                            len(rows)))
            seen.add(name)
        return cls(rows)

    def resolve(self, method: str, path: str) -> ResolvedRoute | None:
        """The row serving this request (or, for a 405, the first row serving its path), or None."""
        key = (method, path)
        cache = self._cache
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        found = None
        for row in self.rows:
            params = row.params(path)
            if params is None:
                continue
            if row.serves(method):
                found = ResolvedRoute(row, params, True)
                break
            if found is None:
                found = ResolvedRoute(row, {}, False)
        cache[key] = found
        if len(cache) > 4096:
            cache.popitem(last=False)
        return found

    def allowed(self, path: str) -> list[str]:
        """Every method served at this path; as in OpenAPI, the most literal template wins (/faults/profile over
        /faults/{rule_id})."""
        best, methods = -1, set()
        for row in self.rows:
            if row.regex.match(path) is None:
                continue
            literal = sum(1 for part in row.path.split("/") if part and "{" not in part)
            if literal > best:
                best, methods = literal, set()
            if literal == best:
                methods.add(row.method)
                if row.method == "GET":
                    methods.add("HEAD")
        return sorted(methods)

    def templates(self) -> list[tuple[str, str]]:
        return [(row.method, row.path) for row in self.rows]


def build_app(table: RouteTable, *, title: str, version: str, description: str,
              common_responses: Mapping[int | str, dict[str, Any]]) -> FastAPI:
    """The FastAPI app of a table: every row a route named by its operation (FastAPI validates what the direct
    call leaves to it, and documents every operation)."""
    app = FastAPI(title=title, version=version, description=description, openapi_url=None, docs_url=None,
                  redoc_url=None)
    for row in table.rows:
        op = operation_of(row.endpoint)

        extra = dict(op.openapi_extra or {})
        if op.request_body is not None:
            extra["requestBody"] = op.request_body
        if op.public:
            extra["security"] = []
        app.add_api_route(row.path, row.endpoint, methods=[row.method], name=row.operation, status_code=op.status,
                          summary=op.summary, tags=list(op.tags) or None, response_model=None,
                          responses={**common_responses, **(op.responses or {})}, openapi_extra=extra or None,
                          include_in_schema=row.documented)
    return app
