"""The vendor routes under /services/rest: record service, metadata catalog, SuiteQL, async jobs, governance, OAuth 2.

Every route authenticates (TBA or a bearer token), honours maintenance windows, and answers errors in NetSuite's
shape. Writes with `Prefer: respond-async` become async jobs (202 + Location), deduplicated by
`X-NetSuite-Idempotency-Key`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from . import responses as wire
from . import suiteql
from .auth import OAuth2Error, issue_token, verify_bearer, verify_tba
from .exceptions import ERROR_MEDIA_TYPE, NetSuiteError, error_body, invalid_content, invalid_login, invalid_parameter
from .models import NetSuiteBackend
from .records import json_schema, openapi_document, record_types
from .releases import DEFAULT_RELEASE, RELEASES

if TYPE_CHECKING:
    from .simulator import NetSuiteSimulator

REST = "/services/rest"
_TYPE_NAMES = sorted(record_types(DEFAULT_RELEASE))
_MAX_BODY = 104 * 1024 * 1024

_ERR_SCHEMA = {"$ref": "#/components/schemas/NetSuiteError"}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {ERROR_MEDIA_TYPE: {"schema": _ERR_SCHEMA}}}


_COMMON_ERRORS = {
    400: _err("Bad request (INVALID_CONTENT, INVALID_KEY_OR_REF, USER_ERROR, INVALID_PARAMETER)"),
    401: _err("INVALID_LOGIN (with WWW-Authenticate)"),
    403: _err("INSUFFICIENT_PERMISSION"),
    404: _err("NONEXISTENT_ID"),
    429: _err("The account's concurrency limit is reached"),
    503: _err("Maintenance or release-upgrade window"),
}


def _ok(media: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "object"}}}}


_NO_CONTENT = {"description": "No content; Location names the record"}
_ACCEPTED = {"description": "Accepted (Prefer: respond-async); Location names the async job"}
_WRITE = {204: _NO_CONTENT, 202: _ACCEPTED, **_COMMON_ERRORS}
_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": True}}}}}

RecordTypeParam = Annotated[str, Path(description="REST record type id (case-insensitive)", max_length=100,
                                      json_schema_extra={"enum": _TYPE_NAMES})]
JobId = Annotated[str, Path(max_length=20)]
RecordIdParam = Annotated[str, Path(description="internal id, or eid:{externalId}", max_length=300)]


def _base(request: Request) -> str:
    host = request.headers.get("host") or "netsuite.sim"
    return f"{request.url.scheme}://{host}{request.scope.get('root_path', '')}{REST}"


def _signed_uri(request: Request) -> str:
    host = request.headers.get("host") or "netsuite.sim"
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    uri = f"{request.url.scheme}://{host}{raw.decode('latin-1')}"
    query = request.scope.get("query_string", b"")
    return f"{uri}?{query.decode('latin-1')}" if query else uri


def _json(body: bytes) -> Any:
    if not body.strip():
        raise invalid_content("The request body is empty; a JSON object is expected.")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise invalid_content("The request could not be processed because the JSON is invalid.") from None


def _location(response: Response) -> dict[str, str]:
    return {"Location": response.headers["location"]} if "location" in response.headers else {}


def _record_type(backend: NetSuiteBackend, name: str) -> Any:
    if name.lower() == "metadata-catalog":  # the catalog is read-only: answer 405 as for any undeclared method
        raise StarletteHTTPException(405)
    return backend.record_type(name)


def allowed_methods(app: FastAPI, scope: dict[str, Any]) -> list[str]:
    """Methods of the most specific routes at this path (most literal segments win, as OpenAPI path matching does)."""
    best: tuple[int, set[str]] = (-1, set())
    for route in app.router.routes:
        methods = getattr(route, "methods", None)
        if not methods or not getattr(route, "include_in_schema", True):
            continue
        if route.matches({**scope, "method": next(iter(methods))})[0] is not Match.FULL:
            continue
        literal = sum(1 for part in route.path.split("/") if part and "{" not in part)
        if literal > best[0]:
            best = (literal, set(methods))
        elif literal == best[0]:
            best[1].update(methods)
    return sorted(best[1] - {"HEAD"})


def build_routes(sim: NetSuiteSimulator) -> FastAPI:
    app = FastAPI(title="NetSuite REST web services (simulated)", version="2026.1", openapi_url=None, docs_url=None,
                  redoc_url=None,
                  description="SuiteTalk REST: record service, metadata catalog, SuiteQL, async jobs, governance "
                              "limits and OAuth 2.0 client credentials, as served by the q2c-harness simulator.")

    @app.exception_handler(NetSuiteError)
    async def _netsuite_error(request: Request, exc: NetSuiteError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(p) for p in first.get("loc", ())[1:])
        return NetSuiteError(400, "INVALID_PARAMETER", f"Invalid value for parameter {loc}: {first.get('msg', '')}",
                             query_param=loc or None).response()

    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            allow = ", ".join(allowed_methods(app, request.scope))
            return NetSuiteError(405, "METHOD_NOT_ALLOWED", f"HTTP method {request.method} is not allowed for this "
                                 f"resource; allowed: {allow}", headers={"Allow": allow}).response()
        return NetSuiteError(exc.status_code, None, str(exc.detail)).response()

    app.state.http_error_handler = _http_error

    async def account(request: Request, body: bytes = b"") -> NetSuiteBackend:
        """The authenticated account's backend; 503 in a maintenance window, 401 without valid credentials."""
        backend: NetSuiteBackend = sim.backend(request)
        window = backend.active_window()
        if window is not None:
            end = datetime.fromisoformat(window["end"])
            retry = max(1, math.ceil((end - sim.clock.now()).total_seconds()))
            what = (f"NetSuite is being upgraded to release {window['to_release']}" if window.get("to_release")
                    else "NetSuite is unavailable for scheduled maintenance")
            raise NetSuiteError(503, "SERVICE_UNAVAILABLE", f"{what} until {window['end']}.",
                                headers={"Retry-After": str(retry)})
        authorization = request.headers.get("authorization", "")
        scheme = authorization[:7].lower()
        if scheme.startswith("oauth "):
            verify_tba(backend, request.method, _signed_uri(request), authorization, body)
        elif scheme == "bearer ":
            verify_bearer(backend, authorization)
        else:
            raise invalid_login(backend.account)
        return backend

    async def body_of(request: Request) -> bytes:
        body = await request.body()
        if len(body) > _MAX_BODY:
            raise NetSuiteError(413, "REQUEST_TOO_LARGE", "The request is larger than 104 MB.")
        return body

    def strict(request: Request) -> bool:
        return request.headers.get("x-netsuite-propertynamevalidation", "").lower() == "error"

    def maybe_async(request: Request, backend: NetSuiteBackend, run: Callable[[], Response]) -> Response:
        """Run a write now; with Prefer: respond-async, keep its outcome in a job and answer 202."""
        if "respond-async" not in request.headers.get("prefer", "").lower():
            return run()
        base = _base(request)
        key = request.headers.get("x-netsuite-idempotency-key")
        if key is not None:
            if not 1 <= len(key) <= 128:
                raise NetSuiteError(400, "INVALID_HEADER", "X-NetSuite-Idempotency-Key must be 1 to 128 characters.",
                                    header="X-NetSuite-Idempotency-Key")
            earlier = backend.job_for_key(key)
            if earlier is not None:
                raise NetSuiteError(400, "IDEMPOTENCY_ERROR",
                                    f"A request with idempotency key {key} was already submitted as job {earlier}.",
                                    header="X-NetSuite-Idempotency-Key",
                                    headers={"Location": f"{base}/async/v1/job/{earlier}"})
        try:
            response = run()
            outcome = {"status": response.status_code, "headers": _location(response),
                       "body": response.body.decode() if response.body else None}
        except NetSuiteError as exc:
            outcome = {"status": exc.status, "headers": {}, "body": json.dumps(exc.body())}
        job = backend.new_job({"method": request.method, "path": request.url.path}, outcome, key)
        return Response(status_code=202, media_type="application/json",  # as subsect_161278579295 shows
                        headers={"Location": f"{base}/async/v1/job/{job['id']}", "Preference-Applied": "respond-async"})

    # ---- OAuth 2.0 -------------------------------------------------------------------------------------------
    @app.post(f"{REST}/auth/oauth2/v1/token", name="oauth2_token", tags=["auth"],
              responses={200: {"description": "Access token", "content": {"application/json": {"schema": {
                  "type": "object", "properties": {"access_token": {"type": "string"},
                                                   "token_type": {"type": "string"},
                                                   "expires_in": {"type": "integer"}}}}}},
                  400: {"description": "OAuth 2.0 error", "content": {"application/json": {"schema": {
                      "type": "object", "properties": {"error": {"type": "string"}}}}}},
                  401: {"description": "invalid_client", "content": {"application/json": {"schema": {
                      "type": "object", "properties": {"error": {"type": "string"}}}}}},
                  **{k: v for k, v in _COMMON_ERRORS.items() if k in (429, 503)}},
              openapi_extra={"security": [], "requestBody": {"required": True, "content": {
                  "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
                      "grant_type": {"type": "string", "enum": ["client_credentials"]},
                      "client_assertion_type": {"type": "string"},
                      "client_assertion": {"type": "string"}}}}}}})
    async def oauth2_token(request: Request) -> Response:
        body = await body_of(request)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        backend: NetSuiteBackend = sim.backend(request)
        iss = _unverified_iss(form.get("client_assertion", ""))
        if iss and backend.store.get("_oauth2_clients", iss) is None:
            for tid in sim.tenants.ids():
                candidate = sim.tenants.get(tid)
                if candidate.store.get("_oauth2_clients", iss) is not None:
                    backend = candidate
                    break
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            token = issue_token(backend, form, f"{_base(request)}/auth/oauth2/v1/token")
        except OAuth2Error as exc:
            return Response(json.dumps({"error": exc.error, "error_description": exc.description}), exc.status,
                            headers=headers, media_type="application/json")
        return Response(json.dumps(token), 200, headers=headers, media_type="application/json")

    # ---- metadata catalog ------------------------------------------------------------------------------------
    @app.get(f"{REST}/record/v1/metadata-catalog", name="metadata_catalog", tags=["metadata"],
             responses={200: {"description": "Catalog list, or the OpenAPI document with Accept: "
                                             "application/swagger+json",
                              "content": {wire.COLLECTION: {"schema": {"type": "object"}},
                                          wire.SWAGGER_JSON: {"schema": {"type": "object"}}}}, **_COMMON_ERRORS})
    async def metadata_catalog(request: Request, select: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
        backend = await account(request)
        base = _base(request)
        types = record_types(backend.release)
        chosen = list(types.values())
        if select:
            chosen = []
            for name in select.split(","):
                name = name.strip()
                if name:
                    chosen.append(backend.record_type(name))
        if "swagger+json" in request.headers.get("accept", ""):
            return wire.json_response(openapi_document(chosen, base, backend.release), media_type=wire.SWAGGER_JSON)
        # each type's metadata in its three media types (section_1540810174, Getting Metadata)
        items = [{"name": rt.name, "links": [
            {**wire.link("canonical", f"{base}/record/v1/metadata-catalog/{rt.name}"), "mediaType": "application/json"},
            {**wire.link("alternate", f"{base}/record/v1/metadata-catalog/{rt.name}"),
             "mediaType": "application/swagger+json"},
            {**wire.link("describedby", f"{base}/record/v1/metadata-catalog/{rt.name}"),
             "mediaType": "application/schema+json"}]} for rt in chosen]
        return wire.json_response({"items": items, "links": [wire.link("self", f"{base}/record/v1/metadata-catalog")]},
                                  media_type=wire.COLLECTION)

    @app.get(f"{REST}/record/v1/metadata-catalog/{{record_type}}", name="metadata_catalog_record", tags=["metadata"],
             responses={200: {"description": "JSON Schema (Accept: application/schema+json) or OpenAPI "
                                             "(Accept: application/swagger+json) of one record type",
                              "content": {wire.SCHEMA_JSON: {"schema": {"type": "object"}},
                                          wire.SWAGGER_JSON: {"schema": {"type": "object"}}}}, **_COMMON_ERRORS})
    async def metadata_catalog_record(request: Request, record_type: RecordTypeParam) -> Response:
        backend = await account(request)
        rt = _record_type(backend, record_type)
        base = _base(request)
        if "swagger+json" in request.headers.get("accept", ""):
            return wire.json_response(openapi_document([rt], base, backend.release), media_type=wire.SWAGGER_JSON)
        return wire.json_response(json_schema(rt, base), media_type=wire.SCHEMA_JSON)

    # ---- record service --------------------------------------------------------------------------------------
    @app.get(f"{REST}/record/v1/{{record_type}}", name="list_records", tags=["record"],
             responses={200: _ok(wire.COLLECTION, "A page of record ids and links"), **_COMMON_ERRORS})
    async def list_records(request: Request, record_type: RecordTypeParam,
                           q: Annotated[str | None, Query(max_length=4000)] = None,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
                           offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> Response:
        backend = await account(request)
        rt = _record_type(backend, record_type)
        ids = backend.list_ids(rt, q)
        base = _base(request)
        chosen = ids[offset : offset + limit]
        items = [{"links": [wire.link("self", f"{base}/record/v1/{rt.name}/{i}")], "id": i} for i in chosen]
        params = {"q": q} if q else {}
        return wire.json_response(wire.page(items, len(ids), limit, offset, f"{base}/record/v1/{rt.name}", params),
                                  media_type=wire.COLLECTION)

    @app.post(f"{REST}/record/v1/{{record_type}}", name="create_record", tags=["record"], status_code=204,
              responses=_WRITE, openapi_extra=_BODY)
    async def create_record(request: Request, record_type: RecordTypeParam) -> Response:
        body = await body_of(request)
        backend = await account(request, body)
        rt = _record_type(backend, record_type)
        data = _json(body)

        def run() -> Response:
            rid = backend.create(rt, data, strict_names=strict(request))
            return Response(status_code=204, headers={"Location": f"{_base(request)}/record/v1/{rt.name}/{rid}"})

        return maybe_async(request, backend, run)

    @app.get(f"{REST}/record/v1/{{record_type}}/{{record_id}}", name="get_record", tags=["record"],
             responses={200: _ok(wire.SINGULAR, "The record"), **_COMMON_ERRORS})
    async def get_record(request: Request, record_type: RecordTypeParam, record_id: RecordIdParam,
                         fields: Annotated[str | None, Query(max_length=2000)] = None,
                         expandSubResources: bool = False) -> Response:  # noqa: N803 - NetSuite's parameter name
        backend = await account(request)
        rt = _record_type(backend, record_type)
        rec = backend.get(rt, record_id)
        wanted = {f.strip() for f in fields.split(",") if f.strip()} if fields else None
        return wire.json_response(wire.render_record(backend, rt, rec, _base(request), fields=wanted,
                                                     expand=expandSubResources))

    @app.patch(f"{REST}/record/v1/{{record_type}}/{{record_id}}", name="update_record", tags=["record"],
               status_code=204, responses=_WRITE, openapi_extra=_BODY)
    async def update_record(request: Request, record_type: RecordTypeParam, record_id: RecordIdParam,
                            replace: Annotated[str | None, Query(max_length=1000)] = None) -> Response:
        body = await body_of(request)
        backend = await account(request, body)
        rt = _record_type(backend, record_type)
        rid = backend.resolve_id(rt, record_id)
        data = _json(body)
        replaced = {s.strip() for s in replace.split(",")} if replace else None

        def run() -> Response:
            backend.update(rt, rid, data, strict_names=strict(request), replace=replaced)
            return Response(status_code=204, headers={"Location": f"{_base(request)}/record/v1/{rt.name}/{rid}"})

        return maybe_async(request, backend, run)

    @app.put(f"{REST}/record/v1/{{record_type}}/{{record_id}}", name="upsert_record", tags=["record"],
             status_code=204, responses=_WRITE, openapi_extra=_BODY)
    async def upsert_record(request: Request, record_type: RecordTypeParam, record_id: RecordIdParam) -> Response:
        body = await body_of(request)
        backend = await account(request, body)
        rt = _record_type(backend, record_type)
        if not record_id.startswith("eid:"):
            raise invalid_parameter("Upsert (PUT) is only supported with an external ID: "
                                    f"/record/v1/{rt.name}/eid:{{externalId}}.")
        data = _json(body)

        def run() -> Response:
            rid, _ = backend.upsert(rt, record_id[4:], data, strict_names=strict(request))
            return Response(status_code=204, headers={"Location": f"{_base(request)}/record/v1/{rt.name}/{rid}"})

        return maybe_async(request, backend, run)

    @app.delete(f"{REST}/record/v1/{{record_type}}/{{record_id}}", name="delete_record", tags=["record"],
                status_code=204, responses=_WRITE)
    async def delete_record(request: Request, record_type: RecordTypeParam, record_id: RecordIdParam) -> Response:
        body = await body_of(request)
        backend = await account(request, body)
        rt = _record_type(backend, record_type)
        rid = backend.resolve_id(rt, record_id)

        def run() -> Response:
            backend.delete(rt, rid)
            return Response(status_code=204)

        return maybe_async(request, backend, run)

    @app.get(f"{REST}/record/v1/{{record_type}}/{{record_id}}/{{sublist}}", name="get_sublist", tags=["record"],
             responses={200: _ok(wire.SINGULAR, "A sublist (sub-resource)"), **_COMMON_ERRORS})
    async def get_sublist(request: Request, record_type: RecordTypeParam, record_id: RecordIdParam,
                          sublist: Annotated[str, Path(max_length=100)]) -> Response:
        backend = await account(request)
        rt = _record_type(backend, record_type)
        rec = backend.get(rt, record_id)
        sub = rt.sublists.get(sublist)
        if sub is None:
            raise NetSuiteError(404, "NONEXISTENT_ID", f"Record type {rt.name} has no sublist {sublist}.")
        href = f"{_base(request)}/record/v1/{rt.name}/{rec['id']}/{sub.name}"
        lines = rec.get(sub.name, [])
        return wire.json_response({"links": [wire.link("self", href)],
                                   "items": [wire.render_line(backend, sub, line, href) for line in lines],
                                   "totalResults": len(lines)})

    @app.get(f"{REST}/record/v1/{{record_type}}/{{record_id}}/{{sublist}}/{{line}}", name="get_sublist_line",
             tags=["record"], responses={200: _ok(wire.SINGULAR, "One sublist line"), **_COMMON_ERRORS})
    async def get_sublist_line(request: Request, record_type: RecordTypeParam, record_id: RecordIdParam,
                               sublist: Annotated[str, Path(max_length=100)],
                               line: Annotated[str, Path(max_length=20)]) -> Response:
        backend = await account(request)
        rt = _record_type(backend, record_type)
        rec = backend.get(rt, record_id)
        sub = rt.sublists.get(sublist)
        found = next((ln for ln in rec.get(sublist, []) if str(ln["line"]) == line), None) if sub else None
        if sub is None or found is None:
            raise NetSuiteError(404, "NONEXISTENT_ID", f"The {sublist} line {line} does not exist.")
        href = f"{_base(request)}/record/v1/{rt.name}/{rec['id']}/{sub.name}"
        return wire.json_response(wire.render_line(backend, sub, found, href))

    # ---- SuiteQL ---------------------------------------------------------------------------------------------
    @app.post(f"{REST}/query/v1/suiteql", name="suiteql", tags=["query"],
              responses={200: _ok(wire.COLLECTION, "A page of rows (values as strings)"), 202: _ACCEPTED,
                         **_COMMON_ERRORS},
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "type": "object", "required": ["q"], "properties": {"q": {"type": "string"}}}}}}})
    async def suiteql_query(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
                            offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> Response:
        body = await body_of(request)
        backend = await account(request, body)
        data = _json(body)
        if not isinstance(data, dict) or not isinstance(data.get("q"), str):
            raise invalid_content("The request body must be an object with a string field q.", "q")
        base = _base(request)

        def run() -> Response:
            items, total = suiteql.run(backend, data["q"], limit, offset)
            return wire.json_response(wire.page(items, total, limit, offset, f"{base}/query/v1/suiteql", {}),
                                      media_type=wire.COLLECTION)

        return maybe_async(request, backend, run)

    # ---- async jobs ------------------------------------------------------------------------------------------
    def job_of(backend: NetSuiteBackend, job_id: str) -> dict[str, Any]:
        job = backend.store.get("_jobs", job_id)
        if job is None:
            raise NetSuiteError(404, "NONEXISTENT_ID", f"The async job {job_id} does not exist.")
        return job

    @app.get(f"{REST}/async/v1/job/{{job_id}}", name="get_async_job", tags=["async"],
             responses={200: _ok(wire.SINGULAR, "Job status"), **_COMMON_ERRORS})
    async def get_async_job(request: Request, job_id: JobId) -> Response:
        backend = await account(request)
        job = job_of(backend, job_id)
        return wire.json_response(wire.render_job(job, backend.job_done(job), _base(request)))

    @app.get(f"{REST}/async/v1/job/{{job_id}}/task", name="list_async_tasks", tags=["async"],
             responses={200: _ok(wire.COLLECTION, "The job's tasks"), **_COMMON_ERRORS})
    async def list_async_tasks(request: Request, job_id: JobId) -> Response:
        backend = await account(request)
        job = job_of(backend, job_id)
        base = _base(request)
        href = f"{base}/async/v1/job/{job['id']}/task"
        items = [{"links": [wire.link("self", f"{href}/{job['id']}")], "id": job["id"]}]
        return wire.json_response({"links": [wire.link("self", href)], "count": 1, "hasMore": False,
                                   "items": items, "offset": 0, "totalResults": 1}, media_type=wire.COLLECTION)

    @app.get(f"{REST}/async/v1/job/{{job_id}}/task/{{task_id}}", name="get_async_task", tags=["async"],
             responses={200: _ok(wire.SINGULAR, "Task status"), **_COMMON_ERRORS})
    async def get_async_task(request: Request, job_id: JobId, task_id: JobId) -> Response:
        backend = await account(request)
        job = job_of(backend, job_id)
        if task_id != job["id"]:
            raise NetSuiteError(404, "NONEXISTENT_ID", f"The task {task_id} does not exist.")
        return wire.json_response(wire.render_task(job, backend.job_done(job), _base(request)))

    @app.get(f"{REST}/async/v1/job/{{job_id}}/task/{{task_id}}/result", name="get_async_result", tags=["async"],
             responses={200: {"description": "The outcome of the original request", "content": {
                 wire.COLLECTION: {"schema": {"type": "object"}}, wire.SINGULAR: {"schema": {"type": "object"}}}},
                 204: _NO_CONTENT, **_COMMON_ERRORS})
    async def get_async_result(request: Request, job_id: JobId, task_id: JobId) -> Response:
        backend = await account(request)
        job = job_of(backend, job_id)
        if task_id != job["id"] or not backend.job_done(job):
            raise NetSuiteError(404, "NONEXISTENT_ID", f"The task {task_id} has no result yet.")
        outcome = job["outcome"]
        status = outcome["status"]
        if status >= 400:
            return Response(outcome["body"], status, media_type=ERROR_MEDIA_TYPE)
        media = wire.COLLECTION if outcome["body"] else None
        return Response(outcome["body"] or b"", status, headers=outcome["headers"], media_type=media)

    # ---- governance ------------------------------------------------------------------------------------------
    @app.get(f"{REST}/system/v1/governanceLimits", name="governance_limits", tags=["system"],
             responses={200: _ok(wire.SINGULAR, "Concurrency limits of the account"), **_COMMON_ERRORS})
    async def governance_limits(request: Request) -> Response:
        backend = await account(request)
        limit = sim.concurrency_limit(backend.account)
        return wire.json_response({"links": [wire.link("self", f"{_base(request)}/system/v1/governanceLimits")],
                                   "accountConcurrencyLimit": limit, "accountUnallocatedConcurrencyLimit": limit,
                                   "integrationConcurrencyLimit": None})

    # ---- the simulator's own OpenAPI ---------------------------------------------------------------------------
    @app.get("/openapi.json", name="openapi", include_in_schema=False)
    async def openapi(request: Request, release: str | None = None) -> Response:
        """`?release=` picks the release; otherwise the release of the account the request names (if known)."""
        if release is None:
            tenant = request.scope.get("state", {}).get("tenant")
            release = sim.tenants.get(tenant).release if tenant in sim.tenants else DEFAULT_RELEASE
        return Response(json.dumps(sim.openapi(release if release in RELEASES else DEFAULT_RELEASE)),
                        media_type="application/json")

    return app


def _unverified_iss(assertion: str) -> str | None:
    import jwt

    try:
        iss = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except Exception:  # noqa: BLE001 - any junk is simply "no client"
        return None
    return iss if isinstance(iss, str) else None


def error_schema() -> dict[str, Any]:
    body = error_body(400, "INVALID_CONTENT", "example", path="field")
    return {"type": "object", "required": ["type", "title", "status", "o:errorDetails"], "example": body,
            "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                           "o:errorDetails": {"type": "array", "items": {"type": "object", "required": [
                               "detail", "o:errorCode"], "properties": {
                               "detail": {"type": "string"}, "o:errorCode": {"type": "string"},
                               "o:errorPath": {"type": "string"}, "o:errorUrl": {"type": "string"},
                               "o:errorQueryParam": {"type": "string"}, "o:errorHeader": {"type": "string"}}}}}}
