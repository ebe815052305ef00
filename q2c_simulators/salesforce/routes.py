"""Routes (moto's `urls.py`): the Salesforce REST surface served by the simulator, with its OpenAPI document.

Every route has a unique `name` (the journal and fault `operation`). Handlers stay thin: authenticate, call the
backend (models.py), render (responses.py). Errors are `SalesforceError`s turned into Salesforce's list body.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from q2c_simulators.kernel.http import header_value

from . import soql
from .exceptions import JsonParserError, NotFound, SalesforceError, method_not_allowed
from .models import QUERY_BATCH, SalesforceBackend
from .responses import Json, error_from, error_list, record_body, save_result
from .schema import describe_object

if TYPE_CHECKING:
    from .simulator import SalesforceSimulator

P = "/services/data/{version}"

# ---- OpenAPI fragments -----------------------------------------------------------------------------------------
ERROR_SCHEMA = {"type": "array", "items": {"type": "object", "required": ["message", "errorCode"], "properties": {
    "message": {"type": "string"}, "errorCode": {"type": "string"},
    "fields": {"type": "array", "items": {"type": "string"}}}}}
OBJ = {"type": "object"}
LIST = {"type": "array", "items": {"type": "object"}}
JSON_ANY = {"type": "object", "additionalProperties": True}


def _err(desc: str) -> dict:
    return {"description": desc, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


def _ok(desc: str, schema: dict | None = None, media: str = "application/json") -> dict:
    return {"description": desc, "content": {media: {"schema": schema or OBJ}}}


COMMON = {
    400: _err("Bad request: MALFORMED_QUERY, INVALID_FIELD, JSON_PARSER_ERROR, REQUIRED_FIELD_MISSING, ..."),
    401: _err("INVALID_SESSION_ID: session expired or invalid"),
    403: _err("REQUEST_LIMIT_EXCEEDED: daily API allocation or concurrent long-running requests"),
    404: _err("NOT_FOUND: unknown version, object or record"),
    503: _err("Service unavailable (maintenance)"),
}
NO_CONTENT = {"description": "No content"}
VERSION_PARAM = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}


def _body(schema: dict, media: str = "application/json", required: bool = True) -> dict:
    return {"requestBody": {"required": required, "content": {media: {"schema": schema}}}}


def _versions_enum(app: FastAPI, sim: SalesforceSimulator) -> dict:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title="Salesforce REST API (q2c-harness simulator)", version="62.0", routes=app.routes,
                      description="Salesforce-style REST: OAuth and SOAP login, sObjects, SOQL, composite, Bulk 2.0, "
                                  "limits and change events (see docs/salesforce.md).")
    enum = [f"v{v}" for v in sim.api_versions]
    doc.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, ops in doc.get("paths", {}).items():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param["name"] == "version" and param["in"] == "path":
                    param["schema"] = {"type": "string", "enum": enum}
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            if op.get("parameters") or op.get("requestBody"):
                responses.setdefault("400", COMMON[400])
    doc.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
    doc.get("components", {}).get("schemas", {}).pop("ValidationError", None)
    app.openapi_schema = doc
    return doc


# ---- request helpers ---------------------------------------------------------------------------------------------
async def read_json(request: Request, required: bool = True) -> Any:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise JsonParserError("The request body is empty. Provide a JSON body.")
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonParserError(f"Unexpected character in JSON body: {str(exc)[:120]}") from None


def _raw_tail(request: Request, marker: str, skip: int) -> str:
    """The undecoded path after `marker`, minus its first `skip` segments (to read an external id as sent)."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    text = raw.decode("latin-1").split("?", 1)[0]
    tail = text.split(marker, 1)[1] if marker in text else ""
    return tail.split("/", skip)[skip] if tail.count("/") >= skip else ""


def _bool(value: str | None) -> bool:
    return (value or "").lower() == "true"


