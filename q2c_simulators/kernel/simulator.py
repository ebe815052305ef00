"""The Simulator base class and the kernel pipeline every request goes through.

A vendor simulator subclasses `Simulator` and supplies its urls table and responses class (kernel/template.py), a
backend factory (its models, state in a `Store`), how a request names its tenant, how it authenticates, its own
error shape, its own quota rejection, and its default quotas. The kernel builds the routes app from the table and
wraps it with tenants, quotas, faults, the journal and metrics, and serves `/__admin`.

Pipeline for a vendor request: resolve the row (unmatched: vendor 404 plus a near-miss hint) -> quotas (the
vendor's rejection) -> faults (latency, error, reset, dribble, hang) -> authenticate (unless public) -> the
operation (called directly, or through FastAPI) -> journal and metrics.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import get_route_path

from . import connections
from .admin import build_admin_app
from .clock import VirtualClock
from .errors import VendorError
from .faults import FaultEngine
from .http import first_header
from .journal import Journal, JournalEntry, near_miss_routes
from .metrics import SimulatorMetrics
from .quotas import Admission, QuotaEngine, QuotaSpec
from .store import Tenants
from .template import KERNEL_URLS, ResolvedRoute, Responses, RouteTable, Url, build_app

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]

TENANT_HEADER = "x-sim-tenant"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestHeaders(Headers):
    """Starlette's request headers over the scope's own list (no copy), with a `get` that does not raise and catch
    a KeyError for an absent name (`tenant_of` asks for headers most requests lack, on every request)."""

    def __init__(self, scope: Scope) -> None:  # noqa: D107 - read-only use: the list is the scope's
        self._list = scope["headers"]

    def get(self, key: str, default: Any = None) -> Any:
        value = first_header(self._list, key.lower().encode("latin-1"))
        return default if value is None else value


class ConnectionReset(ConnectionResetError):
    """Raised in-process (no socket to abort) when a `reset` fault fires."""


class _BodyTap:
    """The request body as its readers take it: the journal keeps its first bytes, and a second reader (FastAPI,
    after the auth hook or a direct call read the body) gets it again from the start."""

    __slots__ = ("inner", "limit", "head", "taken")

    def __init__(self, inner: Callable, limit: int) -> None:
        self.inner, self.limit = inner, limit
        self.head = bytearray()
        self.taken: list[dict] = []

    async def receive(self) -> dict:
        message = await self.inner()
        if message["type"] == "http.request":
            self.taken.append(message)
            if len(self.head) < self.limit:
                self.head.extend(message.get("body", b"")[: self.limit - len(self.head)])
        return message

    def replay(self) -> Callable:
        pending = list(self.taken)

        async def receive() -> dict:
            return pending.pop(0) if pending else await self.receive()

        return receive


class Simulator:
    name: ClassVar[str] = "simulator"
    title: ClassVar[str] = "Simulator"
    urls: ClassVar[Sequence[Url]] = ()  # the simulator's urls.py table
    responses: ClassVar[type[Responses]] = Responses  # its responses.py class
    api_title: ClassVar[str | None] = None  # the OpenAPI document's title (default: `title`)
    api_version: ClassVar[str] = "1.0"
    api_description: ClassVar[str] = ""
    common_responses: ClassVar[Mapping[int | str, dict[str, Any]]] = {}  # documented on every operation
    security_schemes: ClassVar[Mapping[str, dict[str, Any]]] = {}  # OpenAPI; every non-public operation needs one
    admin_router: ClassVar[APIRouter | None] = None  # its admin.py endpoints, served under /__admin

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: VirtualClock | None = None,
        journal_capacity: int = 10_000,
        journal_body_limit: int = 2048,
        snapshot_dir: str | Path = ".q2c/snapshots",
        direct_calls: bool = True,
    ) -> None:
        self.clock = clock or VirtualClock()
        self.faults = FaultEngine(self.name, self.clock, seed)
        self.quotas = QuotaEngine(self.name, self.clock, self.default_quotas())
        self.journal = Journal(journal_capacity, journal_body_limit)
        self.metrics = SimulatorMetrics(self.name)
        self.tenants: Tenants[Any] = Tenants(self.new_backend)
        self.snapshot_dir = Path(snapshot_dir)
        self.api = self.responses(self)
        self.routes = RouteTable.compile([*self.urls, *KERNEL_URLS], self.api, direct=direct_calls)
        self.routes_app = build_app(self.routes, title=self.api_title or self.title, version=self.api_version,
                                    description=self.api_description, common_responses=self.common_responses)
        self.routes_app.add_exception_handler(VendorError, _vendor_error)
        self.routes_app.add_exception_handler(RequestValidationError, self.validation_response)
        self.routes_app.add_exception_handler(HTTPException, self.http_exception_response)
        self.routes_app.state.simulator = self
        self._openapi: dict[str, Any] | None = None
        self.admin_app = build_admin_app(self)
        self.asgi: ASGIApp = self._dispatch

    @property
    def seed(self) -> int:
        return self.faults.seed

    # ---- what a vendor supplies --------------------------------------------------------------------------------
    def new_backend(self, tenant_id: str) -> Any:
        raise NotImplementedError

    def default_quotas(self) -> list[QuotaSpec]:
        return []

    def tenant_of(self, headers: Headers, path: str) -> str | None:
        """The tenant a request belongs to. Vendors read it from their credentials; `X-Sim-Tenant` always wins."""
        return headers.get(TENANT_HEADER) or "default"

    async def authenticate(self, request: Request, operation: str) -> Any:
        """The request's principal (kept as `scope["state"]["principal"]` for the operation), or a `VendorError`
        (the vendor's 401, ...). Called for every operation not declared `public`, before its parameters are
        validated, and for the tenant `tenant_of` named: a credential of another tenant must not act there."""
        return None

    def error_response(self, status: int, code: str | None, message: str | None, retry_after: float | None = None) -> Response:
        """An error in the vendor's own shape (used by error faults, unmatched routes and 405s)."""
        raise NotImplementedError

    def validation_response(self, request: Request, exc: RequestValidationError) -> Response | Awaitable[Response]:
        """FastAPI's validation error (a parameter or body the operation's signature refuses) in the vendor's shape."""
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return self.error_response(400, None, f"{where or 'request'}: {first.get('msg', 'invalid request')}")

    def quota_response(self, quota: QuotaSpec, retry_after: float | None, tenant: str | None) -> Response:
        return self.error_response(429, None, f"quota {quota.name} exceeded", retry_after)

    def response_headers(self, tenant: str | None, admission: Admission | None) -> list[tuple[bytes, bytes]]:
        """Headers the vendor adds to every response (e.g. Salesforce's Sforce-Limit-Info); `admission` is this
        request's (None when no quota was asked), so usage it counted needs no second lookup."""
        return []

    def openapi_document(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The vendor's last touches to its OpenAPI document (the kernel built it from the table)."""
        return doc

    # ---- helpers for vendor code -------------------------------------------------------------------------------
    def backend(self, request: Request) -> Any:
        return self.tenants.get(request.scope["state"]["tenant"])

    def reset(self) -> None:
        self.tenants.clear()
        self.journal.clear()
        self.faults.clear()
        self.quotas.reset(specs=True)
        self.clock.reset()

    def openapi(self, request: Request | None = None) -> dict[str, Any]:
        """The OpenAPI document of every operation served (built once): FastAPI's, the kernel's 429 on every
        operation, FastAPI's own 422 schema dropped (validation errors are the vendor's), the security schemes."""
        if self._openapi is None:
            app = self.routes_app
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            for item in doc.get("paths", {}).values():
                for op in item.values():
                    responses = op.setdefault("responses", {})
                    if "HTTPValidationError" in str(responses.get("422", "")):
                        del responses["422"]
                    responses.setdefault("429", {"description": "A vendor limit (kernel quota) refused the request"})
            components = doc.setdefault("components", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.get("schemas", {}).pop(name, None)
            if self.security_schemes:
                components["securitySchemes"] = dict(self.security_schemes)
                doc["security"] = [{name: []} for name in self.security_schemes]
            self._openapi = self.openapi_document(doc)
        return self._openapi

    def method_not_allowed(self, request: Request) -> Response:
        allow = ", ".join(self.routes.allowed(get_route_path(request.scope)))
        response = self.error_response(
            405, "METHOD_NOT_ALLOWED", f"HTTP method {request.method} is not allowed for this resource; allowed: {allow}")
        response.status_code = 405
        response.headers["Allow"] = allow
        return response

    async def http_exception_response(self, request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 405:
            return self.method_not_allowed(request)
        return self.error_response(exc.status_code, None, exc.detail if isinstance(exc.detail, str) else None)

    async def handle_exception(self, request: Request, exc: Exception) -> Response:
        """What the routes app's exception handlers answer for `exc` (the same lookup Starlette makes: the status
        code of an HTTPException, then the exception's classes in MRO order); re-raised when none does."""
        handlers = self.routes_app.exception_handlers
        handler = handlers.get(exc.status_code) if isinstance(exc, HTTPException) else None
        if handler is None:
            handler = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
        if handler is None:
            raise exc
        response = handler(request, exc)
        return await response if asyncio.iscoroutine(response) else response

    async def call_operation(self, scope: Scope, receive: Callable, send: Callable) -> None:
        """Serve a request as the operation it names, without quotas, faults or the journal (a composite call's
        subrequests are part of one API call)."""
        route = self.routes.resolve(scope["method"], get_route_path(scope))
        if route is None:
            await self.error_response(404, None, "The requested resource does not exist")(scope, receive, send)
            return
        response = await self._answer(Request(scope, receive, send), route)
        if response is None:
            await self.routes_app(scope, receive, send)
        else:
            await response(scope, receive, send)

    async def _answer(self, request: Request, route: ResolvedRoute) -> Response | None:
        """The kernel's own answer to a matched request: a 405, the auth hook's refusal, or the direct call's
        response; None when FastAPI must serve it."""
        if not route.full:
            return self.method_not_allowed(request)
        row = route.row
        scope = request.scope
        scope["app"] = self.routes_app
        scope["router"] = self.routes_app.router
        scope["route"] = self.routes_app.router.routes[row.index]
        scope["endpoint"] = row.endpoint
        scope["path_params"] = route.path_params
        try:
            if not row.public:
                scope["state"]["principal"] = await self.authenticate(request, row.operation)
            return None if row.direct is None else await row.direct(request, route.path_params)
        except ClientDisconnect:
            raise
        except Exception as exc:  # noqa: BLE001 - the routes app's handlers decide; unhandled ones re-raise
            return await self.handle_exception(request, exc)

    # ---- the pipeline ------------------------------------------------------------------------------------------
    async def _dispatch(self, scope: Scope, receive: Callable, send: Callable) -> None:
        """`/__admin` to the admin app, lifespan to the routes, every other request through the pipeline (any
        path, even one with CR/LF). One coroutine for all three: a layer less on every request."""
        if scope["type"] != "http":
            await self.routes_app(scope, receive, send)
            return
        path = get_route_path(scope)
        if path.startswith("/__admin"):
            await self.admin_app({**scope, "root_path": scope.get("root_path", "") + "/__admin"}, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        tenant = self.tenant_of(RequestHeaders(scope=scope), path)
        scope.setdefault("state", {})["tenant"] = tenant
        route = self.routes.resolve(method, path)
        operation, template = (route.operation, route.template) if route else (None, "<unmatched>")
        seq = self.journal.next_seq()
        tap = None
        if method in _BODY_METHODS:
            tap = _BodyTap(receive, self.journal.body_limit)
            receive = tap.receive

        status = 0
        admission: Admission | None = None
        fault_name: str | None = None
        quota_name: str | None = None
        near: list[str] | None = None
        try:
            response: Response | None = None  # one the kernel holds (its own, or a direct call's): sent below
            if route is None:
                near = near_miss_routes(method, path, self.routes.templates())
                response = self.error_response(404, None, "The requested resource does not exist")
                if near:
                    response.headers["X-Sim-Near-Miss"] = " | ".join(near)
            elif (admission := self.quotas.admit(tenant, method, path, operation)).rejection is not None:
                rejection = admission.rejection
                quota_name = rejection.quota.name
                self.metrics.rejected(quota_name)
                response = self.quota_response(rejection.quota, rejection.retry_after, tenant)
            else:
                plan = self.faults.plan(tenant, method, path, operation)
                if plan.applied:
                    fault_name = ",".join(plan.applied)
                if plan.delay:
                    self.metrics.fault(plan.applied[0], "latency")
                    await asyncio.sleep(plan.delay)
                fault = plan.terminal
                if fault is not None:
                    self.metrics.fault(fault.id, fault.kind)
                    if fault.kind == "error":
                        response = self.error_response(fault.status, fault.code, fault.message,
                                                       fault.retry_after_seconds)
                    elif fault.kind in ("reset", "hang"):
                        if fault.kind == "hang":
                            await _hang(receive, fault.max_seconds)
                        if not connections.abort(scope):  # in-process there is no socket: the client sees the error
                            raise ConnectionReset(f"connection dropped by fault rule {fault.id} ({fault.kind})")
                        return
                    elif fault.kind == "dribble":
                        send = _dribbling(send, fault.chunk_bytes, fault.interval_ms / 1000)
                if response is None:
                    response = await self._answer(Request(scope, receive, send), route)
                if response is None:  # FastAPI serves it; the vendor's headers join its start message
                    async def send_with_headers(message: dict) -> None:
                        nonlocal status
                        if message["type"] == "http.response.start":
                            status = message["status"]
                            extra = self.response_headers(tenant, admission)
                            if extra:
                                message = {**message, "headers": [*message.get("headers", []), *extra]}
                        await send(message)

                    await self.routes_app(scope, tap.replay() if tap is not None and tap.taken else receive,
                                          send_with_headers)
                    return
            status = response.status_code
            response.raw_headers.extend(self.response_headers(tenant, admission))  # now: usage counts this request
            await response(scope, receive, send)
        except ClientDisconnect:  # gone before its body arrived: nothing was changed, no one to answer
            pass
        finally:
            if admission is not None:
                admission.release()
            elapsed = time.perf_counter() - started
            self.metrics.observe(method, template, status, elapsed)
            self.journal.record(JournalEntry(  # positional: a third of the keyword call's cost, on every request
                seq, self.clock.timestamp(), self.name, tenant, method, path,
                scope.get("query_string", b"").decode("latin-1"), operation, status, round(elapsed * 1000, 3),
                tap.head.decode("utf-8", "replace") if tap is not None and tap.head else "", fault_name, quota_name,
                near))


async def _vendor_error(request: Request, exc: VendorError) -> Response:
    return exc.response()


async def _hang(receive: Callable, max_seconds: float) -> None:
    """Wait for the client to disconnect, or `max_seconds`, whichever comes first."""

    async def until_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(until_disconnect(), timeout=max_seconds)
    except asyncio.TimeoutError:
        pass


def _dribbling(send: Callable, chunk: int, interval: float) -> Callable:
    """Send the body in small chunks with pauses between them (a slow network or an overloaded server)."""

    async def dribble(message: dict) -> None:
        if message["type"] != "http.response.body":
            await send(message)
            return
        data: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        for i in range(0, max(len(data), 1), chunk):
            last = i + chunk >= len(data)
            await send({"type": "http.response.body", "body": data[i : i + chunk], "more_body": more or not last})
            if not last:
                await asyncio.sleep(interval)

    return dribble
