"""The Kantata wire format: the responses class (one method per operation of urls.py) and the side-loaded
envelope it answers with.

```json
{"count": 57, "results": [{"key": "workspaces", "id": "123"}], "workspaces": {"123": {...}},
 "meta": {"count": 57, "page_count": 3, "page_number": 1, "page_size": 20}}
```
(vendor-apis.md section 3). Ids are strings. Money goes out as integer cents in `*_in_cents` fields (schema.to_wire;
the models keep `Decimal` major units); invoice line quantities are decimal strings.

Each resource's list / get / create / update / delete operations are generated from its declaration (schema.py),
with typed signatures (params.py), so FastAPI, the OpenAPI document and the kernel's direct calls read the same
parameters; the actions, the current user and the event feed are written out below. The kernel has already
authenticated every operation (`authenticate` in simulator.py); `self.context(request)` is the account's backend and
the token's user.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Optional

from fastapi import Body, Query
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response

from q2c_simulators.kernel import Responses, operation

from . import events as ev
from . import params as p
from .exceptions import ArgumentError, PsaError
from .models import PsaBackend
from .schema import RESOURCES, ResourceType, to_wire

if TYPE_CHECKING:
    from .simulator import PsaSimulator

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def ids_key(include_name: str) -> str:
    """`stories` -> `story_ids`, `participations` -> `participation_ids` (has-many includes list ids)."""
    if include_name.endswith("ies"):
        return include_name[:-3] + "y_ids"
    return include_name[:-1] + "_ids" if include_name.endswith("s") else include_name + "_ids"


def envelope(backend: PsaBackend, rt: ResourceType, rows: list[dict], total: int, page: int, per_page: int, *,
             includes: list[str] = (), optional_fields: list[str] = ()) -> dict[str, Any]:
    primary: dict[str, Any] = {}
    results = []
    key = rt.key
    for rec in rows:
        wire = to_wire(rt, rec)
        for name in optional_fields:
            wire[name] = backend.optional_field(key, rec, name)
        primary[rec["id"]] = wire
        results.append({"key": key, "id": rec["id"]})
    body: dict[str, Any] = {"count": total, "results": results, key: primary}
    store = backend.store
    for name in includes:
        inc = rt.includes[name]
        target_rt = RESOURCES[inc.target]
        side = body.setdefault(inc.target, {})
        for rec in rows:
            wire = primary[rec["id"]]
            if inc.subject:
                related = [r for r in store.find(inc.target, "subject_id", rec["id"])
                           if r["subject_type"] == rt.subject_type]
                wire[ids_key(name)] = [r["id"] for r in related]
            elif inc.many:
                related = store.find(inc.target, inc.fk, rec["id"])
                related.sort(key=lambda r: int(r["id"]))
                wire[ids_key(name)] = [r["id"] for r in related]
            else:
                value = rec.get(inc.fk)
                ids = value if isinstance(value, list) else ([value] if value is not None else [])
                related = [r for r in (store.get(inc.target, i) for i in ids) if r is not None]
            for r in related:
                if r["id"] not in side:
                    side[r["id"]] = to_wire(target_rt, r)
    page_count = (total + per_page - 1) // per_page if per_page else 0
    body["meta"] = {"count": total, "page_count": page_count, "page_number": page, "page_size": per_page}
    return body


def json_response(body: Any, status: int = 200) -> Response:
    return Response(_dumps(body).encode(), status, media_type="application/json")


# ---- OpenAPI: the envelope and the error body ---------------------------------------------------------------------
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


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "bad query parameter or unparsable JSON", 401: "missing or invalid bearer token",
            404: "no such record", 409: "the record's state does not allow this", 422: "validation failed",
            429: "rate limited (a kernel quota); no limit headers"}
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


def _answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": Envelope}, **_errors(*codes)}


ACTION = _answers(400, 401, 404, 409, 422, 429)


class PsaResponses(Responses["PsaSimulator"]):
    """The operations of urls.py: the actions, the current user and the event feed here; each resource's five
    below the class (`resource_operations`)."""

    def context(self, request: Request) -> tuple[PsaBackend, str | None]:
        return self.sim.backend(request), request.scope["state"]["principal"].user_id

    def one(self, backend: PsaBackend, key: str, rec: dict) -> Response:
        return json_response(envelope(backend, RESOURCES[key], [rec], 1, 1, 1))

    # ---- timesheets ------------------------------------------------------------------------------------------
    def _timesheet(self, request: Request, id: int, verb: str, body: p.Comment | None) -> Response:
        backend, user = self.context(request)
        rec = backend.resolve_timesheet(str(id), verb, user, body.comment if body else None)
        return self.one(backend, "timesheet_submissions", rec)

    @operation(responses=ACTION, summary="Approve a pending timesheet submission; its time entries follow")
    async def approve_timesheet_submission(self, request: Request, id: p.IdPath,
                                           body: Annotated[Optional[p.Comment], Body()] = None) -> Response:
        return self._timesheet(request, id, "approve", body)

    @operation(responses=ACTION, summary="Reject a pending timesheet submission; its time entries follow")
    async def reject_timesheet_submission(self, request: Request, id: p.IdPath,
                                          body: Annotated[Optional[p.Comment], Body()] = None) -> Response:
        return self._timesheet(request, id, "reject", body)

    @operation(responses=ACTION, summary="Cancel a pending timesheet submission; its time entries follow")
    async def cancel_timesheet_submission(self, request: Request, id: p.IdPath,
                                          body: Annotated[Optional[p.Comment], Body()] = None) -> Response:
        return self._timesheet(request, id, "cancel", body)

    def _timesheets(self, request: Request, verb: str, body: p.SubmissionIds) -> Response:
        backend, user = self.context(request)
        recs = backend.resolve_timesheets([str(i) for i in body.submission_ids], verb, user, body.comment)
        rt = RESOURCES["timesheet_submissions"]
        return json_response(envelope(backend, rt, recs, len(recs), 1, max(len(recs), 1)))

    @operation(responses=ACTION, summary="Bulk approve timesheet submissions (all or none)")
    async def create_timesheet_approvals(self, request: Request, body: p.SubmissionIds) -> Response:
        return self._timesheets(request, "approve", body)

    @operation(responses=ACTION, summary="Bulk reject timesheet submissions (all or none)")
    async def create_timesheet_rejections(self, request: Request, body: p.SubmissionIds) -> Response:
        return self._timesheets(request, "reject", body)

    # ---- expense reports, milestones, invoices ---------------------------------------------------------------
    def _expense_report(self, request: Request, id: int, verb: str, body: p.Comment | None) -> Response:
        backend, user = self.context(request)
        rec = backend.resolve_expense_report(str(id), verb, user, body.comment if body else None)
        return self.one(backend, "expense_report_submissions", rec)

    @operation(responses=ACTION, summary="Approve a pending expense report; its expenses follow")
    async def approve_expense_report_submission(self, request: Request, id: p.IdPath,
                                                body: Annotated[Optional[p.Comment], Body()] = None) -> Response:
        return self._expense_report(request, id, "approve", body)

    @operation(responses=ACTION, summary="Reject a pending expense report; its expenses follow")
    async def reject_expense_report_submission(self, request: Request, id: p.IdPath,
                                               body: Annotated[Optional[p.Comment], Body()] = None) -> Response:
        return self._expense_report(request, id, "reject", body)

    def _milestone(self, request: Request, id: int, verb: str, body: p.Reason | None) -> Response:
        backend, user = self.context(request)
        rec = backend.resolve_milestone(str(id), verb, user, body.reason if body else None)
        return self.one(backend, "billing_milestones", rec)

    @operation(responses=ACTION, summary="Accept a billing milestone (client acceptance)")
    async def accept_billing_milestone(self, request: Request, id: p.IdPath,
                                       body: Annotated[Optional[p.Reason], Body()] = None) -> Response:
        return self._milestone(request, id, "accept", body)

    @operation(responses=ACTION, summary="Reject a billing milestone (client acceptance)")
    async def reject_billing_milestone(self, request: Request, id: p.IdPath,
                                       body: Annotated[Optional[p.Reason], Body()] = None) -> Response:
        return self._milestone(request, id, "reject", body)

    @operation(responses=ACTION, summary="Cancel an invoice; its time, expenses and milestones become billable again")
    async def cancel_invoice(self, request: Request, id: p.IdPath) -> Response:
        backend, user = self.context(request)
        return self.one(backend, "invoices", backend.cancel_invoice(str(id), user))

    # ---- the token's user, the event feed --------------------------------------------------------------------
    @operation(responses=_answers(401, 404, 429), summary="The token's user")
    async def get_current_user(self, request: Request) -> Response:
        backend, user = self.context(request)
        if user is None:
            raise PsaError("this token belongs to the account, not to a user", status=404)
        return self.one(backend, "users", backend.get("users", user))

    @operation(responses=_answers(400, 401, 429),
               summary="Subscribed events (pull): at least once, possibly duplicated and out of order",
               openapi_extra={"description": "`results` order is delivery order (faults may duplicate and reorder "
                                             "within a page); the `subscribed_events` map is keyed by event id, so "
                                             "a duplicate appears once in the map."})
    async def list_subscribed_events(
        self, request: Request,
        created_after: Annotated[Optional[p.DateTimeIn], Query(description="events created strictly after")] = None,
        since_id: Annotated[Optional[int], Query(ge=0, le=10**18, description="events with a greater id")] = None,
        event_types: Annotated[Optional[str], Query(
            pattern=r"^[a-z_]{1,64}:([a-z_]{1,64}|\*)(,[a-z_]{1,64}:([a-z_]{1,64}|\*)){0,60}$",
            description="comma list, e.g. time_entry:created,invoice:*")] = None,
        per_page: Annotated[int, Query(ge=1, le=p.MAX_PER_PAGE)] = 100,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    ) -> Response:
        backend, _ = self.context(request)
        rows = backend.events(created_after=created_after, since_id=since_id,
                              event_types=event_types.split(",") if event_types else None)
        total = len(rows)
        chunk = rows[(page - 1) * per_page: page * per_page]
        chunk = ev.apply_feed_faults(self.sim, request.scope["state"]["tenant"], chunk)
        body = {"count": total, "results": [{"key": "subscribed_events", "id": e["id"]} for e in chunk],
                "subscribed_events": {e["id"]: e for e in chunk},
                "meta": {"count": total, "page_count": (total + per_page - 1) // per_page, "page_number": page,
                         "page_size": per_page}}
        return json_response(body)


# ---- each resource's operations, generated from its declaration --------------------------------------------------
_SELF = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
_REQUEST = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)


def _typed(fn: Callable[..., Any], name: str, params: list[inspect.Parameter]) -> Callable[..., Any]:
    """Give a generated operation its name and typed signature (what FastAPI and the direct call read)."""
    fn.__name__ = fn.__qualname__ = name
    fn.__signature__ = inspect.Signature([_SELF, _REQUEST, *params], return_annotation=Response)  # type: ignore[attr-defined]
    fn.__annotations__ = {"request": Request, **{q.name: q.annotation for q in params}, "return": Response}
    return fn


def _body(annotation: Any) -> inspect.Parameter:
    return inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


_ID = inspect.Parameter("id", inspect.Parameter.KEYWORD_ONLY, annotation=p.IdPath)


def resource_operations(rt: ResourceType) -> dict[str, Callable[..., Any]]:
    """list_<key>, get_<singular>, and as the declaration allows create_<key>, update_<singular>,
    delete_<singular>."""
    key = rt.key
    create_item, update_item = p.item_models(rt)
    order_fields = ("id", "created_at", "updated_at", *rt.order_fields)
    ops: dict[str, Callable[..., Any]] = {}

    async def list_records(self: PsaResponses, request: Request, **q: Any) -> Response:
        backend, _ = self.context(request)
        includes = p.names(q["include"], rt.includes, "include")
        optional = p.names(q["optional_fields"], rt.optional_fields, "optional_fields")
        filters = {name: q[name] for name in rt.filters if q.get(name) is not None}
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
            size = q["limit"] or p.DEFAULT_PER_PAGE
            start = q["offset"] or 0
            page = start // size + 1
        else:
            size, page = q["per_page"], q["page"]
            start = (page - 1) * size
        return json_response(envelope(backend, rt, rows[start:start + size], total, page, size,
                                      includes=includes, optional_fields=optional))

    ops[f"list_{key}"] = operation(tags=[key], summary=f"List {key}", responses=_answers(400, 401, 429),
                                   openapi_extra={"description": rt.description} if rt.description else None)(
        _typed(list_records, f"list_{key}", p.list_params(rt)))

    async def get_record(self: PsaResponses, request: Request, id: int, **q: Any) -> Response:
        backend, _ = self.context(request)
        includes = p.names(q["include"], rt.includes, "include")
        optional = p.names(q["optional_fields"], rt.optional_fields, "optional_fields")
        rec = backend.get(key, str(id))
        return json_response(envelope(backend, rt, [rec], 1, 1, 1, includes=includes, optional_fields=optional))

    ops[f"get_{rt.singular}"] = operation(tags=[key], summary=f"One {rt.singular}",
                                          responses=_answers(400, 401, 404, 429))(
        _typed(get_record, f"get_{rt.singular}", [_ID, *p.shape_params(rt)]))

    if rt.creatable:
        async def create_records(self: PsaResponses, request: Request, body: Any) -> Response:
            backend, user = self.context(request)
            single = getattr(body, rt.singular, None)
            if single is not None:
                recs = [backend.create(key, single.model_dump(exclude_unset=True), user)]
            else:
                recs = backend.create_many(key, [b.model_dump(exclude_unset=True) for b in getattr(body, key)], user)
            return json_response(envelope(backend, rt, recs, len(recs), 1, len(recs)), 201)

        bulk = f" (or `{key}`: a list of up to {p.MAX_BULK}, all or none)" if rt.bulk else ""
        ops[f"create_{key}"] = operation(tags=[key], status=201, summary=f"Create a {rt.singular}{bulk}",
                                         responses={201: {"model": Envelope}, **_errors(400, 401, 409, 422, 429)})(
            _typed(create_records, f"create_{key}", [_body(p.create_envelope(rt, create_item))]))

    if rt.updatable:
        async def update_record(self: PsaResponses, request: Request, id: int, body: Any) -> Response:
            backend, user = self.context(request)
            rec = backend.update(key, str(id), getattr(body, rt.singular).model_dump(exclude_unset=True), user)
            return json_response(envelope(backend, rt, [rec], 1, 1, 1))

        ops[f"update_{rt.singular}"] = operation(tags=[key], summary=f"Update a {rt.singular}",
                                                 responses=_answers(400, 401, 404, 409, 422, 429))(
            _typed(update_record, f"update_{rt.singular}", [_ID, _body(p.update_envelope(rt, update_item))]))

    if rt.deletable:
        async def delete_record(self: PsaResponses, request: Request, id: int) -> Response:
            backend, user = self.context(request)
            backend.delete(key, str(id), user)
            return Response(status_code=204)

        ops[f"delete_{rt.singular}"] = operation(tags=[key], status=204, summary=f"Delete a {rt.singular}",
                                                 responses=_errors(401, 404, 409, 422, 429))(
            _typed(delete_record, f"delete_{rt.singular}", [_ID]))
    return ops


for _rt in RESOURCES.values():
    for _name, _fn in resource_operations(_rt).items():
        setattr(PsaResponses, _name, _fn)
