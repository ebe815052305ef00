"""Small HTTP corrections every simulator app gets from the kernel."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match


def json_bytes(content: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact UTF-8 JSON for response bodies: orjson (~6x json.dumps on a record), and json.dumps's answer for
    what orjson refuses (an int beyond 64 bits). Datetimes and dataclasses go to `default`, as with json.dumps."""
    try:
        return orjson.dumps(content, default=default, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(content, default=default, ensure_ascii=False, separators=(",", ":")).encode()


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def header_value(scope: dict, name: bytes) -> str | None:
    """The first value of a request header (`name` lower-case, as ASGI servers deliver names), without building
    Starlette's `Headers` (a copy of the list) for one lookup on a hot path."""
    return first_header(scope["headers"], name)


def first_header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's own 405 names only the first route's).

    As in OpenAPI, the most literal template wins: /faults/profile over /faults/{rule_id}.
    """
    best, methods = -1, set()
    for route in app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches({**request.scope, "method": next(iter(route_methods))})[0] is Match.FULL:
            literal = sum(1 for part in getattr(route, "path", "").split("/") if part and "{" not in part)
            if literal > best:
                best, methods = literal, set(route_methods)
            elif literal == best:
                methods |= route_methods
    return sorted(methods)


def install_method_not_allowed(app: FastAPI, render: Callable[[str], Response] | None = None) -> None:
    """Answer 405 with an Allow header listing every method of the resource, in the app's own error shape."""
    previous = app.exception_handlers.get(StarletteHTTPException)

    async def handler(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code != 405:
            if previous is not None:
                return await previous(request, exc)
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=getattr(exc, "headers", None))
        allow = ", ".join(allowed_methods(app, request))
        message = f"HTTP method {request.method} is not allowed for this resource; allowed: {allow}"
        response = render(message) if render else JSONResponse({"detail": message}, 405)
        response.status_code = 405
        response.headers["Allow"] = allow
        return response

    app.add_exception_handler(StarletteHTTPException, handler)


def document_responses(app: FastAPI, responses: dict[int, str], *, with_body_only: set[int] = frozenset()) -> None:
    """Add statuses every operation can return (a body that does not parse, a quota) to the app's OpenAPI."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                for status, description in responses.items():
                    if status in with_body_only and "requestBody" not in operation:
                        continue
                    operation["responses"].setdefault(str(status), {"description": description})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
