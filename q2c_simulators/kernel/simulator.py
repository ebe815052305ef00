"""The Simulator base class and the kernel pipeline every request goes through.

A vendor simulator subclasses `Simulator` and supplies: its routes (a FastAPI app), a backend factory (its models,
state in a `Store`), how a request names its tenant, its own error shape, its own quota rejection, and its default
quotas. The kernel wraps the routes with tenants, quotas, faults, the journal and metrics, and serves `/__admin`.

Pipeline for a vendor request: resolve the route (unmatched: vendor 404 plus a near-miss hint) -> quotas (the
vendor's rejection) -> faults (latency, error, reset, dribble, hang) -> the route -> journal and metrics.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Route, get_route_path

from .clock import VirtualClock
from .direct import DirectCall
from .faults import FaultEngine
from .http import document_responses, first_header, install_method_not_allowed
from .http_server import WHOLE_RESPONSE
from .journal import Journal, JournalEntry, near_miss_routes
from .metrics import SimulatorMetrics
from .quotas import Admission, QuotaEngine, QuotaSpec
from .store import Tenants

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]

TENANT_HEADER = "x-sim-tenant"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class ResolvedRoute:
    operation: str  # the route's name
    template: str  # its path template
    direct: DirectCall | None  # None: FastAPI serves it
    path_params: dict[str, Any]


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


class Simulator:
    name: ClassVar[str] = "simulator"
    title: ClassVar[str] = "Simulator"

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: VirtualClock | None = None,
        journal_capacity: int = 10_000,
        journal_body_limit: int = 2048,
        snapshot_dir: str | Path = ".q2c/snapshots",
    ) -> None:
        self.clock = clock or VirtualClock()
        self.faults = FaultEngine(self.name, self.clock, seed)
        self.quotas = QuotaEngine(self.name, self.clock, self.default_quotas())
        self.journal = Journal(journal_capacity, journal_body_limit)
        self.metrics = SimulatorMetrics(self.name)
        self.tenants: Tenants[Any] = Tenants(self.new_backend)
        self.snapshot_dir = Path(snapshot_dir)
        self.routes_app: FastAPI = self.build_routes()
        self.routes_app.state.simulator = self
        install_method_not_allowed(
            self.routes_app, lambda message: self.error_response(405, "METHOD_NOT_ALLOWED", message))
        document_responses(self.routes_app, {429: "A vendor limit (kernel quota) refused the request"})
        self._route_cache: OrderedDict[tuple[str, str], ResolvedRoute | None] = OrderedDict()
        self._direct_calls: dict[int, DirectCall | None] = {}
        from .admin import build_admin_app  # the admin app reads this simulator's parts

        self.admin_app = build_admin_app(self)
        self.asgi: ASGIApp = self._dispatch

    @property
    def seed(self) -> int:
        return self.faults.seed

    # ---- what a vendor supplies --------------------------------------------------------------------------------
    def build_routes(self) -> FastAPI:
        raise NotImplementedError

    def new_backend(self, tenant_id: str) -> Any:
        raise NotImplementedError

    def default_quotas(self) -> list[QuotaSpec]:
        return []

    def tenant_of(self, headers: Headers, path: str) -> str | None:
        """The tenant a request belongs to. Vendors read it from their credentials; `X-Sim-Tenant` always wins."""
        return headers.get(TENANT_HEADER) or "default"

    def error_response(self, status: int, code: str | None, message: str | None, retry_after: float | None = None) -> Response:
        """An error in the vendor's own shape (used by error faults and unmatched routes)."""
        raise NotImplementedError

    def quota_response(self, quota: QuotaSpec, retry_after: float | None, tenant: str | None) -> Response:
        return self.error_response(429, None, f"quota {quota.name} exceeded", retry_after)

    def response_headers(self, tenant: str | None, admission: Admission | None) -> list[tuple[bytes, bytes]]:
        """Headers the vendor adds to every response (e.g. Salesforce's Sforce-Limit-Info); `admission` is this
        request's (None when no quota was asked), so usage it counted needs no second lookup."""
        return []

    def extend_admin(self, admin: FastAPI) -> None:
        """Add vendor-specific admin endpoints (custom fields, tokens, ...) to `/__admin`."""

    # ---- helpers for vendor routes -----------------------------------------------------------------------------
    def backend(self, request: Request) -> Any:
        return self.tenants.get(request.scope["state"]["tenant"])

    def reset(self) -> None:
        self.tenants.clear()
        self.journal.clear()
        self.faults.clear()
        self.quotas.reset(specs=True)
        self.clock.reset()

    def resolve_route(self, scope: Scope, method: str, path: str) -> ResolvedRoute | None:
        """The vendor route that serves this request (a partial match: the path is right, the method is not), or
        None. Cached per method and route path (the pipeline's, already read): the answer, path parameters
        included, depends on nothing else."""
        key = (method, path)
        cache = self._route_cache
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        result = None
        for route in self.routes_app.router.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                result = ResolvedRoute(getattr(route, "name", None) or "", getattr(route, "path", ""),
                                       self._direct_call(route), child.get("path_params", {}))
                break
            if match is Match.PARTIAL and result is None:
                result = ResolvedRoute(getattr(route, "name", None) or "", getattr(route, "path", ""), None, {})
        cache[key] = result
        if len(cache) > 4096:
            cache.popitem(last=False)
        return result

    def _direct_call(self, route: Any) -> DirectCall | None:
        key = id(route)  # routes compare by value and are not hashable; they live as long as the app
        if key not in self._direct_calls:
            self._direct_calls[key] = DirectCall.for_route(self.routes_app, route)
        return self._direct_calls[key]

    def route_templates(self) -> list[tuple[str, str]]:
        out = []
        for route in self.routes_app.router.routes:
            if isinstance(route, Route) and route.methods:
                out.extend((m, route.path) for m in sorted(route.methods) if m != "HEAD")
        return out

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
        route = self.resolve_route(scope, method, path)
        operation, template = (route.operation, route.template) if route else (None, "<unmatched>")
        seq = self.journal.next_seq()

        body = bytearray()
        if method in _BODY_METHODS:
            limit = self.journal.body_limit
            inner_receive = receive

            async def receive() -> dict:  # noqa: F811 - keep a copy of the first bytes for the journal
                message = await inner_receive()
                if message["type"] == "http.request" and len(body) < limit:
                    body.extend(message.get("body", b"")[: limit - len(body)])
                return message

        status = 0
        admission: Admission | None = None
        whole = WHOLE_RESPONSE in scope.get("extensions", ())  # the server takes a response in one message
        fault_name: str | None = None
        quota_name: str | None = None
        near: list[str] | None = None
        try:
            response: Response | None = None  # one the kernel holds (its own, or a direct call's): sent below
            if route is None:
                near = near_miss_routes(method, path, self.route_templates())
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
                        if not _abort(send):  # in-process there is no socket: the client sees the error instead
                            raise ConnectionReset(f"connection dropped by fault rule {fault.id} ({fault.kind})")
                        return
                    elif fault.kind == "dribble":
                        send = _dribbling(send, fault.chunk_bytes, fault.interval_ms / 1000)
                        whole = False  # the body goes in pieces
                if response is None and route.direct is not None:
                    response = await route.direct(scope, receive, send, route.path_params)
                if response is None:  # FastAPI serves it; the vendor's headers join its start message
                    async def send_with_headers(message: dict) -> None:
                        nonlocal status
                        if message["type"] == "http.response.start":
                            status = message["status"]
                            extra = self.response_headers(tenant, admission)
                            if extra:
                                message = {**message, "headers": [*message.get("headers", []), *extra]}
                        await send(message)

                    await self.routes_app(scope, receive, send_with_headers)
                    return
            status = response.status_code
            response.raw_headers.extend(self.response_headers(tenant, admission))  # now: usage counts this request
            if whole and type(response).__call__ is Response.__call__ and response.background is None:
                await send({"type": WHOLE_RESPONSE, "status": status, "headers": response.raw_headers,
                            "body": response.body})
            else:
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
                body.decode("utf-8", "replace") if body else "", fault_name, quota_name, near))


def _abort(send: Callable) -> bool:
    """Drop the TCP connection under a real server (uvicorn keeps its transport on the send callable's owner)."""
    owner = getattr(send, "__self__", None)
    for _ in range(4):  # our own send wrappers are closures; reach the server's through their cells
        if owner is not None:
            break
        cells = getattr(send, "__closure__", None) or ()
        inner = next((c.cell_contents for c in cells if callable(c.cell_contents)), None)
        if inner is None:
            break
        send = inner
        owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is None:
        return False
    transport.abort()
    return True


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
