"""HTTP routes of the PSA simulator: Kantata OX API v1 under /api/v1, every path with or without `.json`.

Each resource gets list / create (one object or a bulk list of up to 300) / get / update / delete, generated from
its declaration in models.py; state transitions (approve, reject, accept, cancel) are PUT actions. Request bodies
are strict pydantic models generated from the same declarations, so the OpenAPI document and the validation agree.
"""

# No `from __future__ import annotations`: FastAPI reads the generated signatures' annotations as objects.
import inspect
import re
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal, Optional, Union

from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, create_model
from pydantic import model_validator
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import get_route_path

from . import events as ev
from .exceptions import ArgumentError, PsaError, error_response
from .models import RESOURCES, FieldSpec, ResourceType
from .responses import envelope, json_response

MAX_BULK = 300
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 20


class _JsonSuffix(Convertor):
    """Matches an optional `.json` suffix: Kantata clients send `/workspaces.json`, others `/workspaces`."""

    regex = r"(?:\.json)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("psa_json", _JsonSuffix())
SUFFIX = "{fmt:psa_json}"


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


DateTimeIn = Annotated[str, BeforeValidator(_datetime_text), WithJsonSchema({"type": "string", "format": "date-time"})]
IdIn = Annotated[
    Union[Annotated[int, Field(ge=1, le=10**18)], Annotated[str, Field(pattern=r"^[1-9][0-9]{0,17}$")]],
    AfterValidator(str),
]
DateIn = Annotated[str, BeforeValidator(_date_text), WithJsonSchema({"type": "string", "format": "date"})]


class RateIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    role_id: Optional[IdIn] = None
    region: Optional[Annotated[str, Field(min_length=1, max_length=64)]] = None
    rate_in_cents: Annotated[int, Field(ge=0, le=10**11)]


def _annotation(f: FieldSpec, required: bool) -> Any:
    if f.kind in ("str", "text"):
        t: Any = Annotated[str, Field(min_length=1 if required else 0, max_length=10_000 if f.kind == "text" else f.max_length)]
    elif f.kind == "int":
        t = Annotated[int, Field(ge=f.ge if f.ge is not None else -(2**53), le=f.le if f.le is not None else 2**53)]
    elif f.kind == "money":
        t = Annotated[int, Field(ge=f.ge if f.ge is not None else 0, le=10**13)]
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


def _item_models(rt: ResourceType) -> tuple[type[BaseModel], type[BaseModel]]:
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


def _create_envelope(rt: ResourceType, item: type[BaseModel]) -> type[BaseModel]:
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


class ErrorItem(BaseModel):
    type: str
    message: str
    field: Optional[str] = None


class ErrorBody(BaseModel):
    errors: list[ErrorItem]


class ResultRef(BaseModel):
    key: str
    id: str


class Meta(BaseModel):
    count: int
    page_count: int
    page_number: int
    page_size: int


class Envelope(BaseModel):
    """Kantata's side-loaded envelope; one map per returned type, keyed by id."""

    model_config = ConfigDict(extra="allow")
    count: int
    results: list[ResultRef]
    meta: Meta


class Comment(_StrictIn):
    comment: Optional[Annotated[str, Field(max_length=10_000)]] = None


class Reason(_StrictIn):
    reason: Optional[Annotated[str, Field(max_length=10_000)]] = None


class SubmissionIds(_StrictIn):
    submission_ids: Annotated[list[IdIn], Field(min_length=1, max_length=MAX_BULK)]
    comment: Optional[Annotated[str, Field(max_length=10_000)]] = None


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "bad query parameter or unparsable JSON", 401: "missing or invalid bearer token",
            404: "no such record", 409: "the record's state does not allow this", 422: "validation failed",
            429: "rate limited (a kernel quota); no limit headers"}
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