def build_routes(sim: SalesforceSimulator) -> FastAPI:
    app = FastAPI(title="Salesforce REST API (q2c-harness simulator)", version="62.0", docs_url=None, redoc_url=None)
    app.openapi = lambda: _versions_enum(app, sim)  # type: ignore[method-assign]

    @app.exception_handler(SalesforceError)
    async def _salesforce_error(request: Request, exc: SalesforceError) -> Response:
        return error_from(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "header"))
        code = "MALFORMED_QUERY" if where == "q" else "BAD_REQUEST"
        return error_list(400, code, f"{where or 'request'}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            err = method_not_allowed(request.method, [m.strip() for m in allowed.split(",") if m.strip()])
            resp = error_from(err)
            if allowed:
                resp.headers["Allow"] = allowed
            return resp
        return error_list(exc.status_code, None, exc.detail if isinstance(exc.detail, str) else None)

    def auth(request: Request, version: str) -> tuple[SalesforceBackend, dict, str]:
        ver = sim.version_paths.get(version)
        if ver is None:
            raise NotFound()
        header = header_value(request.scope, b"authorization")
        b: SalesforceBackend = sim.backend(request)
        session = b.session(header.rpartition(" ")[2] if header else None)
        return b, session, ver

    def add(method: str, path: str, name: str, handler: Any, *, responses: dict | None = None, auth_: bool = True,
            body: dict | None = None, slash: bool = False, status: int = 200, summary: str | None = None,
            tags: list[str] | None = None, params: list[dict] | None = None) -> None:
        extra: dict[str, Any] = {}
        if auth_:
            extra["security"] = [{"bearer": []}]
        if body:
            extra.update(body)
        if params:
            extra["parameters"] = params
        docs = {**({k: v for k, v in COMMON.items() if auth_ or k in (400, 404, 503)}), **(responses or {})}
        app.add_api_route(path, handler, methods=[method], name=name, responses=docs, openapi_extra=extra or None,
                          status_code=status, summary=summary, tags=tags, response_model=None)
        if slash:
            alt = path[:-1] if path.endswith("/") else path + "/"
            app.add_api_route(alt, handler, methods=[method], name=name, include_in_schema=False,
                              response_model=None)

    # ---- sObject hot paths first (route order is match order) ------------------------------------------------------
    async def sobject_get(request: Request, version: str, sobject: str, record_id: str,
                          fields: str | None = None) -> Response:
        b, _, ver = auth(request, version)
        obj = b.sobject(sobject)
        rec = b.get(obj, record_id)
        names = None
        if fields:
            names = []
            for name in fields.split(","):
                f = obj.field(name.strip())
                if f is None:
                    raise SalesforceError(f"No such column '{name.strip()}' on entity '{obj.name}'", "INVALID_FIELD",
                                          fields=[name.strip()])
                names.append(f.name)
        return Json(record_body(obj, rec, ver, names))


    async def query(request: Request, version: str, q: str) -> Response:
        b, _, ver = auth(request, version)
        return Json(b.run_query(q, ver, include_deleted=False, batch=_batch(request)))

    async def query_all(request: Request, version: str, q: str) -> Response:
        b, _, ver = auth(request, version)
        return Json(b.run_query(q, ver, include_deleted=True, batch=_batch(request)))

    query_docs = {200: _ok("totalSize, done, nextRecordsUrl (when more), records")}
    add("GET", P + "/query/", "query", query, slash=True, responses=query_docs, tags=["query"],
        summary="Run a SOQL query (2,000 records a batch; nextRecordsUrl for the rest)")
    add("GET", P + "/queryAll/", "query_all", query_all, slash=True, responses=query_docs, tags=["query"],
        summary="Run a SOQL query including deleted records")

    async def query_more(request: Request, version: str, locator: str) -> Response:
        b, _, ver = auth(request, version)
        return Json(b.query_more(locator, ver, include_deleted=False, batch=_batch(request)))

    async def query_all_more(request: Request, version: str, locator: str) -> Response:
        b, _, ver = auth(request, version)
        return Json(b.query_more(locator, ver, include_deleted=True, batch=_batch(request)))

    add("GET", P + "/query/{locator}", "query_more", query_more, responses=query_docs, tags=["query"],
        summary="The next batch of a query (nextRecordsUrl)")
    add("GET", P + "/queryAll/{locator}", "query_all_more", query_all_more, responses=query_docs, tags=["query"],
        summary="The next batch of a queryAll")

    # ---- versions, resources, limits ----------------------------------------------------------------------------
    async def versions(request: Request) -> Response:
        from .simulator import VERSION_LABELS

        return Json([{"label": VERSION_LABELS.get(v, v), "url": f"/services/data/v{v}", "version": v}
                     for v in sim.api_versions])

    add("GET", "/services/data/", "versions", versions, auth_=False, slash=True, tags=["versions"],
        responses={200: _ok("Supported API versions", LIST)}, summary="List API versions (no authentication)")

    async def resources(request: Request, version: str) -> Response:
        _, _, ver = auth(request, version)
        base = f"/services/data/v{ver}"
        names = ["sobjects", "query", "queryAll", "composite", "limits", "jobs", "sim"]
        return Json({n: f"{base}/{n}" for n in names})

    add("GET", P + "/", "resources", resources, slash=True, tags=["versions"],
        responses={200: _ok("Resources available in this version")})

    async def limits(request: Request, version: str) -> Response:
        b, _, _ = auth(request, version)
        tenant = request.scope["state"]["tenant"]
        used, limit = sim.quotas.usage("DailyApiRequests", tenant) if sim.quotas.get("DailyApiRequests") else (0, 0)
        used = min(used, limit)
        conc = sim.quotas.get("ConcurrentLongRunningRequests")
        jobs = [j for j in b.store.records("_bulk_jobs")]
        return Json({
            "DailyApiRequests": {"Max": limit, "Remaining": limit - used},
            "ConcurrentLongRunningRequests": {"Max": conc.limit if conc else 0, "Remaining": conc.limit if conc else 0},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - sum(j["jobType"] == "V2Query" for j in jobs)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000 - sum(j["jobType"] == "V2Ingest" for j in jobs)},
            "DataStorageMB": {"Max": 5120, "Remaining": 5120},
            "DailyDeliveredPlatformEvents": {"Max": 50000, "Remaining": 50000},
            # static org allocations the limits resource lists (dome_limits example); nothing here consumes them
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            "ConcurrentSyncReportRuns": {"Max": 20, "Remaining": 20},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
        })

    add("GET", P + "/limits/", "limits", limits, slash=True, tags=["limits"],
        responses={200: _ok("Org limits: DailyApiRequests Max/Remaining from the rolling 24-hour quota")})

    # ---- describe -----------------------------------------------------------------------------------------------
    async def describe_global(request: Request, version: str) -> Response:
        b, _, ver = auth(request, version)
        return Json({"encoding": "UTF-8", "maxBatchSize": 200,
                     "sobjects": [o.summary(ver) for o in sorted(b.schema.objects.values(), key=lambda o: o.name)]})

    add("GET", P + "/sobjects/", "describe_global", describe_global, slash=True, tags=["describe"],
        responses={200: _ok("Global describe")})

    async def sobject_describe(request: Request, version: str, sobject: str) -> Response:
        b, _, ver = auth(request, version)
        return Json(describe_object(b.sobject(sobject), b.schema, ver))

    add("GET", P + "/sobjects/{sobject}/describe/", "sobject_describe", sobject_describe, slash=True,
        tags=["describe"], responses={200: _ok("Object describe: fields, childRelationships, urls")})

    async def sobject_basic(request: Request, version: str, sobject: str) -> Response:
        b, _, ver = auth(request, version)
        obj = b.sobject(sobject)
        recent = sorted((r for r in b.store.records(obj.name) if not r["IsDeleted"]),
                        key=lambda r: r["LastModifiedDate"], reverse=True)[:10]
        name_field = obj.name_field if obj.name_field in obj.fields else None
        items = [{"attributes": {"type": obj.name, "url": b.record_url(obj.name, r["Id"], ver)}, "Id": r["Id"],
                  **({name_field: r.get(name_field)} if name_field else {})} for r in recent]
        return Json({"objectDescribe": obj.summary(ver), "recentItems": items})

    add("GET", P + "/sobjects/{sobject}/", "sobject_basic", sobject_basic, slash=True, tags=["sobjects"],
        responses={200: _ok("Basic object information and recently changed records")})

    # ---- create, update, delete, upsert --------------------------------------------------------------------------
    async def sobject_create(request: Request, version: str, sobject: str) -> Response:
        b, session, ver = auth(request, version)
        obj = b.sobject(sobject)
        rec = b.create(obj, await read_json(request), session["user_id"])
        return Json(save_result(rec["Id"]), 201,
                    headers={"Location": b.record_url(obj.name, rec["Id"], ver)})

    add("POST", P + "/sobjects/{sobject}/", "sobject_create", sobject_create, slash=True, status=201,
        tags=["sobjects"], body=_body(JSON_ANY), responses={201: _ok("Created: {id, success, errors}")},
        summary="Create a record")

    def _dates(start: str | None, end: str | None, b: SalesforceBackend) -> tuple[str, str]:
        out = []
        for label, value in (("start", start), ("end", end)):
            if not value:
                raise SalesforceError(f"Missing required parameter: {label}", "MISSING_ARGUMENT", 400)
            try:
                out.append(soql._norm_datetime(value))
            except (ValueError, OverflowError):
                raise SalesforceError(f"Invalid {label} date: {value}", "INVALID_REPLICATION_DATE", 400) from None
        if out[1] < out[0]:
            raise SalesforceError("The end date must be after the start date", "INVALID_REPLICATION_DATE", 400)
        return out[0], out[1]

    async def sobject_deleted(request: Request, version: str, sobject: str, start: str | None = None,
                              end: str | None = None) -> Response:
        b, _, _ = auth(request, version)
        obj = b.sobject(sobject)
        return Json(b.deleted_between(obj, *_dates(start, end, b)))

    async def sobject_updated(request: Request, version: str, sobject: str, start: str | None = None,
                              end: str | None = None) -> Response:
        b, _, _ = auth(request, version)
        obj = b.sobject(sobject)
        return Json(b.updated_between(obj, *_dates(start, end, b)))

    add("GET", P + "/sobjects/{sobject}/deleted/", "sobject_deleted", sobject_deleted, slash=True, tags=["sobjects"],
        responses={200: _ok("deletedRecords, earliestDateAvailable, latestDateCovered")})
    add("GET", P + "/sobjects/{sobject}/updated/", "sobject_updated", sobject_updated, slash=True, tags=["sobjects"],
        responses={200: _ok("ids, latestDateCovered")})

    # after describe/deleted/updated: a fixed segment must win over {record_id}
    add("GET", P + "/sobjects/{sobject}/{record_id}", "sobject_get", sobject_get, tags=["sobjects"],
        responses={200: _ok("The record, with attributes.type and attributes.url")},
        summary="Get a record by id (15 or 18 characters)")

    async def sobject_update(request: Request, version: str, sobject: str, record_id: str) -> Response:
        b, session, _ = auth(request, version)
        obj = b.sobject(sobject)
        b.update(obj, record_id, await read_json(request), session["user_id"])
        return Response(status_code=204)

    async def sobject_delete(request: Request, version: str, sobject: str, record_id: str) -> Response:
        b, session, _ = auth(request, version)
        obj = b.sobject(sobject)
        b.delete(obj, record_id, session["user_id"])
        return Response(status_code=204)

    add("PATCH", P + "/sobjects/{sobject}/{record_id}", "sobject_update", sobject_update, status=204,
        tags=["sobjects"], body=_body(JSON_ANY), responses={204: NO_CONTENT}, summary="Update a record")
    add("DELETE", P + "/sobjects/{sobject}/{record_id}", "sobject_delete", sobject_delete, status=204,
        tags=["sobjects"], responses={204: NO_CONTENT}, summary="Delete a record (to the recycle bin)")

    async def get_by_external_id(request: Request, version: str, sobject: str, field: str, value: str) -> Response:
        b, _, ver = auth(request, version)
        obj = b.sobject(sobject)
        raw = unquote_plus(_raw_tail(request, "/sobjects/", 2))  # simple-salesforce sends quote_plus(value)
        _, rows = b.find_by_external_id(obj, field, raw)
        if not rows:
            raise NotFound()
        if len(rows) > 1:
            return Json([b.record_url(obj.name, r["Id"], ver) for r in rows], 300)
        return Json(record_body(obj, rows[0], ver))

    add("GET", P + "/sobjects/{sobject}/{field}/{value}", "sobject_get_by_external_id", get_by_external_id,
        tags=["sobjects"], responses={200: _ok("The record"), 300: _ok("Several records match", {"type": "array"})},
        summary="Get a record by external id (a '+' in the value is a space)")

    async def upsert(request: Request, version: str, sobject: str, field: str, value: str,
                     updateOnly: str | None = None) -> Response:  # noqa: N803 - Salesforce's parameter name
        b, session, ver = auth(request, version)
        obj = b.sobject(sobject)
        raw = unquote(_raw_tail(request, "/sobjects/", 2))
        body = await read_json(request)
        try:
            rec, created = b.upsert(obj, field, raw, body, session["user_id"], update_only=_bool(updateOnly))
        except SalesforceError as exc:
            if exc.status == 300:
                return Json(getattr(exc, "urls", []), 300)
            raise
        v = float(ver)
        if created:
            return Json(save_result(rec["Id"], True if v >= 46 else None), 201,
                        headers={"Location": b.record_url(obj.name, rec["Id"], ver)})
        if v >= 46:
            return Json(save_result(rec["Id"], False), 200)
        return Response(status_code=204)

    add("PATCH", P + "/sobjects/{sobject}/{field}/{value}", "sobject_upsert", upsert, tags=["sobjects"],
        body=_body(JSON_ANY), summary="Upsert by external id",
        responses={201: _ok("Created: {id, success, errors, created: true}"),
                   200: _ok("Updated: {id, success, errors, created: false} (v46+)"), 204: NO_CONTENT,
                   300: _ok("Several records match the external id", {"type": "array"})})

    async def delete_by_external_id(request: Request, version: str, sobject: str, field: str, value: str) -> Response:
        b, session, ver = auth(request, version)
        obj = b.sobject(sobject)
        raw = unquote(_raw_tail(request, "/sobjects/", 2))
        _, rows = b.find_by_external_id(obj, field, raw)
        if not rows:
            raise NotFound()
        if len(rows) > 1:
            return Json([b.record_url(obj.name, r["Id"], ver) for r in rows], 300)
        b.delete(obj, rows[0]["Id"], session["user_id"])
        return Response(status_code=204)

    add("DELETE", P + "/sobjects/{sobject}/{field}/{value}", "sobject_delete_by_external_id",
        delete_by_external_id, tags=["sobjects"], status=204,
        responses={204: NO_CONTENT, 300: _ok("Several records match", {"type": "array"})})

    # ---- composite ----------------------------------------------------------------------------------------------
    from .composite import add_composite_routes

    add_composite_routes(sim, app, add, auth, read_json)

    # ---- bulk 2.0 -----------------------------------------------------------------------------------------------
    from .bulk_routes import add_bulk_routes

    add_bulk_routes(sim, app, add, auth, read_json)

    # ---- auth ---------------------------------------------------------------------------------------------------
    from .auth import add_auth_routes

    add_auth_routes(sim, app, add)

    # ---- change events ------------------------------------------------------------------------------------------
    from .events import add_event_routes

    add_event_routes(sim, app, add, auth)

    return app


def _batch(request: Request) -> int:
    options = header_value(request.scope, b"sforce-query-options")
    if options:
        m = re.search(r"batchSize=(\d+)", options)
        if m:
            return min(max(int(m.group(1)), 200), QUERY_BATCH)
    return QUERY_BATCH
