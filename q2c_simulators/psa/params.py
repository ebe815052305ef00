"""The PSA's request parameters, generated from the resource declarations (schema.py): strict body models per
resource (create: one object or a bulk list; update), the query parameters of list and get, and the action bodies.
FastAPI validates with them and documents them, and the kernel's direct calls validate with the same pydantic
adapters, so the OpenAPI document and the validation agree.
"""

# No `from __future__ import annotations`: the generated models and signatures need their annotations as objects.
import inspect
import re
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal, Optional, Union

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, create_model
from pydantic import model_validator

from . import events as ev
from .exceptions import ArgumentError
from .schema import FieldSpec, ResourceType

MAX_BULK = 300
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 20


# ---- input types ------------------------------------------------------------------------------------------------
def _date_text(value: Any) -> Any:
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("a date must be a string YYYY-MM-DD")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError("a date must be a valid YYYY-MM-DD") from None


_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _datetime_text(value: Any) -> Any:
    """RFC 3339 date-time -> UTC ISO text with microseconds (the form timestamps are stored and compared in)."""
    m = _RFC3339.match(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError("a date-time must be RFC 3339, e.g. 2024-03-01T09:00:00Z")
    day, clock, fraction, zone = m.groups()
    fraction = (fraction or ".0")[:7]
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{fraction}{zone}")
    except ValueError:
        raise ValueError("a date-time must be a valid RFC 3339 instant") from None
    return ev.iso(moment.astimezone(timezone.utc))


def _integral(value: Any) -> Any:
    """1.0 is an integer in JSON Schema (the OpenAPI says `integer`), so a body may send it; 1.5 is not."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return value


# a JSON body's integer (strict models otherwise take only JSON ints: 60, not 60.0); after the Field, so that the
# OpenAPI keeps its minimum and maximum
INTEGRAL = BeforeValidator(_integral)
DateTimeIn = Annotated[str, BeforeValidator(_datetime_text), WithJsonSchema({"type": "string", "format": "date-time"})]
IdIn = Annotated[
    Union[Annotated[int, Field(ge=1, le=10**18), INTEGRAL], Annotated[str, Field(pattern=r"^[1-9][0-9]{0,17}$")]],
    AfterValidator(str),
]
DateIn = Annotated[str, BeforeValidator(_date_text), WithJsonSchema({"type": "string", "format": "date"})]


class RateIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    role_id: Optional[IdIn] = None
    region: Optional[Annotated[str, Field(min_length=1, max_length=64)]] = None
    rate_in_cents: Annotated[int, Field(ge=0, le=10**11), INTEGRAL]


def _annotation(f: FieldSpec, required: bool) -> Any:
    if f.kind in ("str", "text"):
        t: Any = Annotated[str, Field(min_length=1 if required else 0, max_length=10_000 if f.kind == "text" else f.max_length)]
    elif f.kind == "int":
        t = Annotated[int, Field(ge=f.ge if f.ge is not None else -(2**53), le=f.le if f.le is not None else 2**53),
                      INTEGRAL]
    elif f.kind == "money":
        t = Annotated[int, Field(ge=f.ge if f.ge is not None else 0, le=10**13), INTEGRAL]
    elif f.kind == "bool":
        t = bool
    elif f.kind == "date":
        t = DateIn
    elif f.kind == "enum":
        t = Literal[f.choices]  # type: ignore[valid-type]
    elif f.kind == "ref":
        t = IdIn
    elif f.kind == "ids":
        t = Annotated[list[IdIn], Field(max_length=MAX_BULK)]
    elif f.kind == "rates":
        t = Annotated[list[RateIn], Field(min_length=1, max_length=200)]
    else:
        raise ValueError(f.kind)
    return t


class _StrictIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


def item_models(rt: ResourceType) -> tuple[type[BaseModel], type[BaseModel]]:
    create_fields: dict[str, Any] = {}
    update_fields: dict[str, Any] = {}
    camel = "".join(p.title() for p in rt.singular.split("_"))
    for name, f in rt.fields.items():
        if not f.writable:
            continue
        desc = {"description": f.description} if f.description else {}
        if f.required and f.default is None:
            create_fields[name] = (_annotation(f, True), Field(**desc))
        else:
            create_fields[name] = (Optional[_annotation(f, False)], Field(default=None, **desc))
        if f.updatable:
            if f.required:
                update_fields[name] = (_annotation(f, True), Field(default=None, **desc))
            else:
                update_fields[name] = (Optional[_annotation(f, False)], Field(default=None, **desc))
    create = create_model(f"{camel}Attributes", __base__=_StrictIn, **create_fields)
    update = create_model(f"{camel}Changes", __base__=_StrictIn, **update_fields)
    return create, update


def update_envelope(rt: ResourceType, item: type[BaseModel]) -> type[BaseModel]:
    return create_model(f"{item.__name__}Request", __base__=_StrictIn, **{rt.singular: (item, ...)})


def create_envelope(rt: ResourceType, item: type[BaseModel]) -> type[BaseModel]:
    camel = "".join(p.title() for p in rt.singular.split("_"))
    if not rt.bulk:
        return create_model(f"{camel}CreateRequest", __base__=_StrictIn, **{rt.singular: (item, ...)})
    single, plural = rt.singular, rt.key

    def exactly_one(self: Any) -> Any:
        if (getattr(self, single) is None) == (getattr(self, plural) is None):
            raise ValueError(f"send either {single} (one object) or {plural} (a list of up to {MAX_BULK})")
        return self

    class _OneOf(_StrictIn):
        model_config = ConfigDict(strict=True, extra="ignore", json_schema_extra={
            "oneOf": [{"required": [single]}, {"required": [plural]}]})

    return create_model(
        f"{camel}CreateRequest", __base__=_OneOf,
        __validators__={"exactly_one": model_validator(mode="after")(exactly_one)},
        **{single: (item, Field(default=None, description="one object")),
           plural: (Annotated[list[item], Field(min_length=1, max_length=MAX_BULK)],
                    Field(default=None, description=f"bulk create: up to {MAX_BULK} objects, all or none"))},
    )


class Comment(_StrictIn):
    comment: Optional[Annotated[str, Field(max_length=10_000)]] = None


class Reason(_StrictIn):
    reason: Optional[Annotated[str, Field(max_length=10_000)]] = None


class SubmissionIds(_StrictIn):
    submission_ids: Annotated[list[IdIn], Field(min_length=1, max_length=MAX_BULK)]
    comment: Optional[Annotated[str, Field(max_length=10_000)]] = None


IdPath = Annotated[int, Path(ge=1, le=10**18, description="record id")]


def _param(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    """A keyword-only parameter of a generated operation."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def choice_list(names: Any) -> str:
    """A comma list of exactly these names (`^$` when there are none)."""
    if not names:
        return "^$"
    alt = "|".join(names)
    return f"^({alt})(,({alt})){{0,20}}$"


def shape_params(rt: ResourceType) -> list[inspect.Parameter]:
    includes = ", ".join(rt.includes) or "none"
    optional = ", ".join(rt.optional_fields) or "none"
    return [
        _param("include", Annotated[Optional[str], Query(pattern=choice_list(rt.includes),
                                                         description=f"side-load: {includes}")]),
        _param("optional_fields", Annotated[Optional[str], Query(pattern=choice_list(rt.optional_fields),
                                                                 description=f"add: {optional}")]),
    ]


def list_params(rt: ResourceType) -> list[inspect.Parameter]:
    params = [
        _param("page", Annotated[int, Query(ge=1, le=1_000_000)], 1),
        _param("per_page", Annotated[int, Query(ge=1, le=MAX_PER_PAGE)], DEFAULT_PER_PAGE),
        _param("limit", Annotated[Optional[int], Query(ge=1, le=MAX_PER_PAGE, description="with offset, instead of page")]),
        _param("offset", Annotated[Optional[int], Query(ge=0, le=10**9)]),
        _param("only", Annotated[Optional[str], Query(pattern=r"^[0-9]{1,18}(,[0-9]{1,18}){0,199}$",
                                                      description="ids; a missing id is no error")]),
        _param("order", Annotated[Optional[str], Query(
            pattern="^(" + "|".join(("id", "created_at", "updated_at", *rt.order_fields)) + ")(:(asc|desc))?$",
            description="field:asc|desc over " + ", ".join(("id", "created_at", "updated_at", *rt.order_fields)))]),
        _param("updated_after", Annotated[Optional[DateTimeIn], Query()]),
        _param("created_after", Annotated[Optional[DateTimeIn], Query()]),
        *shape_params(rt),
    ]
    for name in rt.filters:
        f = rt.fields[name]
        if f.kind == "ref":
            ann: Any = Annotated[Optional[str], Query(pattern=r"^[1-9][0-9]{0,17}$")]
        elif f.kind == "enum":
            ann = Annotated[Optional[Literal[f.choices]], Query()]  # type: ignore[valid-type]
        elif f.kind == "date":
            ann = Annotated[Optional[DateIn], Query()]
        else:
            ann = Annotated[Optional[str], Query(min_length=1, max_length=255)]
        params.append(_param(name, ann))
    if rt.key == "time_entries":
        params.append(_param("date_performed_between", Annotated[Optional[str], Query(
            pattern=r"^\d{4}-\d{2}-\d{2}:\d{4}-\d{2}-\d{2}$", description="start:end, inclusive")]))
    return params


def names(value: Optional[str], allowed: Any, field: str) -> list[str]:
    """The distinct names of a comma list (include=, optional_fields=), each one of `allowed`."""
    if not value:
        return []
    chosen = list(dict.fromkeys(value.split(",")))
    for n in chosen:
        if n not in allowed:
            raise ArgumentError(f"{field}: {n!r} is not one of {', '.join(allowed) or 'nothing'}", field)
    return chosen