# ---- query parameters -------------------------------------------------------------------------------------------
def _param(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


_REQUEST = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
_ID = _param("id", Annotated[int, Path(ge=1, le=10**18, description="record id")], inspect.Parameter.empty)


def _choice_list(names: Any) -> str:
    """A comma list of exactly these names (`^$` when there are none)."""
    if not names:
        return "^$"
    alt = "|".join(names)
    return f"^({alt})(,({alt})){{0,20}}$"


def _shape_params(rt: ResourceType) -> list[inspect.Parameter]:
    includes = ", ".join(rt.includes) or "none"
    optional = ", ".join(rt.optional_fields) or "none"
    return [
        _param("include", Annotated[Optional[str], Query(pattern=_choice_list(rt.includes),
                                                         description=f"side-load: {includes}")]),
        _param("optional_fields", Annotated[Optional[str], Query(pattern=_choice_list(rt.optional_fields),
                                                                 description=f"add: {optional}")]),
    ]


def _list_params(rt: ResourceType) -> list[inspect.Parameter]:
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
        *_shape_params(rt),
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


def _names(value: Optional[str], allowed: Any, field: str) -> list[str]:
    if not value:
        return []
    names = list(dict.fromkeys(value.split(",")))
    for n in names:
        if n not in allowed:
            raise ArgumentError(f"{field}: {n!r} is not one of {', '.join(allowed) or 'nothing'}", field)
    return names


def _signed(fn: Any, params: list[inspect.Parameter]) -> Any:
    fn.__signature__ = inspect.Signature([_REQUEST, *params])
    return fn


def build_app(sim: Any) -> FastAPI:
    """The routes app; `sim` is the PsaSimulator (backend lookup, clock, faults)."""
    app = FastAPI(
        title="PSA simulator (Kantata OX API v1)", version="1.0.0", docs_url="/docs", redoc_url=None,
        description="Kantata OX / Mavenlink API v1 as a simulator: side-loaded envelope, `.json` paths optional, "
                    "bearer tokens minted at POST /__admin/psa/tokens. See docs/psa.md.",
    )
    app.add_middleware(AuthGate, sim=sim)

    @app.exception_handler(PsaError)
    async def on_psa_error(request: Request, exc: PsaError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        status = 422
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ())]
            where = loc[0] if loc else "body"
            if where == "path":  # /workspaces/0.json names no record: Kantata's 404
                return error_response(404, "The requested resource does not exist")
            field = ".".join(loc[2:] if where == "body" and len(loc) > 2 else loc[1:]) or None
            if where != "body" or e.get("type") == "json_invalid":
                status = 400
            errors.append({"type": "argument" if where != "body" or e.get("type") == "json_invalid" else "validation",
                           "message": f"{field or where}: {e.get('msg')}", "field": field})
        if status == 400:
            errors = [e for e in errors if e["type"] == "argument"]
        return PsaError("invalid request", status=status, errors=errors).response()

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(exc.status_code, str(exc.detail))

    def ctx(request: Request) -> tuple[Any, Optional[str]]:
        return sim.backend(request), request.scope["state"].get("psa_user")

    # ---- generic resources ---------------------------------------------------------------------------------------
    for rt in RESOURCES.values():
        _add_resource(app, sim, rt, ctx)

    # ---- actions ----------------------------------------------------------------------------------------------
    def action(path: str, name: str, fn: Any, body: Any, summary: str) -> None:
        app.add_api_route(f"/api/v1/{path}{SUFFIX}", fn, methods=["PUT"], name=name, summary=summary,
                          response_model=None, responses={200: {"model": Envelope}, **_errors(400, 401, 404, 409, 422, 429)})

    def one(backend: Any, key: str, rec: dict) -> Response:
        return json_response(envelope(backend, RESOURCES[key], [rec], 1, 1, 1))

    for verb in ("approve", "reject", "cancel"):
        def make(verb: str = verb) -> Any:
            async def resolve_timesheet(request: Request, id: Annotated[int, Path(ge=1, le=10**18)],
                                        body: Annotated[Optional[Comment], Body()] = None) -> Response:
                backend, user = ctx(request)
                rec = backend.resolve_timesheet(str(id), verb, user, body.comment if body else None)
                return one(backend, "timesheet_submissions", rec)
            return resolve_timesheet
        action(f"timesheet_submissions/{{id:int}}/{verb}", f"{verb}_timesheet_submission", make(), Comment,
               f"{verb.title()} a pending timesheet submission; its time entries follow")

    for verb, key in (("approve", "timesheet_approvals"), ("reject", "timesheet_rejections")):
        def make_bulk(verb: str = verb, key: str = key) -> Any:
            async def bulk_resolve(request: Request, body: SubmissionIds) -> Response:
                backend, user = ctx(request)
                recs = backend.resolve_timesheets([str(i) for i in body.submission_ids], verb, user, body.comment)
                rt = RESOURCES["timesheet_submissions"]
                return json_response(envelope(backend, rt, recs, len(recs), 1, max(len(recs), 1)))
            return bulk_resolve
        app.add_api_route(f"/api/v1/{key}{SUFFIX}", make_bulk(), methods=["POST"], name=f"create_{key}",
                          summary=f"Bulk {verb} timesheet submissions (all or none)", response_model=None,
                          responses={200: {"model": Envelope}, **_errors(400, 401, 404, 409, 422, 429)})

    for verb in ("approve", "reject"):
        def make_exp(verb: str = verb) -> Any:
            async def resolve_expense_report(request: Request, id: Annotated[int, Path(ge=1, le=10**18)],
                                             body: Annotated[Optional[Comment], Body()] = None) -> Response:
                backend, user = ctx(request)
                rec = backend.resolve_expense_report(str(id), verb, user, body.comment if body else None)
                return one(backend, "expense_report_submissions", rec)
            return resolve_expense_report
        action(f"expense_report_submissions/{{id:int}}/{verb}", f"{verb}_expense_report_submission", make_exp(),
               Comment, f"{verb.title()} a pending expense report; its expenses follow")

    for verb in ("accept", "reject"):
        def make_ms(verb: str = verb) -> Any:
            async def resolve_milestone(request: Request, id: Annotated[int, Path(ge=1, le=10**18)],
                                        body: Annotated[Optional[Reason], Body()] = None) -> Response:
                backend, user = ctx(request)
                rec = backend.resolve_milestone(str(id), verb, user, body.reason if body else None)
                return one(backend, "billing_milestones", rec)
            return resolve_milestone
        action(f"billing_milestones/{{id:int}}/{verb}", f"{verb}_billing_milestone", make_ms(), Reason,
               f"{verb.title()} a billing milestone (client acceptance)")

    async def cancel_invoice(request: Request, id: Annotated[int, Path(ge=1, le=10**18)]) -> Response:
        backend, user = ctx(request)
        return one(backend, "invoices", backend.cancel_invoice(str(id), user))

    action("invoices/{id:int}/cancel", "cancel_invoice", cancel_invoice, None,
           "Cancel an invoice; its time, expenses and milestones become billable again")

    async def me(request: Request) -> Response:
        backend, user = ctx(request)
        if user is None:
            raise PsaError("this token belongs to the account, not to a user", status=404)
        return one(backend, "users", backend.get("users", user))

    app.add_api_route(f"/api/v1/users/me{SUFFIX}", me, methods=["GET"], name="get_current_user", response_model=None,
                      summary="The token's user", responses={200: {"model": Envelope}, **_errors(401, 404, 429)})

    # ---- subscribed events ------------------------------------------------------------------------------------
    async def list_subscribed_events(
        request: Request,
        created_after: Annotated[Optional[DateTimeIn], Query(description="events created strictly after")] = None,
        since_id: Annotated[Optional[int], Query(ge=0, le=10**18, description="events with a greater id")] = None,
        event_types: Annotated[Optional[str], Query(pattern=r"^[a-z_]{1,64}:([a-z_]{1,64}|\*)(,[a-z_]{1,64}:([a-z_]{1,64}|\*)){0,60}$",
                                                    description="comma list, e.g. time_entry:created,invoice:*")] = None,
        per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 100,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    ) -> Response:
        backend, _ = ctx(request)
        rows = backend.events(created_after=created_after, since_id=since_id,
                              event_types=event_types.split(",") if event_types else None)
        total = len(rows)
        chunk = rows[(page - 1) * per_page: page * per_page]
        chunk = ev.apply_feed_faults(sim, request.scope["state"]["tenant"], chunk)
        body = {"count": total, "results": [{"key": "subscribed_events", "id": e["id"]} for e in chunk],
                "subscribed_events": {e["id"]: e for e in chunk},
                "meta": {"count": total, "page_count": (total + per_page - 1) // per_page, "page_number": page,
                         "page_size": per_page}}
        return json_response(body)

    app.add_api_route(
        f"/api/v1/subscribed_events{SUFFIX}", list_subscribed_events, methods=["GET"], name="list_subscribed_events",
        response_model=None, summary="Subscribed events (pull): at least once, possibly duplicated and out of order",
        description="`results` order is delivery order (faults may duplicate and reorder within a page); "
                    "the `subscribed_events` map is keyed by event id, so a duplicate appears once in the map.",
        responses={200: {"model": Envelope}, **_errors(400, 401, 429)})

    _customize_openapi(app)
    return app


