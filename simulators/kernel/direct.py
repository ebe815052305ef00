"""Calling a vendor route straight from the kernel, without FastAPI's per-request routing and parameter solving.

The kernel resolves every request's route anyway (for quotas, faults and the journal) and caches the answer per
method and path. For a plain route, one whose endpoint takes only the `Request`, string path parameters and string
query parameters and returns a `Response`, it then calls the endpoint itself: the same code, the same exception
handlers, the same answer, at a fraction of the cost (FastAPI's routing and solving was ~60% of a hot GET). A route
with a body model, headers, dependencies, middleware or anything else keeps FastAPI's full machinery, and so does
a request that lacks a required query parameter, so validation errors stay FastAPI's and the vendor's own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.dependencies.utils import get_typed_return_annotation
from fastapi.routing import APIRoute
from starlette._exception_handler import _lookup_exception_handler
from starlette.convertors import PathConvertor, StringConvertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

_STR = (str, str | None)
_IMMUTABLE_DEFAULTS = (type(None), str)


@lru_cache(maxsize=1024)  # integration traffic repeats its queries (the same SOQL lookup), and unquoting is slow
def query_values(query_string: bytes) -> dict[str, str]:
    """The query string as Starlette reads it (the last of repeated names wins); shared, so read-only."""
    return dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    alias: str
    required: bool
    default: str | None


@dataclass(frozen=True, slots=True)
class DirectCall:
    """One plain `APIRoute`, called with the parameters the kernel's route resolution already found."""

    route: APIRoute
    request_param: str | None
    query: tuple[QueryParam, ...]
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
        if any(f.field_info.annotation is not str or f.field_info.metadata for f in d.path_params):
            return None  # a constraint (max_length, pattern ...) is FastAPI's to check
        query = []
        for f in d.query_params:
            default = f.field_info.default
            required = f.field_info.is_required()
            if (f.field_info.annotation not in _STR or f.field_info.metadata
                    or (not required and not isinstance(default, _IMMUTABLE_DEFAULTS))):
                return None
            query.append(QueryParam(f.name, f.alias, required, None if required else default))
        return cls(route, d.request_param_name, tuple(query), app.exception_handlers)

    async def __call__(self, scope: dict, receive: Callable, send: Callable, path_params: dict[str, str]
                       ) -> Response | None:
        """The endpoint's response, unsent (the kernel adds its headers); None when FastAPI must serve it."""
        kwargs: dict[str, Any] = dict(path_params)
        scope["path_params"] = path_params
        scope["endpoint"] = self.route.endpoint
        scope["route"] = self.route
        request = Request(scope, receive, send)
        if self.query:
            values = query_values(scope["query_string"])
            for param in self.query:
                value = values.get(param.alias)
                if value is None:
                    if param.required:
                        return None  # FastAPI answers with the validation error, in the vendor's shape
                    value = param.default
                kwargs[param.name] = value
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
