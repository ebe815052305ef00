"""NetSuite's wire format: the responses class (one method per operation of urls.py) and the renderers behind it:
records with links and refName, collections with paging links, SuiteQL pages, async jobs.

Writes with `Prefer: respond-async` become async jobs (202 + Location), deduplicated by `X-NetSuite-Idempotency-Key`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl, urlencode

import jwt
from fastapi import Path, Query
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from q2c_simulators.kernel import Responses, operation
from q2c_simulators.kernel.http import json_bytes

from . import suiteql
from .auth import OAuth2Error, issue_token
from .exceptions import ERROR_MEDIA_TYPE, NetSuiteError, invalid_content, invalid_parameter, request_too_large
from .models import NetSuiteBackend, Record
from .records import RecordType, json_schema, openapi_document, record_types
from .releases import DEFAULT_RELEASE
from .urls import REST

if TYPE_CHECKING:
    from .simulator import NetSuiteSimulator

SINGULAR = "application/vnd.oracle.resource+json; type=singular"
COLLECTION = "application/vnd.oracle.resource+json; type=collection"
SCHEMA_JSON = "application/schema+json"
SWAGGER_JSON = "application/swagger+json"


_TYPE_NAMES = sorted(record_types(DEFAULT_RELEASE))
RecordTypeParam = Annotated[str, Path(description="REST record type id (case-insensitive)", max_length=100,
                                      json_schema_extra={"enum": _TYPE_NAMES})]
JobId = Annotated[str, Path(max_length=20)]
RecordIdParam = Annotated[str, Path(description="internal id, or eid:{externalId}", max_length=300)]
# the record transformations served (source, target): section_157901123882's two examples
_TRANSFORMS = {("salesOrder", "invoice"), ("invoice", "creditMemo")}

_ERR_SCHEMA = {"$ref": "#/components/schemas/NetSuiteError"}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {ERROR_MEDIA_TYPE: {"schema": _ERR_SCHEMA}}}


COMMON_ERRORS = {
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
_WRITE = {204: _NO_CONTENT, 202: _ACCEPTED}
_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}}}
_OAUTH_ERROR = {"content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}}


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(data: Any) -> bytes:
    return json_bytes(data, _default)


def json_response(data: Any, status: int = 200, media_type: str = SINGULAR, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(data), status, headers=headers, media_type=media_type)


def link(rel: str, href: str) -> dict[str, str]:
    return {"rel": rel, "href": href}


def render_record(backend: NetSuiteBackend, rt: RecordType, rec: Record, base: str, *,
                  fields: set[str] | None = None, expand: bool = False) -> dict[str, Any]:
    href = f"{base}/record/v1/{rt.name}/{rec['id']}"
    out: dict[str, Any] = {"links": [link("self", href)], "id": rec["id"]}
    remaining_alias = "amountDue" if rt.name == "invoice" and "amountDue" in rt.fields else None
    if rec.get("externalId") is not None and (fields is None or "externalId" in fields):
        out["externalId"] = rec["externalId"]
    for key in ("createdDate", "lastModifiedDate"):
        if key in rec and (fields is None or key in fields):
            out[key] = rec[key]
    for name, f in rt.fields.items():
        if fields is not None and name not in fields:
            continue
        stored = "amountRemaining" if name == remaining_alias else name
        value = rec.get(stored)
        if value is not None:
            out[name] = render_value(backend, base, f, value)
    for name, sub in rt.sublists.items():
        if fields is not None and name not in fields:
            continue
        sub_href = f"{href}/{name}"
        if not expand:
            out[name] = {"links": [link("self", sub_href)]}
            continue
        lines = rec.get(name, [])
        out[name] = {"links": [link("self", sub_href)],
                     "items": [render_line(backend, sub, line, sub_href) for line in lines],
                     "totalResults": len(lines)}
    return out


def render_line(backend: NetSuiteBackend, sub: Any, line: Record, sub_href: str) -> dict[str, Any]:
    base = sub_href.split("/record/v1/")[0]
    out: dict[str, Any] = {"links": [link("self", f"{sub_href}/{line['line']}")], "line": line["line"]}
    for name, f in sub.fields.items():
        value = line.get(name)
        if value is not None:
            out[name] = render_value(backend, base, f, value)
    return out


def render_value(backend: NetSuiteBackend, base: str, f: Any, value: Any) -> Any:
    """A body field as NetSuite shows it: references with links and refName, list values with refName."""
    if f.kind == "ref":
        return {"links": [link("self", f"{base}/record/v1/{f.target}/{value}")], "id": value,
                "refName": backend.ref_name(f.target or "", value)}
    if f.kind == "enum":
        return {"id": value, "refName": (f.choices or {}).get(value, value)}
    return value


def page(items: list[dict[str, Any]], total: int, limit: int, offset: int, self_url: str,
         params: dict[str, Any]) -> dict[str, Any]:
    """A collection page with NetSuite's paging links in the documented order: previous and first (after the first
    page), next, last, then self (section_156414087576 shows next, last, self on a first page; section_1017083728
    previous, first, next, last, self on a middle one, with limit and offset before the filter)."""

    def url(off: int) -> str:
        return f"{self_url}?{urlencode({'limit': limit, 'offset': off, **params})}"

    links = []
    if total > limit:  # a single page carries self only (section_1540810951)
        last = ((total - 1) // limit) * limit
        if offset > 0:
            links.append(link("previous", url(max(offset - limit, 0))))
            links.append(link("first", url(0)))
        if offset + limit < total:
            links.append(link("next", url(offset + limit)))
        links.append(link("last", url(last)))
    links.append(link("self", url(offset)))
    return {"links": links, "count": len(items), "hasMore": offset + len(items) < total, "items": items,
            "offset": offset, "totalResults": total}


def render_job(job: Record, done: bool, base: str) -> dict[str, Any]:
    href = f"{base}/async/v1/job/{job['id']}"
    return {"links": [link("self", href)], "id": job["id"], "completed": done,
            "progress": ("succeeded" if job["outcome"]["status"] < 400 else "failed") if done else "pending",
            "task": {"links": [link("self", f"{href}/task")]}}


def render_task(job: Record, done: bool, base: str) -> dict[str, Any]:
    href = f"{base}/async/v1/job/{job['id']}/task/{job['id']}"
    out = {"links": [link("self", href)], "id": job["id"], "completed": done,
           "progress": ("succeeded" if job["outcome"]["status"] < 400 else "failed") if done else "pending",
           "startTime": job["submitted"]}
    if done:  # the result link comes first (subsect_161252896355)
        out["endTime"] = job["completes"]
        out["links"].insert(0, link("related", f"{href}/result"))
    return out


def base_url(request: Request) -> str:
    host = request.headers.get("host") or "netsuite.sim"
    return f"{request.url.scheme}://{host}{request.scope.get('root_path', '')}{REST}"


def read_json(body: bytes) -> Any:
    if not body.strip():
        raise invalid_content("The request body is empty; a JSON object is expected.")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise invalid_content("The request could not be processed because the JSON is invalid.") from None


async def read_body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise request_too_large()
    return body


MAX_BODY = 104 * 1024 * 1024


def _strict(request: Request) -> bool:
    return request.headers.get("x-netsuite-propertynamevalidation", "").lower() == "error"


def _unverified_iss(assertion: str) -> str | None:
    try:
        iss = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except Exception:  # noqa: BLE001 - any junk is simply "no client"
        return None
    return iss if isinstance(iss, str) else None


class NetSuiteResponses(Responses["NetSuiteSimulator"]):
    """The REST operations. The kernel has already authenticated the request (`authenticate` in simulator.py: a
    maintenance window's 503, then TBA or a bearer token); `account(request)` is the authenticated account."""

    def account(self, request: Request) -> NetSuiteBackend:
        return request.scope["state"]["principal"]

    def _record_type(self, backend: NetSuiteBackend, name: str) -> RecordType:
        if name.lower() == "metadata-catalog":  # the catalog is read-only: a 405 as for any undeclared method
            raise HTTPException(405)
        return backend.record_type(name)

    def _maybe_async(self, request: Request, backend: NetSuiteBackend, run: Callable[[], Response]) -> Response:
        """Run a write now; with Prefer: respond-async, keep its outcome in a job and answer 202."""
        if "respond-async" not in request.headers.get("prefer", "").lower():
            return run()
        base = base_url(request)
        key = request.headers.get("x-netsuite-idempotency-key")
        if key is not None:
            if not 1 <= len(key) <= 128:
                raise NetSuiteError(400, "INVALID_HEADER", "X-NetSuite-Idempotency-Key must be 1 to 128 characters.",
                                    header="X-NetSuite-Idempotency-Key")
            earlier = backend.job_for_key(key)
            if earlier is not None:  # a 400 titled Conflict, naming the earlier job (subsect_164494900632)
                raise NetSuiteError(400, "IDEMPOTENCY_ERROR",
                                    "A request with the same idempotency key is already submitted. See the "
                                    "\"Location\" header for a link to the previously submitted job",
                                    header="X-NetSuite-Idempotency-Key", titled=409,
                                    headers={"Location": f"{base}/async/v1/job/{earlier}",
                                             "Preference-Applied": "respond-async"})
        try:
            response = run()
            location = {"Location": response.headers["location"]} if "location" in response.headers else {}
            outcome = {"status": response.status_code, "headers": location,
                       "body": response.body.decode() if response.body else None}
        except NetSuiteError as exc:
            outcome = {"status": exc.status, "headers": {}, "body": json.dumps(exc.body())}
        job = backend.new_job({"method": request.method, "path": request.url.path}, outcome, key)
        return Response(status_code=202, media_type="application/json",  # as subsect_161278579295 shows
                        headers={"Location": f"{base}/async/v1/job/{job['id']}", "Preference-Applied": "respond-async"})

    def _written(self, request: Request, rt: RecordType, rid: str) -> Response:
        # 204s are labelled application/json, as section_1545142173 (update) and article_0624125335 (delete) show
        return Response(status_code=204, media_type="application/json",
                        headers={"Location": f"{base_url(request)}/record/v1/{rt.name}/{rid}"})

    # ---- OAuth 2.0 ---------------------------------------------------------------------------------------------
    @operation(public=True, tags=["auth"], summary="OAuth 2.0 client credentials with a JWT client assertion",
               responses={200: {"description": "Access token", "content": {"application/json": {"schema": {
                   "type": "object", "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"},
                                                    "expires_in": {"type": "integer"}}}}}},
                   400: {"description": "OAuth 2.0 error", **_OAUTH_ERROR},
                   401: {"description": "invalid_client", **_OAUTH_ERROR}},
               request_body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
                   "type": "object", "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                                                    "client_assertion_type": {"type": "string"},
                                                    "client_assertion": {"type": "string"}}}}}})
    async def oauth2_token(self, request: Request) -> Response:
        sim = self.sim
        form = dict(parse_qsl((await read_body(request)).decode("utf-8", "replace"), keep_blank_values=True))
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
            token = issue_token(backend, form, f"{base_url(request)}/auth/oauth2/v1/token")
        except OAuth2Error as exc:
            return Response(json.dumps({"error": exc.error, "error_description": exc.description}), exc.status,
                            headers=headers, media_type="application/json")
        return Response(json.dumps(token), 200, headers=headers, media_type="application/json")

    # ---- metadata catalog --------------------------------------------------------------------------------------
    @operation(tags=["metadata"], responses={200: {
        "description": "Catalog list, or the OpenAPI document with Accept: application/swagger+json",
        "content": {COLLECTION: {"schema": {"type": "object"}}, SWAGGER_JSON: {"schema": {"type": "object"}}}}})
    async def metadata_catalog(self, request: Request,
                               select: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
        backend = self.account(request)
        base = base_url(request)
        chosen = list(record_types(backend.release).values())
        if select:
            chosen = [backend.record_type(name.strip()) for name in select.split(",") if name.strip()]
        if "swagger+json" in request.headers.get("accept", ""):
            return json_response(openapi_document(chosen, base, backend.release), media_type=SWAGGER_JSON)
        # each type's metadata in its three media types (section_1540810174, Getting Metadata)
        items = [{"name": rt.name, "links": [
            {**link("canonical", f"{base}/record/v1/metadata-catalog/{rt.name}"), "mediaType": "application/json"},
            {**link("alternate", f"{base}/record/v1/metadata-catalog/{rt.name}"), "mediaType": "application/swagger+json"},
            {**link("describedby", f"{base}/record/v1/metadata-catalog/{rt.name}"),
             "mediaType": "application/schema+json"}]} for rt in chosen]
        return json_response({"items": items, "links": [link("self", f"{base}/record/v1/metadata-catalog")]},
                             media_type=COLLECTION)

    @operation(tags=["metadata"], responses={200: {
        "description": "JSON Schema (Accept: application/schema+json) or OpenAPI (Accept: application/swagger+json) "
                       "of one record type",
        "content": {SCHEMA_JSON: {"schema": {"type": "object"}}, SWAGGER_JSON: {"schema": {"type": "object"}}}}})
    async def metadata_catalog_record(self, request: Request, record_type: RecordTypeParam) -> Response:
        backend = self.account(request)
        rt = self._record_type(backend, record_type)
        base = base_url(request)
        if "swagger+json" in request.headers.get("accept", ""):
            return json_response(openapi_document([rt], base, backend.release), media_type=SWAGGER_JSON)
        return json_response(json_schema(rt, base), media_type=SCHEMA_JSON)

    # ---- record service ----------------------------------------------------------------------------------------
    @operation(tags=["record"], responses={200: _ok(COLLECTION, "A page of record ids and links")})
    async def list_records(self, request: Request, record_type: RecordTypeParam,
                           q: Annotated[str | None, Query(max_length=4000)] = None,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
                           offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> Response:
        backend = self.account(request)
        rt = self._record_type(backend, record_type)
        ids = backend.list_ids(rt, q)
        base = base_url(request)
        items = [{"links": [link("self", f"{base}/record/v1/{rt.name}/{i}")], "id": i} for i in ids[offset:offset + limit]]
        return json_response(page(items, len(ids), limit, offset, f"{base}/record/v1/{rt.name}", {"q": q} if q else {}),
                             media_type=COLLECTION)

    @operation(tags=["record"], status=204, responses=_WRITE, request_body=_BODY)
    async def create_record(self, request: Request, record_type: RecordTypeParam) -> Response:
        backend = self.account(request)
        rt = self._record_type(backend, record_type)
        data = read_json(await read_body(request))
        return self._maybe_async(request, backend, lambda: self._written(
            request, rt, backend.create(rt, data, strict_names=_strict(request))))

    @operation(tags=["record"], responses={200: _ok(SINGULAR, "The record")})
    async def get_record(self, request: Request, record_type: RecordTypeParam, record_id: RecordIdParam,
                         fields: Annotated[str | None, Query(max_length=2000)] = None,
                         expandSubResources: bool = False) -> Response:  # noqa: N803 - NetSuite's parameter name
        backend = self.account(request)
        rt = self._record_type(backend, record_type)
        rec = backend.get(rt, record_id)
        wanted = {f.strip() for f in fields.split(",") if f.strip()} if fields else None
        return json_response(render_record(backend, rt, rec, base_url(request), fields=wanted,
                                           expand=expandSubResources))

    @operation(tags=["record"], status=204, responses=_WRITE, request_body=_BODY)
    async def update_record(self, request: Request, record_type: RecordTypeParam, record_id: RecordIdParam,
                            replace: Annotated[str | None, Query(max_length=1000)] = None) -> Response:
        backend = self.account(request)
        rt = self._record_type(backend, record_type)
        rid = backend.resolve_id(rt, record_id)
        data = read_json(await read_body(request))
        replaced = {s.strip() for s in replace.split(",")} if replace else None

        def run() -> Response:
            backend.update(rt, rid, data, strict_names=_strict(request), replace=replaced)
            return self._written(request, rt, rid)

        return self._maybe_async(request, backend, run)

    @operation(tags=["record"], status=204, responses=_WRITE, request_body=_BODY)
    async def upsert_record(self, request: Request, record_type: RecordTypeParam, record_id: RecordIdParam) -> Response:
        backend = self.account(request)
        rt = self._record_type(backend, record_type)
        if not record_id.startswith("eid:"):
            raise invalid_parameter("Upsert (PUT) is only supported with an external ID: "
                                    f"/record/v1/{rt.name}/eid:{{externalId}}.")
        data = read_json(await read_body(request))
        return self._maybe_async(request, backend, lambda: self._written(
            request, rt, backend.upsert(rt, record_id[4:], data, strict_names=_strict(request))[0]))

    @operation(tags=["record"], status=204, responses=_WRITE, request_body=_BODY)
    async def transform_record(self, request: Request, record_type: RecordTypeParam, record_id: RecordIdParam,
                               target_type: Annotated[str, Path(max_length=100)]) -> Response:
        """Transforming Records (docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157901123882.html):
        POST salesOrder/{id}/!transform/invoice bills a sales order, invoice/{id}/!transform/creditMemo credits an
        invoice; 204 No Content with the new record's Location. The new record takes the source's customer,
        subsidiary, currency, project and item lines, createdFrom names the source; fields in the body win."""
        backend = self.account(request)
        rt = self._record_type(backend, record_type)
        target = self._record_type(backend, target_type)
        if (rt.name, target.name) not in _TRANSFORMS:
            raise invalid_parameter(f"The transformation of {rt.name} into {target.name} is not supported.")
        rid = backend.resolve_id(rt, record_id)
        source = backend.get(rt, rid)
        raw = await read_body(request)
        data = read_json(raw) if raw.strip() else {}
        if not isinstance(data, dict):
            raise invalid_content("The request body must be a JSON object.")
        keep = ("entity", "subsidiary", "currency", "job", "memo", "taxRate")
        body: dict[str, Any] = {k: ({"id": source[k]} if target.fields[k].kind == "ref" else source[k])
                                for k in keep if k in target.fields and source.get(k) is not None}
        body["createdFrom"] = {"id": rid}
        body["item"] = {"items": [{k: ({"id": v} if k in ("item", "job") else str(v) if isinstance(v, Decimal) else v)
                                   for k, v in line.items() if k in ("item", "description", "quantity", "rate", "job")}
                                  for line in source.get("item", [])]}
        body.update(data)
        return self._maybe_async(request, backend, lambda: self._written(
            request, target, backend.create(target, body, strict_names=_strict(request))))

    @operation(tags=["record"], status=204, responses=_WRITE)
    async def delete_record(self, request: Request, record_type: RecordTypeParam, record_id: RecordIdParam) -> Response:
        backend = self.account(request)
        rt = self._record_type(backend, record_type)
        rid = backend.resolve_id(rt, record_id)

        def run() -> Response:
            backend.delete(rt, rid)
            return Response(status_code=204, media_type="application/json")

        return self._maybe_async(request, backend, run)

    @operation(tags=["record"], responses={200: _ok(SINGULAR, "A sublist (sub-resource)")})
    async def get_sublist(self, request: Request, record_type: RecordTypeParam, record_id: RecordIdParam,
                          sublist: Annotated[str, Path(max_length=100)]) -> Response:
        backend = self.account(request)
        rt = self._record_type(backend, record_type)
        rec = backend.get(rt, record_id)
        sub = rt.sublists.get(sublist)
        if sub is None:
            raise NetSuiteError(404, "NONEXISTENT_ID", f"Record type {rt.name} has no sublist {sublist}.")
        href = f"{base_url(request)}/record/v1/{rt.name}/{rec['id']}/{sub.name}"
        lines = rec.get(sub.name, [])
        return json_response({"links": [link("self", href)],
                              "items": [render_line(backend, sub, line, href) for line in lines],
                              "totalResults": len(lines)})

    @operation(tags=["record"], responses={200: _ok(SINGULAR, "One sublist line")})
    async def get_sublist_line(self, request: Request, record_type: RecordTypeParam, record_id: RecordIdParam,
                               sublist: Annotated[str, Path(max_length=100)],
                               line: Annotated[str, Path(max_length=20)]) -> Response:
        backend = self.account(request)
        rt = self._record_type(backend, record_type)
        rec = backend.get(rt, record_id)
        sub = rt.sublists.get(sublist)
        found = next((ln for ln in rec.get(sublist, []) if str(ln["line"]) == line), None) if sub else None
        if sub is None or found is None:
            raise NetSuiteError(404, "NONEXISTENT_ID", f"The {sublist} line {line} does not exist.")
        href = f"{base_url(request)}/record/v1/{rt.name}/{rec['id']}/{sub.name}"
        return json_response(render_line(backend, sub, found, href))

    # ---- SuiteQL -----------------------------------------------------------------------------------------------
    @operation(tags=["query"], responses={200: _ok(COLLECTION, "A page of rows (values as strings)"), 202: _ACCEPTED},
               request_body={"required": True, "content": {"application/json": {"schema": {
                   "type": "object", "required": ["q"], "properties": {"q": {"type": "string"}}}}}})
    async def suiteql(self, request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
                      offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> Response:
        backend = self.account(request)
        data = read_json(await read_body(request))
        if not isinstance(data, dict) or not isinstance(data.get("q"), str):
            raise invalid_content("The request body must be an object with a string field q.", "q")
        base = base_url(request)

        def run() -> Response:
            items, total = suiteql.run(backend, data["q"], limit, offset)
            body = page(items, total, limit, offset, f"{base}/query/v1/suiteql", {})
            if not request.query_params and len(body["links"]) == 1:  # a single page asked for without paging
                body["links"][0]["href"] = f"{base}/query/v1/suiteql"  # self is the bare URL (section_0210124841)
            return json_response(body, media_type=COLLECTION)

        return self._maybe_async(request, backend, run)

    # ---- async jobs --------------------------------------------------------------------------------------------
    def _job(self, backend: NetSuiteBackend, job_id: str) -> Record:
        job = backend.store.get("_jobs", job_id)
        if job is None:
            raise NetSuiteError(404, "NONEXISTENT_ID", f"The async job {job_id} does not exist.")
        return job

    @operation(tags=["async"], responses={200: _ok(SINGULAR, "Job status")})
    async def get_async_job(self, request: Request, job_id: JobId) -> Response:
        backend = self.account(request)
        job = self._job(backend, job_id)
        return json_response(render_job(job, backend.job_done(job), base_url(request)))

    @operation(tags=["async"], responses={200: _ok(COLLECTION, "The job's tasks")})
    async def list_async_tasks(self, request: Request, job_id: JobId) -> Response:
        backend = self.account(request)
        job = self._job(backend, job_id)
        href = f"{base_url(request)}/async/v1/job/{job['id']}/task"
        items = [{"links": [link("self", f"{href}/{job['id']}")], "id": job["id"]}]
        return json_response({"links": [link("self", href)], "count": 1, "hasMore": False, "items": items,
                              "offset": 0, "totalResults": 1}, media_type=COLLECTION)

    @operation(tags=["async"], responses={200: _ok(SINGULAR, "Task status")})
    async def get_async_task(self, request: Request, job_id: JobId, task_id: JobId) -> Response:
        backend = self.account(request)
        job = self._job(backend, job_id)
        if task_id != job["id"]:
            raise NetSuiteError(404, "NONEXISTENT_ID", f"The task {task_id} does not exist.")
        return json_response(render_task(job, backend.job_done(job), base_url(request)))

    @operation(tags=["async"], responses={
        200: {"description": "The outcome of the original request", "content": {
            COLLECTION: {"schema": {"type": "object"}}, SINGULAR: {"schema": {"type": "object"}}}},
        204: {"description": "No content; Location names the record"}})
    async def get_async_result(self, request: Request, job_id: JobId, task_id: JobId) -> Response:
        backend = self.account(request)
        job = self._job(backend, job_id)
        if task_id != job["id"] or not backend.job_done(job):
            raise NetSuiteError(404, "NONEXISTENT_ID", f"The task {task_id} has no result yet.")
        outcome = job["outcome"]
        status = outcome["status"]
        if status >= 400:
            return Response(outcome["body"], status, media_type=ERROR_MEDIA_TYPE)
        media = COLLECTION if outcome["body"] else None
        return Response(outcome["body"] or b"", status, headers=outcome["headers"], media_type=media)

    # ---- governance --------------------------------------------------------------------------------------------
    @operation(tags=["system"], responses={200: _ok(SINGULAR, "Concurrency limits of the account")})
    async def governance_limits(self, request: Request) -> Response:
        backend = self.account(request)
        limit = self.sim.concurrency_limit(backend.account)
        return json_response({"links": [link("self", f"{base_url(request)}/system/v1/governanceLimits")],
                              "accountConcurrencyLimit": limit, "accountUnallocatedConcurrencyLimit": limit,
                              "integrationConcurrencyLimit": None})
