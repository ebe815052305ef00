"""Calling a vendor route straight from the kernel, without FastAPI's per-request routing and parameter solving.

The kernel resolves every request's route anyway (for quotas, faults and the journal) and caches the answer per
method and path. For a plain route, one whose endpoint takes only the `Request` and path and query parameters that
are strings (length bounds allowed), integers (range bounds allowed) or booleans, and returns a `Response`, it then
calls the endpoint itself: the same code, the same exception handlers, the same answer, at a fraction of the cost
(FastAPI's routing and solving was ~60% of a hot GET). A route with a body model, headers, dependencies, middleware
or anything else keeps FastAPI's full machinery, and so does every request whose parameters the direct call cannot
vouch for (a required one missing, a bound broken, a number or boolean in any but its plainest spelling), so
validation errors stay FastAPI's and the vendor's own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from annotated_types import Ge, Le, MaxLen, MinLen
from fastapi import FastAPI
from fastapi.dependencies.utils import get_typed_return_annotation
from fastapi.routing import APIRoute
from starlette._exception_handler import _lookup_exception_handler
from starlette.convertors import PathConvertor, StringConvertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

_UNSURE = object()  # a value only FastAPI may judge: the request goes to FastAPI, which answers as it always does
_FLAGS = {"true": True, "false": False}  # what clients send; the other spellings pydantic takes go to FastAPI
_IMMUTABLE_DEFAULTS = (type(None), str, int, bool)


@lru_cache(maxsize=1024)  # integration traffic repeats its queries (the same SOQL lookup), and unquoting is slow
def query_values(query_string: bytes) -> dict[str, str]:
    """The query string as Starlette reads it (the last of repeated names wins); shared, so read-only."""
    return dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))


def _converter(annotation: Any, metadata: list[Any]) -> Callable[[str], Any] | None:
    """Raw value -> the endpoint's argument as FastAPI would convert and check it, or _UNSURE; None for a
    parameter the direct call does not take on at all."""
    bounds = {type(m): m for m in metadata}
    if len(bounds) != len(metadata) or not set(bounds) <= {MinLen, MaxLen, Ge, Le}:
        return None
    shortest = bounds[MinLen].min_length if MinLen in bounds else 0
    longest = bounds[MaxLen].max_length if MaxLen in bounds else None
    lo = bounds[Ge].ge if Ge in bounds else None
    hi = bounds[Le].le if Le in bounds else None
    if annotation in (str, str | None) and lo is None and hi is None:
        if not metadata:
            return str
        return lambda v: v if shortest <= len(v) and (longest is None or len(v) <= longest) else _UNSURE
    if annotation in (int, int | None) and MinLen not in bounds and MaxLen not in bounds:
        def number(v: str) -> Any:
            n = int(v) if v.isascii() and v.isdigit() else None  # signs, blanks, "1_000": FastAPI's to judge
            return n if n is not None and (lo is None or n >= lo) and (hi is None or n <= hi) else _UNSURE
        return number
    if annotation in (bool, bool | None) and not metadata:
        return lambda v: _FLAGS.get(v, _UNSURE)
    return None


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    alias: str
    required: bool
    default: Any
    convert: Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class DirectCall:
    """One plain `APIRoute`, called with the parameters the kernel's route resolution already found."""

    route: APIRoute
    request_param: str | None
    path: tuple[Param, ...]  # the path parameters to convert or check (a plain string needs neither)
    query: tuple[Param, ...]
    handlers: dict[Any, Callable]  # the app's own exception handlers (status code or exception class)

    @classmethod
    def for_route(cls, app: FastAPI, route: Any) -> DirectCall | None:
        """The direct call for `route`, or None when the route needs FastAPI's machinery."""
        if not isinstance(route, APIRoute) or app.user_middleware:
            return None
        if any(key in (500, Exception) for key in app.exception_handlers):
            return None  # those run in Starlette's ServerErrorMiddleware, which the direct call skips
        d = route.dependant
        if (d.dependencies or d.body_params or d.header_params or d.cookie_params or d.background_tasks_param_name
                or d.response_param_name or d.websocket_param_name or d.http_connection_param_name
                or d.security_scopes_param_name or not inspect.iscoroutinefunction(route.endpoint)
                or not all(inspect.iscoroutinefunction(h) for h in app.exception_handlers.values())):
            return None
        returns = get_typed_return_annotation(route.endpoint)
        if not (isinstance(returns, type) and issubclass(returns, Response)):
            return None
        if not all(isinstance(c, (StringConvertor, PathConvertor)) for c in route.param_convertors.values()):
            return None
        path: list[Param] = []
        query: list[Param] = []
        for fields, params in ((d.path_params, path), (d.query_params, query)):
            for f in fields:
                info = f.field_info
                convert = _converter(info.annotation, info.metadata)
                required = info.is_required()
                if convert is None or (not required and not isinstance(info.default, _IMMUTABLE_DEFAULTS)):
                    return None
                params.append(Param(f.name, f.alias, required, None if required else info.default, convert))
        return cls(route, d.request_param_name, tuple(p for p in path if p.convert is not str), tuple(query),
                   app.exception_handlers)

    async def __call__(self, scope: dict, receive: Callable, send: Callable, path_params: dict[str, str]
                       ) -> Response | None:
        """The endpoint's response, unsent (the kernel adds its headers); None when FastAPI must serve it."""
        kwargs: dict[str, Any] = dict(path_params)
        for param in self.path:
            kwargs[param.name] = value = param.convert(path_params[param.alias])
            if value is _UNSURE:
                return None  # FastAPI answers with the validation error, in the vendor's shape
        scope["path_params"] = path_params
        scope["endpoint"] = self.route.endpoint
        scope["route"] = self.route
        request = Request(scope, receive, send)
        if self.query:
            values = query_values(scope["query_string"])
            for param in self.query:
                raw = values.get(param.alias)
                if raw is None:
                    if param.required:
                        return None
                    kwargs[param.name] = param.default
                    continue
                kwargs[param.name] = value = param.convert(raw)
                if value is _UNSURE:
                    return None
        if self.request_param:
            kwargs[self.request_param] = request
        try:
            return await self.route.endpoint(**kwargs)
        except Exception as exc:
            return await self._handled(request, exc)

    async def _handled(self, request: Request, exc: Exception) -> Response:
        """What Starlette's exception middleware would answer (the same handler lookup); re-raise when unhandled."""
        handler = self.handlers.get(exc.status_code) if isinstance(exc, HTTPException) else None
        handler = handler or _lookup_exception_handler(
            {k: v for k, v in self.handlers.items() if not isinstance(k, int)}, exc)
        if handler is None:
            raise exc
        return await handler(request, exc)
