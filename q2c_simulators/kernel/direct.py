"""Calling a vendor operation straight from the kernel, without FastAPI's per-request routing and solving.

The kernel resolves every request's row anyway (for quotas, faults and the journal). For an operation whose
parameters are the `Request`, path and query parameters of simple types (any pydantic constraint) and at most one
JSON body model, it then validates them itself, each with the same pydantic validation FastAPI builds for it
(`TypeAdapter(Annotated[type, Query(...)])`), and calls the method: the same code and the same answer at a fraction
of the cost (FastAPI's routing and solving was ~60% of a hot GET). Whatever it cannot vouch for (a value that does
not validate, a required parameter missing, a body that is not `application/json` or does not parse) goes to
FastAPI, which answers as it always does, its validation errors in the vendor's shape. Operations with headers,
forms, files or dependencies always go to FastAPI. Read from the method's own signature: no FastAPI internals.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union
from urllib.parse import parse_qsl

from fastapi import params
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from starlette.requests import Request
from starlette.responses import Response

_SCALARS = (str, int, float, bool)
_IMMUTABLE = (NoneType, str, int, float, bool)


@lru_cache(maxsize=1024)  # integration traffic repeats its queries (the same SOQL lookup), and unquoting is slow
def query_values(query_string: bytes) -> dict[str, str]:
    """The query string as Starlette reads it (the last of repeated names wins); shared, so read-only."""
    return dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))


class _Unsure(Exception):
    """A value only FastAPI may judge: the request goes to FastAPI, which answers as it always does."""


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    alias: str  # its name in the query string
    required: bool
    default: Any
    validate: Callable[[Any], Any] | None  # None: a plain string, taken as it is


def _scalar(annotation: Any) -> bool:
    """str, int, float, bool, a Literal of them, or an Optional of one of those: what a query or path value is."""
    if annotation in _SCALARS:
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return all(isinstance(v, _SCALARS) for v in typing.get_args(annotation))
    if origin is Annotated:
        return _scalar(typing.get_args(annotation)[0])
    if origin in (Union, UnionType):
        args = [a for a in typing.get_args(annotation) if a is not NoneType]
        return len(args) == 1 and _scalar(args[0])
    return False


def _model(annotation: Any) -> bool:
    """A pydantic model, or an Optional of one: a JSON body."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    if typing.get_origin(annotation) in (Union, UnionType):
        args = [a for a in typing.get_args(annotation) if a is not NoneType]
        return len(args) == 1 and _model(args[0])
    return False


def _validator(annotation: Any, info: FieldInfo | None) -> Callable[[Any], Any]:
    adapter = TypeAdapter(Annotated[annotation, info] if info is not None else annotation)

    def validate(value: Any) -> Any:
        try:
            return adapter.validate_python(value, from_attributes=True)
        except ValidationError:
            raise _Unsure from None

    return validate


@dataclass(frozen=True, slots=True)
class DirectCall:
    """One operation, called with the parameters the kernel's resolution already found."""

    endpoint: Callable[..., Any]
    request_param: str | None
    path: tuple[Param, ...]
    query: tuple[Param, ...]
    body: Param | None

    @classmethod
    def for_endpoint(cls, endpoint: Callable[..., Any], path: str) -> DirectCall | None:
        """The direct call of `endpoint` served at `path`, or None when its parameters need FastAPI's machinery."""
        if not inspect.iscoroutinefunction(endpoint):
            return None
        hints = typing.get_type_hints(endpoint, include_extras=True)
        returns = hints.get("return")
        if not (isinstance(returns, type) and issubclass(returns, Response)):
            return None
        in_path = {part.strip("{}").split(":")[0] for part in path.split("/") if part.startswith("{")}
        request_param, body = None, None
        path_params: list[Param] = []
        query: list[Param] = []
        for p in inspect.signature(endpoint).parameters.values():
            annotation, info, default = hints.get(p.name, Any), None, p.default
            if typing.get_origin(annotation) is Annotated:
                base, *extras = typing.get_args(annotation)
                info = next((e for e in extras if isinstance(e, FieldInfo)), None)
                if any(isinstance(e, params.Depends) for e in extras):
                    return None
                annotation = base
            if isinstance(default, FieldInfo):  # `x: int = Query(1, ge=1)`
                info, default = default, default.default
            if isinstance(annotation, type) and issubclass(annotation, Request):
                request_param = p.name
                continue
            if isinstance(info, (params.Header, params.Cookie, params.Form, params.File)) or isinstance(
                    default, params.Depends) or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                return None
            required = default is inspect.Parameter.empty or default is Ellipsis or default is PydanticUndefined
            if not required and not isinstance(default, _IMMUTABLE):
                return None  # FastAPI hands each request a copy of a mutable default
            if isinstance(info, params.Body) or (info is None and p.name not in in_path and _model(annotation)):
                if body is not None or (isinstance(info, params.Body) and info.embed) or not _model(annotation):
                    return None
                body = Param(p.name, p.name, required, None if required else default, _validator(annotation, info))
                continue
            if not _scalar(annotation):
                return None
            plain = annotation is str and (info is None or not info.metadata)
            validate = None if plain else _validator(annotation, info)
            alias = (info.alias if info is not None and info.alias else None) or p.name
            param = Param(p.name, alias, required, None if required else default, validate)
            if p.name in in_path or isinstance(info, params.Path):
                path_params.append(param)
            else:
                query.append(param)
        return cls(endpoint, request_param, tuple(path_params), tuple(query), body)

    async def __call__(self, request: Request, path_params: dict[str, Any]) -> Response | None:
        """The method's response, unsent (the kernel adds its headers); None when FastAPI must serve the request.
        Exceptions are the method's own, for the kernel's handlers."""
        try:
            kwargs = self._arguments(request, path_params)
            if self.body is not None:
                kwargs[self.body.name] = await self._body(request)
        except _Unsure:
            return None
        if self.request_param:
            kwargs[self.request_param] = request
        return await self.endpoint(**kwargs)

    def _arguments(self, request: Request, path_params: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for param in self.path:
            raw = path_params[param.alias]
            kwargs[param.name] = raw if param.validate is None else param.validate(raw)
        if self.query:
            values = query_values(request.scope["query_string"])
            for param in self.query:
                raw = values.get(param.alias)
                if raw is None:
                    if param.required:
                        raise _Unsure
                    kwargs[param.name] = param.default
                else:
                    kwargs[param.name] = raw if param.validate is None else param.validate(raw)
        return kwargs

    async def _body(self, request: Request) -> Any:
        """The body model, when the body is plain JSON that validates; anything else is FastAPI's to judge."""
        assert self.body is not None and self.body.validate is not None
        raw = await request.body()
        if not raw:
            if self.body.required:
                raise _Unsure
            return self.body.default
        content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type != "application/json":
            raise _Unsure
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise _Unsure from None
        return self.body.validate(data)