def _add_resource(app: FastAPI, sim: Any, rt: ResourceType, ctx: Any) -> None:
    key = rt.key
    create_item, update_item = _item_models(rt)
    order_fields = ("id", "created_at", "updated_at", *rt.order_fields)

    async def list_records(request: Request, query: Any) -> Response:
        q = query.__dict__
        backend, _ = ctx(request)
        includes = _names(q["include"], rt.includes, "include")
        optional = _names(q["optional_fields"], rt.optional_fields, "optional_fields")
        filters = {}
        for name in rt.filters:
            value = q.get(name)
            if value is not None:
                filters[name] = value
        between = None
        if q.get("date_performed_between"):
            lo, hi = q["date_performed_between"].split(":")
            between = (lo, hi)
        only = q["only"].split(",") if q["only"] else None
        rows = backend.query(key, filters, only=only, updated_after=q["updated_after"],
                             created_after=q["created_after"], date_between=between)
        if q["order"]:
            field, _, direction = q["order"].partition(":")
            if field not in order_fields:
                raise ArgumentError(f"order: {field!r} is not one of {', '.join(order_fields)}", "order")
            if field == "id":
                rows = sorted(rows, key=lambda r: int(r["id"]), reverse=direction == "desc")
            else:
                rows = sorted(rows, key=lambda r: (r.get(field) is None, r.get(field) or "", int(r["id"])),
                              reverse=direction == "desc")
        total = len(rows)
        if q["limit"] is not None or q["offset"] is not None:
            size = q["limit"] or DEFAULT_PER_PAGE
            start = q["offset"] or 0
            page = start // size + 1
        else:
            size, page = q["per_page"], q["page"]
            start = (page - 1) * size
        body = envelope(backend, rt, rows[start:start + size], total, page, size,
                        includes=includes, optional_fields=optional)
        return json_response(body)

    # One query model per resource: FastAPI validates it in one pass (much cheaper than 20 separate parameters
    # on the hottest route) and still documents each parameter in the OpenAPI.
    camel = "".join(p.title() for p in rt.singular.split("_"))
    query_model = create_model(f"{camel}ListQuery", **{
        p.name: (p.annotation, p.default) for p in _list_params(rt)})
    list_records.__signature__ = inspect.Signature([_REQUEST, inspect.Parameter(
        "query", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[query_model, Query()])])
    app.add_api_route(f"/api/v1/{key}{SUFFIX}", list_records, methods=["GET"],
                      name=f"list_{key}", summary=f"List {key}", response_model=None, tags=[key],
                      description=rt.description or None,
                      responses={200: {"model": Envelope}, **_errors(400, 401, 429)})

    async def get_record(request: Request, **q: Any) -> Response:
        backend, _ = ctx(request)
        includes = _names(q["include"], rt.includes, "include")
        optional = _names(q["optional_fields"], rt.optional_fields, "optional_fields")
        rec = backend.get(key, str(q["id"]))
        return json_response(envelope(backend, rt, [rec], 1, 1, 1, includes=includes, optional_fields=optional))

    app.add_api_route(f"/api/v1/{key}/{{id:int}}{SUFFIX}", _signed(get_record, [_ID, *_shape_params(rt)]),
                      methods=["GET"], name=f"get_{rt.singular}", summary=f"One {rt.singular}", response_model=None,
                      tags=[key], responses={200: {"model": Envelope}, **_errors(400, 401, 404, 429)})

    if rt.creatable:
        create_body = _create_envelope(rt, create_item)

        async def create_records(request: Request, body: Any) -> Response:
            backend, user = ctx(request)
            single = getattr(body, rt.singular, None)
            if single is not None:
                recs = [backend.create(key, single.model_dump(exclude_unset=True), user)]
            else:
                recs = backend.create_many(key, [b.model_dump(exclude_unset=True) for b in getattr(body, key)], user)
            return json_response(envelope(backend, rt, recs, len(recs), 1, len(recs)), 201)

        create_records.__signature__ = inspect.Signature([
            _REQUEST, inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=create_body)])
        bulk = f" (or `{key}`: a list of up to {MAX_BULK}, all or none)" if rt.bulk else ""
        app.add_api_route(f"/api/v1/{key}{SUFFIX}", create_records, methods=["POST"], name=f"create_{key}",
                          summary=f"Create a {rt.singular}{bulk}", response_model=None, tags=[key], status_code=201,
                          responses={201: {"model": Envelope}, **_errors(400, 401, 409, 422, 429)})

    if rt.updatable:
        update_body = create_model(
            f"{update_item.__name__}Request", __base__=_StrictIn, **{rt.singular: (update_item, ...)})

        async def update_record(request: Request, id: int, body: Any) -> Response:
            backend, user = ctx(request)
            rec = backend.update(key, str(id), getattr(body, rt.singular).model_dump(exclude_unset=True), user)
            return json_response(envelope(backend, rt, [rec], 1, 1, 1))

        update_record.__signature__ = inspect.Signature([
            _REQUEST, _ID.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=update_body)])
        app.add_api_route(f"/api/v1/{key}/{{id:int}}{SUFFIX}", update_record, methods=["PUT"],
                          name=f"update_{rt.singular}", summary=f"Update a {rt.singular}", response_model=None,
                          tags=[key], responses={200: {"model": Envelope}, **_errors(400, 401, 404, 409, 422, 429)})

    if rt.deletable:
        async def delete_record(request: Request, id: int) -> Response:
            backend, user = ctx(request)
            backend.delete(key, str(id), user)
            return Response(status_code=204)

        delete_record.__signature__ = inspect.Signature([
            _REQUEST, _ID.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)])
        app.add_api_route(f"/api/v1/{key}/{{id:int}}{SUFFIX}", delete_record, methods=["DELETE"],
                          name=f"delete_{rt.singular}", summary=f"Delete a {rt.singular}", response_model=None,
                          tags=[key], status_code=204, responses={**_errors(401, 404, 409, 422, 429)})


class AuthGate:
    """Pure ASGI gate for /api/: a valid bearer token or Kantata's 401. Sets `state.psa_user` (None for an
    account-level token)."""

    def __init__(self, app: Any, sim: Any) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and get_route_path(scope).startswith("/api/"):
            auth = None
            for k, v in scope["headers"]:
                if k == b"authorization":
                    auth = v.decode("latin-1")
                    break
            principal = self.sim.principal(auth)
            if principal is None:
                response = error_response(401, "Invalid OAuth 2 Request",
                                          headers={"WWW-Authenticate": 'Bearer realm="psa"'})
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})["psa_user"] = principal[1]
        await self.app(scope, receive, send)


def _customize_openapi(app: FastAPI) -> None:
    """`{fmt}` (the optional `.json` suffix) is documented as `.json`, the form Kantata documents; bearer auth."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema["paths"] = {p.replace("{fmt}", ".json"): v for p, v in schema["paths"].items()}
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearerAuth"] = {
            "type": "http", "scheme": "bearer", "description": "token from POST /__admin/psa/tokens"}
        schema["security"] = [{"bearerAuth": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
