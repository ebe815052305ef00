"""Salesforce's wire format: the responses class (one method per operation of urls.py) and what it renders: JSON
records with `attributes`, save results, SOAP login envelopes, Bulk 2.0 CSV.

The kernel has already authenticated every operation not declared public (`authenticate` in simulator.py: an
unknown API version is NOT_FOUND, then the bearer session); `self.caller(request)` is the `auth.Caller`. Errors are
`SalesforceError`s (exceptions.py), answered as Salesforce's error list.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote, unquote_plus
from xml.sax.saxutils import escape

from fastapi import Path
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from q2c_simulators.kernel import Responses, operation
from q2c_simulators.kernel.http import header_value, json_bytes

from . import bulk, composite, soql
from .auth import Caller, OAuthError, SoapParseError, base_url, revoke, soap_login, token_grant
from .events import apply_delivery_faults, next_batch
from .exceptions import JSON_MEDIA_TYPE, JsonParserError, NotFound, SalesforceError
from .models import QUERY_BATCH, SalesforceBackend, record_body, save_result
from .schema import describe_object

if TYPE_CHECKING:
    from .simulator import SalesforceSimulator

VERSION_LABELS = {"57.0": "Spring '23", "58.0": "Summer '23", "59.0": "Winter '24", "60.0": "Spring '24",
                  "61.0": "Summer '24", "62.0": "Winter '25"}


class Json(JSONResponse):
    """Compact JSON, no validation: the hot paths return this directly. Salesforce labels JSON
    `application/json;charset=UTF-8` (headers_api_usage example)."""

    media_type = JSON_MEDIA_TYPE

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        if headers:  # a Location and the like: Starlette's own header handling
            super().__init__(content, status_code, headers)
            return
        # what Starlette's __init__ sets, without its generic header merging (a hot GET builds one of these)
        self.status_code = status_code
        self.background = None
        self.body = body = json_bytes(content)
        self.raw_headers = [(b"content-length", b"%d" % len(body)), (b"content-type", JSON_MEDIA_TYPE.encode())]

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


def soap_login_response(session_id: str, server_url: str, org: dict[str, Any], user: dict[str, Any], lifetime: int,
                        base: str) -> Response:
    """The partner loginResponse: the server URLs carry the 15-character org id, userInfo the 18-character one and the
    org's name (jsforce and other SOAP clients read userInfo.organizationId)."""
    org_id, org15 = org["id"], org["id"][:15]
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result><metadataServerUrl>{escape(base)}/services/Soap/m/59.0/{org15}</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox><serverUrl>{escape(server_url)}</serverUrl><sessionId>{escape(session_id)}</sessionId><userId>{user['Id']}</userId><userInfo><organizationId>{org_id}</organizationId><organizationName>{escape(org.get("name") or org_id)}</organizationName><sessionSecondsValid>{lifetime}</sessionSecondsValid><userEmail>{escape(user.get('Email') or '')}</userEmail><userFullName>{escape(user.get('Name') or '')}</userFullName><userId>{user['Id']}</userId><userName>{escape(user['Username'])}</userName></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"""
    return Response(body, 200, media_type="text/xml; charset=utf-8")


def soap_fault(code: str, message: str, status: int = 500) -> Response:
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""
    return Response(body, status, media_type="text/xml; charset=utf-8")


def csv_response(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(text.encode("utf-8"), status, headers=headers, media_type="text/csv")


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
    except RecursionError:  # nested deeper than the parser goes: a bad request, as any JSON Salesforce cannot read
        raise JsonParserError("The JSON body is nested too deeply to parse.") from None


async def read_form(request: Request) -> dict[str, str]:
    """An OAuth endpoint's parameters: the query string, then the form body (any unparsable body is empty)."""
    try:
        form = await request.form()
    except Exception:  # noqa: BLE001 - any unparsable body is a bad request, answered by the grant's own checks
        form = {}
    return {**dict(request.query_params), **{k: v for k, v in form.items() if isinstance(v, str)}}


def _raw_tail(request: Request, marker: str, skip: int) -> str:
    """The undecoded path after `marker`, minus its first `skip` segments (to read an external id as sent)."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    text = raw.decode("latin-1").split("?", 1)[0]
    tail = text.split(marker, 1)[1] if marker in text else ""
    return tail.split("/", skip)[skip] if tail.count("/") >= skip else ""


def _bool(value: str | None) -> bool:
    return (value or "").lower() == "true"


def _batch(request: Request) -> int:
    options = header_value(request.scope, b"sforce-query-options")
    if options:
        m = re.search(r"batchSize=(\d+)", options)
        if m:
            return min(max(int(m.group(1)), 200), QUERY_BATCH)
    return QUERY_BATCH


def _dates(start: str | None, end: str | None) -> tuple[str, str]:
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


def _body(schema: dict, media: str = "application/json", required: bool = True) -> dict:
    return {"required": required, "content": {media: {"schema": schema}}}


COMMON_ERRORS = {
    400: _err("Bad request: MALFORMED_QUERY, INVALID_FIELD, JSON_PARSER_ERROR, REQUIRED_FIELD_MISSING, ..."),
    401: _err("INVALID_SESSION_ID: session expired or invalid"),
    403: _err("REQUEST_LIMIT_EXCEEDED: daily API allocation or concurrent long-running requests"),
    404: _err("NOT_FOUND: unknown version, object or record"),
    503: _err("Service unavailable (maintenance)"),
}
NO_CONTENT = {"description": "No content"}
QUERY_DOCS = {200: _ok("totalSize, done, nextRecordsUrl (when more), records")}
COMPOSITE_BODY = {"type": "object", "required": ["compositeRequest"], "properties": {
    "allOrNone": {"type": "boolean"}, "collateSubrequests": {"type": "boolean"},
    "compositeRequest": {"type": "array", "maxItems": 25, "items": {
        "type": "object", "required": ["method", "url", "referenceId"], "properties": {
            "method": {"type": "string", "enum": ["GET", "POST", "PATCH", "PUT", "DELETE"]},
            "url": {"type": "string"}, "referenceId": {"type": "string"}, "body": {},
            "httpHeaders": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}
COLLECTION_BODY = {"type": "object", "required": ["records"], "properties": {
    "allOrNone": {"type": "boolean"}, "records": {"type": "array", "maxItems": 200, "items": {"type": "object"}}}}
RETRIEVE_BODY = {"type": "object", "required": ["ids", "fields"], "properties": {
    "ids": {"type": "array", "minItems": 1, "maxItems": 2000, "items": {"type": "string"}},
    "fields": {"type": "array", "minItems": 1, "items": {"type": "string"}}}}
TREE_BODY = {"type": "object", "required": ["records"], "properties": {
    "records": {"type": "array", "maxItems": 200, "items": {"type": "object"}}}}
COLLECTION_DOCS = {200: {"description": "One save result per record: {id, success, errors[{statusCode, message, "
                                        "fields}]}", "content": {"application/json": {"schema": {"type": "array"}}}}}
JOB_BODY = {"type": "object", "properties": {
    "operation": {"type": "string"}, "object": {"type": "string"}, "externalIdFieldName": {"type": "string"},
    "contentType": {"type": "string"}, "columnDelimiter": {"type": "string"}, "lineEnding": {"type": "string"},
    "query": {"type": "string"}}}
STATE_BODY = {"type": "object", "required": ["state"], "properties": {"state": {"type": "string"}}}
JOB_DOCS = {200: _ok("Job info")}
CSV_DOCS = {200: {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}
CONFLICT = {409: {"description": "Invalid job state", "content": {"application/json": {"schema": {"type": "array"}}}}}
TOKEN_OK = {"type": "object", "required": ["access_token", "instance_url"], "properties": {
    "access_token": {"type": "string"}, "instance_url": {"type": "string"}, "id": {"type": "string"},
    "token_type": {"type": "string"}, "issued_at": {"type": "string"}, "signature": {"type": "string"},
    "refresh_token": {"type": "string"}, "scope": {"type": "string"}}}
TOKEN_ERROR = {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string"}, "error_description": {"type": "string"}}}
TOKEN_FORM = {"type": "object", "properties": {
    "grant_type": {"type": "string"}, "client_id": {"type": "string"}, "client_secret": {"type": "string"},
    "username": {"type": "string"}, "password": {"type": "string"}, "assertion": {"type": "string"},
    "refresh_token": {"type": "string"}}}

Version = Annotated[str, Path(description="API version: v57.0 ... v62.0")]


class SalesforceResponses(Responses["SalesforceSimulator"]):
    """The REST, login and event operations of urls.py, in its order."""

    def caller(self, request: Request) -> Caller:
        return request.scope["state"]["principal"]

    # ---- SOQL ----------------------------------------------------------------------------------------------------
    @operation(tags=["query"], responses=QUERY_DOCS,
               summary="Run a SOQL query (2,000 records a batch; nextRecordsUrl for the rest)")
    async def query(self, request: Request, version: Version, q: str) -> Response:
        c = self.caller(request)
        return Json(c.backend.run_query(q, c.version, include_deleted=False, batch=_batch(request)))

    @operation(tags=["query"], responses=QUERY_DOCS, summary="Run a SOQL query including deleted records")
    async def query_all(self, request: Request, version: Version, q: str) -> Response:
        c = self.caller(request)
        return Json(c.backend.run_query(q, c.version, include_deleted=True, batch=_batch(request)))

    @operation(tags=["query"], responses=QUERY_DOCS, summary="The next batch of a query (nextRecordsUrl)")
    async def query_more(self, request: Request, version: Version, locator: str) -> Response:
        c = self.caller(request)
        return Json(c.backend.query_more(locator, c.version, include_deleted=False, batch=_batch(request)))

    @operation(tags=["query"], responses=QUERY_DOCS, summary="The next batch of a queryAll")
    async def query_all_more(self, request: Request, version: Version, locator: str) -> Response:
        c = self.caller(request)
        return Json(c.backend.query_more(locator, c.version, include_deleted=True, batch=_batch(request)))

    # ---- versions, resources, limits -----------------------------------------------------------------------------
    @operation(public=True, tags=["versions"], responses={200: _ok("Supported API versions", LIST)},
               summary="List API versions (no authentication)")
    async def versions(self, request: Request) -> Response:
        return Json([{"label": VERSION_LABELS.get(v, v), "url": f"/services/data/v{v}", "version": v}
                     for v in self.sim.api_versions])

    @operation(tags=["versions"], responses={200: _ok("Resources available in this version")})
    async def resources(self, request: Request, version: Version) -> Response:
        base = f"/services/data/v{self.caller(request).version}"
        names = ["sobjects", "query", "queryAll", "composite", "limits", "jobs", "sim"]
        return Json({n: f"{base}/{n}" for n in names})

    @operation(tags=["limits"],
               responses={200: _ok("Org limits: DailyApiRequests Max/Remaining from the rolling 24-hour quota")})
    async def limits(self, request: Request, version: Version) -> Response:
        sim, b = self.sim, self.caller(request).backend
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

    # ---- describe ------------------------------------------------------------------------------------------------
    @operation(tags=["describe"], responses={200: _ok("Global describe")})
    async def describe_global(self, request: Request, version: Version) -> Response:
        c = self.caller(request)
        return Json({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
            o.summary(c.version) for o in sorted(c.backend.schema.objects.values(), key=lambda o: o.name)]})

    @operation(tags=["describe"], responses={200: _ok("Object describe: fields, childRelationships, urls")})
    async def sobject_describe(self, request: Request, version: Version, sobject: str) -> Response:
        c = self.caller(request)
        return Json(describe_object(c.backend.sobject(sobject), c.backend.schema, c.version))

    # ---- sObjects ------------------------------------------------------------------------------------------------
    @operation(tags=["sobjects"], responses={200: _ok("Basic object information and recently changed records")})
    async def sobject_basic(self, request: Request, version: Version, sobject: str) -> Response:
        c = self.caller(request)
        b = c.backend
        obj = b.sobject(sobject)
        recent = sorted((r for r in b.store.records(obj.name) if not r["IsDeleted"]),
                        key=lambda r: r["LastModifiedDate"], reverse=True)[:10]
        name_field = obj.name_field if obj.name_field in obj.fields else None
        items = [{"attributes": {"type": obj.name, "url": b.record_url(obj.name, r["Id"], c.version)}, "Id": r["Id"],
                  **({name_field: r.get(name_field)} if name_field else {})} for r in recent]
        return Json({"objectDescribe": obj.summary(c.version), "recentItems": items})

    @operation(tags=["sobjects"], status=201, request_body=_body(JSON_ANY),
               responses={201: _ok("Created: {id, success, errors}")}, summary="Create a record")
    async def sobject_create(self, request: Request, version: Version, sobject: str) -> Response:
        c = self.caller(request)
        obj = c.backend.sobject(sobject)
        rec = c.backend.create(obj, await read_json(request), c.user_id)
        return Json(save_result(rec["Id"]), 201, headers={"Location": c.backend.record_url(obj.name, rec["Id"], c.version)})

    @operation(tags=["sobjects"], responses={200: _ok("deletedRecords, earliestDateAvailable, latestDateCovered")})
    async def sobject_deleted(self, request: Request, version: Version, sobject: str, start: str | None = None,
                              end: str | None = None) -> Response:
        b = self.caller(request).backend
        return Json(b.deleted_between(b.sobject(sobject), *_dates(start, end)))

    @operation(tags=["sobjects"], responses={200: _ok("ids, latestDateCovered")})
    async def sobject_updated(self, request: Request, version: Version, sobject: str, start: str | None = None,
                              end: str | None = None) -> Response:
        b = self.caller(request).backend
        return Json(b.updated_between(b.sobject(sobject), *_dates(start, end)))

    @operation(tags=["sobjects"], responses={200: _ok("The record, with attributes.type and attributes.url")},
               summary="Get a record by id (15 or 18 characters)")
    async def sobject_get(self, request: Request, version: Version, sobject: str, record_id: str,
                          fields: str | None = None) -> Response:
        c = self.caller(request)
        obj = c.backend.sobject(sobject)
        rec = c.backend.get(obj, record_id)
        names = None
        if fields:
            names = []
            for name in fields.split(","):
                f = obj.field(name.strip())
                if f is None:
                    raise SalesforceError(f"No such column '{name.strip()}' on entity '{obj.name}'", "INVALID_FIELD",
                                          fields=[name.strip()])
                names.append(f.name)
        return Json(record_body(obj, rec, c.version, names))

    @operation(tags=["sobjects"], status=204, request_body=_body(JSON_ANY), responses={204: NO_CONTENT},
               summary="Update a record")
    async def sobject_update(self, request: Request, version: Version, sobject: str, record_id: str) -> Response:
        c = self.caller(request)
        c.backend.update(c.backend.sobject(sobject), record_id, await read_json(request), c.user_id)
        return Response(status_code=204)

    @operation(tags=["sobjects"], status=204, responses={204: NO_CONTENT},
               summary="Delete a record (to the recycle bin)")
    async def sobject_delete(self, request: Request, version: Version, sobject: str, record_id: str) -> Response:
        c = self.caller(request)
        c.backend.delete(c.backend.sobject(sobject), record_id, c.user_id)
        return Response(status_code=204)

    def _matches(self, b: SalesforceBackend, request: Request, sobject: str, field: str, decode: Any
                 ) -> tuple[Any, list[dict]]:
        obj = b.sobject(sobject)
        _, rows = b.find_by_external_id(obj, field, decode(_raw_tail(request, "/sobjects/", 2)))
        if not rows:
            raise NotFound()
        return obj, rows

    @operation(tags=["sobjects"], responses={200: _ok("The record"), 300: _ok("Several records match", {"type": "array"})},
               summary="Get a record by external id (a '+' in the value is a space)")
    async def sobject_get_by_external_id(self, request: Request, version: Version, sobject: str, field: str,
                                         value: str) -> Response:
        c = self.caller(request)
        obj, rows = self._matches(c.backend, request, sobject, field, unquote_plus)  # simple-salesforce quote_plus()es
        if len(rows) > 1:
            return Json([c.backend.record_url(obj.name, r["Id"], c.version) for r in rows], 300)
        return Json(record_body(obj, rows[0], c.version))

    @operation(tags=["sobjects"], request_body=_body(JSON_ANY), summary="Upsert by external id",
               responses={201: _ok("Created: {id, success, errors, created: true}"),
                          200: _ok("Updated: {id, success, errors, created: false} (v46+)"), 204: NO_CONTENT,
                          300: _ok("Several records match the external id", {"type": "array"})})
    async def sobject_upsert(self, request: Request, version: Version, sobject: str, field: str, value: str,
                             updateOnly: str | None = None) -> Response:  # noqa: N803 - Salesforce's parameter name
        c = self.caller(request)
        b = c.backend
        obj = b.sobject(sobject)
        raw = unquote(_raw_tail(request, "/sobjects/", 2))
        body = await read_json(request)
        try:
            rec, created = b.upsert(obj, field, raw, body, c.user_id, update_only=_bool(updateOnly))
        except SalesforceError as exc:
            if exc.status == 300:
                return Json(getattr(exc, "urls", []), 300)
            raise
        v = float(c.version)
        if created:
            return Json(save_result(rec["Id"], True if v >= 46 else None), 201,
                        headers={"Location": b.record_url(obj.name, rec["Id"], c.version)})
        if v >= 46:
            return Json(save_result(rec["Id"], False), 200)
        return Response(status_code=204)

    @operation(tags=["sobjects"], status=204,
               responses={204: NO_CONTENT, 300: _ok("Several records match", {"type": "array"})})
    async def sobject_delete_by_external_id(self, request: Request, version: Version, sobject: str, field: str,
                                            value: str) -> Response:
        c = self.caller(request)
        obj, rows = self._matches(c.backend, request, sobject, field, unquote)
        if len(rows) > 1:
            return Json([c.backend.record_url(obj.name, r["Id"], c.version) for r in rows], 300)
        c.backend.delete(obj, rows[0]["Id"], c.user_id)
        return Response(status_code=204)

    # ---- composite -----------------------------------------------------------------------------------------------
    @operation(tags=["composite"], responses={200: _ok("The composite resources served")},
               summary="List the composite resources")
    async def composite_resources(self, request: Request, version: Version) -> Response:
        base = f"/services/data/v{self.caller(request).version}/composite"
        return Json({"tree": f"{base}/tree", "sobjects": f"{base}/sobjects"})  # batch, graph: docs/salesforce.md gaps

    @operation(tags=["composite"], request_body=_body(COMPOSITE_BODY),
               responses={200: _ok("compositeResponse: one entry per subrequest")},
               summary="Up to 25 subrequests with @{referenceId.field} references; allOrNone rolls all back")
    async def composite(self, request: Request, version: Version) -> Response:
        b = self.caller(request).backend
        return Json(await composite.run_composite(self.sim, request, b, await read_json(request)))

    @operation(tags=["composite"], request_body=_body(COLLECTION_BODY), responses=COLLECTION_DOCS,
               summary="Create up to 200 records")
    async def collection_create(self, request: Request, version: Version) -> Response:
        c = self.caller(request)
        return Json(composite.create_records(c.backend, await read_json(request), c.user_id))

    @operation(tags=["composite"], request_body=_body(COLLECTION_BODY), responses=COLLECTION_DOCS,
               summary="Update up to 200 records")
    async def collection_update(self, request: Request, version: Version) -> Response:
        c = self.caller(request)
        return Json(composite.update_records(c.backend, await read_json(request), c.user_id))

    @operation(tags=["composite"], responses=COLLECTION_DOCS, summary="Delete up to 200 records (?ids=a,b&allOrNone=true)")
    async def collection_delete(self, request: Request, version: Version, ids: str = "",
                                allOrNone: str | None = None) -> Response:  # noqa: N803
        c = self.caller(request)
        return Json(composite.delete_records(c.backend, ids, request.query_params.getlist("allOrNone"), c.user_id))

    @operation(tags=["composite"], responses={200: _ok("Records (null where not found)", {"type": "array"})})
    async def collection_retrieve(self, request: Request, version: Version, sobject: str, ids: str = "",
                                  fields: str = "") -> Response:
        c = self.caller(request)
        return Json(composite.retrieve_records(c.backend, c.backend.sobject(sobject), ids.split(","), fields.split(","),
                                               c.version))

    @operation(tags=["composite"], request_body=_body(RETRIEVE_BODY),
               responses={200: _ok("Records (null where not found)", {"type": "array"})},
               summary="Get up to 2,000 records of one object by id, the ids and fields in the body")
    async def collection_retrieve_post(self, request: Request, version: Version, sobject: str) -> Response:
        c = self.caller(request)
        obj = c.backend.sobject(sobject)
        return Json(composite.retrieve_records_by_body(c.backend, obj, await read_json(request), c.version))

    @operation(tags=["composite"], request_body=_body(COLLECTION_BODY), responses=COLLECTION_DOCS,
               summary="Upsert up to 200 records by external id")
    async def collection_upsert(self, request: Request, version: Version, sobject: str, field: str) -> Response:
        c = self.caller(request)
        obj = c.backend.sobject(sobject)
        return Json(composite.upsert_records(c.backend, obj, field, await read_json(request), c.user_id))

    @operation(tags=["composite"], status=201, request_body=_body(TREE_BODY),
               responses={201: _ok("hasErrors false, results [{referenceId, id}]"),
                          400: {"description": "hasErrors true with per-record errors (statusCode shape), or a "
                                               "Salesforce error list", "content": {"application/json": {"schema": {}}}}},
               summary="Create record trees (up to 200 records, 5 types, 5 levels), all or nothing")
    async def composite_tree(self, request: Request, version: Version, sobject: str) -> Response:
        c = self.caller(request)
        root = c.backend.sobject(sobject)
        status, body = composite.insert_tree(c.backend, root, await read_json(request), c.user_id)
        return Json(body, status)

    # ---- Bulk API 2.0: the same five operations for ingest and query jobs ----------------------------------------
    @operation(tags=["bulk"], request_body=_body(JOB_BODY), responses=JOB_DOCS,
               summary="Create an ingest job (state Open)")
    async def bulk_ingest_create(self, request: Request, version: Version) -> Response:
        c = self.caller(request)
        return Json(bulk.create_ingest_job(c.backend, await read_json(request), c.user_id, c.version))

    @operation(tags=["bulk"], responses=JOB_DOCS)
    async def bulk_ingest_list(self, request: Request, version: Version) -> Response:
        return Json(bulk.list_jobs(self.caller(request).backend, "ingest"))

    @operation(tags=["bulk"], responses=JOB_DOCS)
    async def bulk_ingest_get(self, request: Request, version: Version, job_id: str) -> Response:
        return Json(bulk.get_job(self.caller(request).backend, job_id, "ingest"))

    @operation(tags=["bulk"], request_body=_body(STATE_BODY), responses={**JOB_DOCS, **CONFLICT},
               summary="UploadComplete or Aborted")
    async def bulk_ingest_state(self, request: Request, version: Version, job_id: str) -> Response:
        return Json(bulk.set_state(self.caller(request).backend, job_id, "ingest", await read_json(request)))

    @operation(tags=["bulk"], status=204, responses={204: {"description": "Deleted"}, **CONFLICT})
    async def bulk_ingest_delete(self, request: Request, version: Version, job_id: str) -> Response:
        bulk.delete_job(self.caller(request).backend, job_id, "ingest")
        return Response(status_code=204)

    @operation(tags=["bulk"], status=201, request_body=_body({"type": "string"}, "text/csv"),
               responses={201: {"description": "Data accepted"}, **CONFLICT}, summary="Upload the job's CSV (answers 201)")
    async def bulk_ingest_upload(self, request: Request, version: Version, job_id: str) -> Response:
        bulk.upload(self.caller(request).backend, job_id, await request.body())
        return Response(status_code=201)

    def _ingest_results(self, request: Request, job_id: str, result: str) -> Response:
        return csv_response(bulk.ingest_results(self.caller(request).backend, job_id, bulk.RESULT_KINDS[result]))

    @operation(tags=["bulk"], responses=CSV_DOCS, summary="successfulResults (CSV)")
    async def bulk_ingest_successful(self, request: Request, version: Version, job_id: str) -> Response:
        return self._ingest_results(request, job_id, "successfulResults")

    @operation(tags=["bulk"], responses=CSV_DOCS, summary="failedResults (CSV)")
    async def bulk_ingest_failed(self, request: Request, version: Version, job_id: str) -> Response:
        return self._ingest_results(request, job_id, "failedResults")

    @operation(tags=["bulk"], responses=CSV_DOCS, summary="unprocessedrecords (CSV)")
    async def bulk_ingest_unprocessed(self, request: Request, version: Version, job_id: str) -> Response:
        return self._ingest_results(request, job_id, "unprocessedrecords")

    @operation(tags=["bulk"], request_body=_body(JOB_BODY), responses=JOB_DOCS, summary="Create a query job")
    async def bulk_query_create(self, request: Request, version: Version) -> Response:
        c = self.caller(request)
        return Json(bulk.create_query_job(c.backend, await read_json(request), c.user_id, c.version))

    @operation(tags=["bulk"], responses=JOB_DOCS)
    async def bulk_query_list(self, request: Request, version: Version) -> Response:
        return Json(bulk.list_jobs(self.caller(request).backend, "query"))

    @operation(tags=["bulk"], responses=JOB_DOCS)
    async def bulk_query_get(self, request: Request, version: Version, job_id: str) -> Response:
        return Json(bulk.get_job(self.caller(request).backend, job_id, "query"))

    @operation(tags=["bulk"], request_body=_body(STATE_BODY), responses={**JOB_DOCS, **CONFLICT},
               summary="Abort a query job")
    async def bulk_query_state(self, request: Request, version: Version, job_id: str) -> Response:
        return Json(bulk.set_state(self.caller(request).backend, job_id, "query", await read_json(request)))

    @operation(tags=["bulk"], status=204, responses={204: {"description": "Deleted"}, **CONFLICT})
    async def bulk_query_delete(self, request: Request, version: Version, job_id: str) -> Response:
        bulk.delete_job(self.caller(request).backend, job_id, "query")
        return Response(status_code=204)

    @operation(tags=["bulk"], responses={200: {
        "description": "CSV page; Sforce-NumberOfRecords and Sforce-Locator ('null' on the last page)",
        "headers": {"Sforce-NumberOfRecords": {"schema": {"type": "string"}},
                    "Sforce-Locator": {"schema": {"type": "string"}}},
        "content": {"text/csv": {"schema": {"type": "string"}}}}})
    async def bulk_query_results(self, request: Request, version: Version, job_id: str, locator: str | None = None,
                                 maxRecords: int | None = None) -> Response:  # noqa: N803
        text, n, next_locator = bulk.query_results(self.caller(request).backend, job_id, locator, maxRecords)
        return csv_response(text, headers={"Sforce-NumberOfRecords": str(n), "Sforce-Locator": next_locator})

    # ---- login ---------------------------------------------------------------------------------------------------
    @operation(public=True, tags=["auth"], request_body=_body(TOKEN_FORM, "application/x-www-form-urlencoded"),
               responses={200: _ok("Access token and instance_url", TOKEN_OK),
                          400: _ok("invalid_grant, invalid_client, unsupported_grant_type", TOKEN_ERROR),
                          401: _ok("invalid_client (bad client credentials)", TOKEN_ERROR)},
               summary="OAuth 2.0 token: password, client_credentials, JWT bearer, refresh_token")
    async def oauth_token(self, request: Request) -> Response:
        try:
            return Json(token_grant(self.sim, request, await read_form(request)))
        except OAuthError as exc:
            return Json({"error": exc.error, "error_description": exc.description}, exc.status)

    @operation(public=True, tags=["auth"], request_body=_body(
        {"type": "object", "properties": {"token": {"type": "string"}}}, "application/x-www-form-urlencoded",
        required=False), responses={200: {"description": "Revoked"}, 400: _ok("unknown token", TOKEN_ERROR)})
    async def oauth_revoke(self, request: Request) -> Response:
        if revoke(self.sim, (await read_form(request)).get("token")):
            return Response(status_code=200)
        return Json({"error": "unsupported_token_type", "error_description": "this token type is not supported"}, 400)

    @operation(tags=["auth"], responses={200: _ok("The session's user")})
    async def oauth_userinfo(self, request: Request) -> Response:
        c = self.caller(request)
        b = c.backend
        user = b.store.get("User", c.user_id)
        return Json({"sub": f"{base_url(request)}/id/{b.org['id']}/{user['Id']}", "user_id": user["Id"],
                     "organization_id": b.org["id"], "preferred_username": user["Username"],
                     "name": user.get("Name"), "email": user.get("Email"), "active": True})

    @operation(tags=["auth"], responses={200: _ok("The identity of the token's user and the org's API URLs"),
                                         403: _err("The token may read its own user's identity only")},
               summary="Identity URL (the id in the token response)")
    async def identity(self, request: Request, org_id: str, user_id: str, version: str | None = None) -> Response:
        """The Identity URL ("Using Identity URLs", Salesforce Help remoteaccess_using_openid): who the token is and
        where the org's APIs are; without `version` the URLs carry the literal `{version}`, as Salesforce sends them.
        Reading another user's identity needs "View All Data"; this simulator's tokens have no such user, so any
        other id is 403 (the code is our choice)."""
        c = self.caller(request)
        b = c.backend
        org = b.org["id"]
        if org_id[:15] != org[:15] or user_id[:15] != c.user_id[:15]:
            raise SalesforceError("This session may read its own identity only", "INSUFFICIENT_ACCESS", 403)
        user = b.store.get("User", c.user_id)
        base = base_url(request)
        ver = "{version}" if version is None else (self.sim.api_versions[-1] if version == "latest" else version)
        rest = f"{base}/services/data/v{ver}/"
        return Json({
            "id": f"{base}/id/{org}/{user['Id']}", "asserted_user": True, "user_id": user["Id"],
            "organization_id": org, "username": user["Username"], "nick_name": user.get("Alias"),
            "display_name": user.get("Name"), "email": user.get("Email"), "email_verified": True,
            "first_name": user.get("FirstName"), "last_name": user.get("LastName"), "timezone": "GMT",
            "active": user.get("IsActive", True), "user_type": "STANDARD", "language": "en_US", "locale": "en_US",
            "utcOffset": 0, "last_modified_date": user.get("LastModifiedDate"),
            "urls": {"enterprise": f"{base}/services/Soap/c/{ver}/{org[:15]}",
                     "partner": f"{base}/services/Soap/u/{ver}/{org[:15]}",
                     "metadata": f"{base}/services/Soap/m/{ver}/{org[:15]}",
                     "rest": rest, "sobjects": f"{rest}sobjects/", "search": f"{rest}search/",
                     "query": f"{rest}query/", "recent": f"{rest}recent/",
                     "profile": f"{base}/{user['Id']}"},
        })

    @operation(public=True, tags=["auth"], request_body=_body({"type": "string"}, "text/xml"),
               responses={200: _ok("loginResponse with sessionId and serverUrl", {"type": "string"}, "text/xml"),
                          500: _ok("SOAP fault with sf:exceptionCode (INVALID_LOGIN)", {"type": "string"}, "text/xml")},
               summary="SOAP partner login")
    async def soap_login(self, request: Request, version: Annotated[str, Path(description="API version: 57.0 ... 62.0")]
                         ) -> Response:
        try:
            found = soap_login(self.sim, await request.body())
        except SoapParseError:
            return soap_fault("INVALID_LOGIN", "Invalid request: the body is not a SOAP envelope", 500)
        if found is None:
            return soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
        b, user = found
        issued = b.issue_token(user["Id"])
        base = base_url(request)
        org = b.org["id"]
        ver = version if re.fullmatch(r"\d+\.\d", version) else self.sim.default_version
        return soap_login_response(issued["access_token"], f"{base}/services/Soap/u/{ver}/{org[:15]}", b.org,
                                   user, int(b.org["session_seconds"]), base)

    # ---- change events -------------------------------------------------------------------------------------------
    @operation(tags=["events"], summary="Change Data Capture subscription (long poll with replay id)", responses={
        200: _ok("Change events after replayId; resume from latestReplayId", {
            "type": "object", "required": ["channel", "events", "latestReplayId"],
            "properties": {"channel": {"type": "string"}, "events": {"type": "array"},
                           "latestReplayId": {"type": "integer"}}})})
    async def cdc_events(self, request: Request, version: Version, channel: str, replayId: int = -1,  # noqa: N803
                         wait: float = 0, limit: int = 100) -> Response:
        b = self.caller(request).backend
        batch, latest = await next_batch(b, replayId, channel, limit, wait)
        delivered = apply_delivery_faults(self.sim, request.scope["state"]["tenant"], channel, batch)
        return Json({"channel": f"/data/{channel}", "events": delivered, "latestReplayId": latest})
