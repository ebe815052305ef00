"""Composite resources, no routes (responses.py answers them): /composite (subrequests with @{ref.field}
references, each served as its own operation), sObject collections (up to 200 records), sObject tree."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request

from .exceptions import SalesforceError
from .models import SalesforceBackend, record_body, save_result
from .schema import SObjectType

if TYPE_CHECKING:
    from .simulator import SalesforceSimulator

_REF = re.compile(r"@\{([^}]+)\}")
MAX_SUBREQUESTS = 25
MAX_COLLECTION = 200
HALTED = "The transaction was rolled back since another operation in the same transaction failed."
ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
               "message": "Record rolled back because not all records were valid and the request was using AllOrNone "
                          "header", "fields": []}


class _Rollback(Exception):
    pass


def _lookup(results: dict[str, Any], expr: str) -> Any:
    """Resolve `ref.field.sub[0].x` against the bodies of earlier subrequests."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", expr)
    if not parts or parts[0] not in results:
        raise KeyError(expr)
    node = results[parts[0]]
    for part in parts[1:]:
        if part.startswith("["):
            node = node[int(part[1:-1])]
        elif isinstance(node, dict):
            node = node[part]
        else:
            raise KeyError(expr)
    return node


def _substitute(value: Any, results: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole:
            return _lookup(results, whole.group(1))
        return _REF.sub(lambda m: str(_lookup(results, m.group(1))), value)
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, results) for k, v in value.items()}
    return value


async def _dispatch(sim: SalesforceSimulator, request: Request, method: str, url: str, body: Any,
                    headers: dict[str, str] | None) -> tuple[int, Any, dict[str, str]]:
    """Serve one subrequest as its operation (authenticated, no quotas, faults or journal: a composite call is one
    API call)."""
    parts = urlsplit(url)
    raw = json.dumps(body).encode() if body is not None else b""
    hdrs = [(b"authorization", (request.headers.get("authorization") or "").encode()),
            (b"content-type", b"application/json")]
    for k, v in (headers or {}).items():
        if isinstance(k, str) and isinstance(v, str) and k.lower() not in ("authorization", "content-length"):
            hdrs.append((k.lower().encode(), v.encode()))
    hdrs.append((b"content-length", str(len(raw)).encode()))
    state = {k: v for k, v in request.scope["state"].items() if k != "principal"}
    scope = {
        "type": "http", "http_version": "1.1", "method": method, "scheme": "https", "path": parts.path,
        "raw_path": parts.path.encode(), "root_path": "", "query_string": parts.query.encode(), "headers": hdrs,
        "server": ("salesforce.sim", 443), "client": ("127.0.0.1", 0), "state": state,
    }
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    status = [0]
    out_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
            for k, v in message.get("headers", []):
                out_headers[k.decode("latin-1").title()] = v.decode("latin-1")
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await sim.call_operation(scope, receive, send)
    data = b"".join(chunks)
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data.decode("utf-8", "replace")
    return status[0], parsed, out_headers


async def run_composite(sim: SalesforceSimulator, request: Request, b: SalesforceBackend, body: Any
                        ) -> dict[str, Any]:
    """The compositeResponse of a /composite body: subrequests in order, later ones reading earlier results
    through @{referenceId.field}; with allOrNone, one failure rolls every write back."""
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise SalesforceError("compositeRequest: required field is missing", "JSON_PARSER_ERROR")
    subs = body["compositeRequest"]
    if not subs or len(subs) > MAX_SUBREQUESTS:
        raise SalesforceError(f"The number of subrequests must be between 1 and {MAX_SUBREQUESTS}",
                              "INVALID_BATCH_REQUEST" if subs else "JSON_PARSER_ERROR")
    seen = set()
    for sub in subs:
        if not isinstance(sub, dict) or not all(isinstance(sub.get(k), str) for k in ("method", "url", "referenceId")):
            raise SalesforceError("Each subrequest needs method, url and referenceId", "JSON_PARSER_ERROR")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,80}", sub["referenceId"]) or sub["referenceId"] in seen:
            raise SalesforceError(f"Invalid or duplicate referenceId: {sub['referenceId']}", "INVALID_INPUT")
        seen.add(sub["referenceId"])
    for flag in ("allOrNone", "collateSubrequests"):
        if flag in body and not isinstance(body[flag], bool):
            raise SalesforceError(f"{flag} must be a boolean", "JSON_PARSER_ERROR")
    all_or_none = body.get("allOrNone") is True
    results: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    failed = False

    async def run() -> None:
        nonlocal failed
        for sub in subs:
            ref = sub["referenceId"]
            if failed and all_or_none:
                out.append({"body": [{"errorCode": "PROCESSING_HALTED", "message": HALTED}],
                            "httpHeaders": {}, "httpStatusCode": 400, "referenceId": ref})
                continue
            try:
                url = _substitute(sub["url"], results)
                payload = _substitute(sub.get("body"), results)
            except (KeyError, IndexError, TypeError):
                failed = True
                out.append({"body": [{"errorCode": "PROCESSING_HALTED",
                                      "message": f"Invalid reference specified. No value for {sub['url']} found"}],
                            "httpHeaders": {}, "httpStatusCode": 400, "referenceId": ref})
                continue
            method = sub["method"].upper()
            if not str(url).startswith("/services/data/") or method not in ("GET", "POST", "PATCH", "PUT", "DELETE"):
                status, parsed, headers = 400, [{"errorCode": "INVALID_URL",
                                                 "message": f"Invalid subrequest url or method: {method} {url}"}], {}
            elif "/composite" in url.split("?")[0]:
                status, parsed, headers = 400, [{"errorCode": "INVALID_URL",
                                                 "message": "Composite subrequests cannot call composite"}], {}
            else:
                status, parsed, headers = await _dispatch(sim, request, method, url, payload, sub.get("httpHeaders"))
            if status >= 400:
                failed = True
            else:
                results[ref] = parsed
            keep = {k: v for k, v in headers.items() if k in ("Location", "Etag", "Last-Modified")}
            out.append({"body": parsed, "httpHeaders": keep, "httpStatusCode": status, "referenceId": ref})

    if all_or_none:
        try:
            with b.transaction():
                await run()
                if failed:
                    raise _Rollback
        except _Rollback:
            for item in out:
                if item["httpStatusCode"] < 400:
                    item.update(body=[{"errorCode": "PROCESSING_HALTED", "message": HALTED}], httpHeaders={},
                                httpStatusCode=400)
    else:
        await run()
    return {"compositeResponse": out}


# ---- sObject collections -------------------------------------------------------------------------------------
def _records(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SalesforceError("records: required field is missing", "JSON_PARSER_ERROR")
    records = body["records"]
    if "allOrNone" in body and not isinstance(body["allOrNone"], bool):
        raise SalesforceError("allOrNone must be a boolean", "JSON_PARSER_ERROR")
    if not all(isinstance(r, dict) for r in records):
        raise SalesforceError("Each record must be a JSON object", "JSON_PARSER_ERROR")
    if len(records) > MAX_COLLECTION:
        raise SalesforceError("record limit reached. cannot submit more than 200 records into this call",
                              "EXCEEDED_ID_LIMIT")
    return records, body.get("allOrNone") is True


def _collection(b: SalesforceBackend, records: list[Any], all_or_none: bool, one: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    failed = False

    def run() -> None:
        nonlocal failed
        for rec in records:
            try:
                results.append(one(rec))
            except SalesforceError as exc:
                failed = True
                results.append({"success": False, "errors": [exc.as_status()]})
                if all_or_none:
                    continue

    if all_or_none:
        try:
            with b.transaction():
                run()
                if failed:
                    raise _Rollback
        except _Rollback:
            results = [r if not r["success"] else {"id": r.get("id"), "success": False, "errors": [ROLLED_BACK]}
                       for r in results]
            for r in results:
                if not r["success"] and r.get("errors") == [ROLLED_BACK]:
                    r.pop("id", None)
    else:
        run()
    return results


def _object_of(b: SalesforceBackend, rec: Any) -> Any:
    if not isinstance(rec, dict):
        raise SalesforceError("Each record must be a JSON object", "JSON_PARSER_ERROR")
    attrs = rec.get("attributes")
    name = attrs.get("type") if isinstance(attrs, dict) else None
    if not isinstance(name, str):
        raise SalesforceError("When the id field is not specified, attributes.type is required", "INVALID_TYPE")
    obj = b.schema.get(name)
    if obj is None:
        raise SalesforceError(f"sObject type '{name}' is not supported.", "INVALID_TYPE")
    return obj


def create_records(b: SalesforceBackend, body: Any, user: str) -> list[dict[str, Any]]:
    records, all_or_none = _records(body)

    def one(rec: Any) -> dict:
        obj = _object_of(b, rec)
        if any(k.lower() == "id" for k in rec):
            raise SalesforceError("cannot specify Id in an insert call", "INVALID_FIELD_FOR_INSERT_UPDATE",
                                  fields=["Id"])
        return save_result(b.create(obj, rec, user)["Id"])

    return _collection(b, records, all_or_none, one)


def update_records(b: SalesforceBackend, body: Any, user: str) -> list[dict[str, Any]]:
    records, all_or_none = _records(body)

    def one(rec: Any) -> dict:
        obj = _object_of(b, rec)
        rid = next((rec[k] for k in rec if k.lower() == "id"), None)
        if not isinstance(rid, str):
            raise SalesforceError("Id not specified in an update call", "MISSING_ARGUMENT", fields=["Id"])
        changes = {k: v for k, v in rec.items() if k.lower() != "id"}
        return save_result(b.update(obj, rid, changes, user)["Id"])

    return _collection(b, records, all_or_none, one)


def delete_records(b: SalesforceBackend, ids: str, flags: list[str], user: str) -> list[dict[str, Any]]:
    # "If the request isn't well formed, the API returns a 400" (resources_composite_sobjects_collections_delete);
    # the error code for a bad query parameter is not documented, INVALID_INPUT is our choice.
    if len(flags) > 1 or (flags and flags[0].lower() not in ("true", "false")):
        raise SalesforceError(f"allOrNone: expected one value, true or false, got {', '.join(flags)[:80]}",
                              "INVALID_INPUT")
    wanted = [i for i in ids.split(",") if i]
    if not wanted:
        raise SalesforceError("ids: required parameter is missing", "MISSING_ARGUMENT")
    if len(wanted) > MAX_COLLECTION:
        raise SalesforceError("record limit reached. cannot submit more than 200 records into this call",
                              "EXCEEDED_ID_LIMIT")

    def one(rid: str) -> dict:
        obj = b.schema.object_of_id(rid) if len(rid) in (15, 18) else None
        if obj is None:
            raise SalesforceError(f"invalid record id: {rid}", "MALFORMED_ID", fields=[])
        try:
            return save_result(b.delete(obj, rid, user)["Id"])
        except SalesforceError as exc:
            if exc.status == 404:
                raise SalesforceError("entity is deleted" if exc.code == "ENTITY_IS_DELETED" else
                                      "invalid cross reference id", exc.code if exc.code == "ENTITY_IS_DELETED"
                                      else "INVALID_CROSS_REFERENCE_KEY") from None
            raise

    results = _collection(b, wanted, bool(flags) and flags[0].lower() == "true", one)
    for rid, r in zip(wanted, results):
        r.setdefault("id", rid) if not r["success"] else None
    return results


def retrieve_records(b: SalesforceBackend, obj: SObjectType, ids: list[str], fields: list[str], version: str,
                     limit: int = MAX_COLLECTION) -> list[dict[str, Any] | None]:
    """The records of these ids with these fields, `null` for an id that names none (resources_composite_sobjects_
    collections_retrieve); a field the object does not have is 400 INVALID_FIELD."""
    names = []
    for name in [f.strip() for f in fields if f.strip()]:
        f = obj.field(name)
        if f is None:
            raise SalesforceError(f"No such column '{name}' on entity '{obj.name}'", "INVALID_FIELD")
        names.append(f.name)
    if not names:
        raise SalesforceError("fields: required parameter is missing", "MISSING_ARGUMENT")
    out: list[dict[str, Any] | None] = []
    for rid in [i for i in ids if i][:limit]:
        try:
            out.append(record_body(obj, b.get(obj, rid), version, names))
        except SalesforceError:
            out.append(None)
    return out


MAX_RETRIEVE = 2000  # "The request retrieves up to 2,000 records" (resources_composite_sobjects_collections_retrieve_post)


def retrieve_records_by_body(b: SalesforceBackend, obj: SObjectType, body: Any, version: str
                             ) -> list[dict[str, Any] | None]:
    """POST sObject Collections retrieve: `{"ids": [...], "fields": [...]}`, up to 2,000 ids (jsforce retrieves
    several records this way)."""
    if not isinstance(body, dict):
        raise SalesforceError("The request body must be an object with ids and fields", "JSON_PARSER_ERROR")
    for key in ("ids", "fields"):
        value = body.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise SalesforceError(f"{key}: a list of one or more strings is required", "MISSING_ARGUMENT")
    if len(body["ids"]) > MAX_RETRIEVE:  # the code for more is not documented; EXCEEDED_ID_LIMIT as the others
        raise SalesforceError(f"record limit reached. cannot retrieve more than {MAX_RETRIEVE} records in this call",
                              "EXCEEDED_ID_LIMIT")
    return retrieve_records(b, obj, body["ids"], body["fields"], version, MAX_RETRIEVE)


def upsert_records(b: SalesforceBackend, obj: SObjectType, field: str, body: Any, user: str
                   ) -> list[dict[str, Any]]:
    records, all_or_none = _records(body)
    f = obj.field(field)
    if f is None or not f.external_id and f.type != "id":
        raise SalesforceError(f"Provided external ID field does not exist or is not accessible: {field}",
                              "NOT_FOUND", 404)

    def one(rec: Any) -> dict:
        _object_of(b, rec)
        value = next((rec[k] for k in rec if k.lower() == f.name.lower()), None)
        if value is None:
            raise SalesforceError(f"Missing external id value for {f.name}", "MISSING_ARGUMENT", fields=[f.name])
        saved, created = b.upsert(obj, f.name, str(value), rec, user)
        return save_result(saved["Id"], created)

    return _collection(b, records, all_or_none, one)


# ---- sObject tree --------------------------------------------------------------------------------------------
def insert_tree(b: SalesforceBackend, root: SObjectType, body: Any, user: str) -> tuple[int, dict[str, Any]]:
    """Record trees (up to 200 records, 5 types, 5 levels), all or nothing: (201, results) or (400, errors)."""
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SalesforceError("records: required field is missing", "JSON_PARSER_ERROR")
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    count = [0]
    types: set[str] = set()

    def insert(obj: Any, rec: Any, parent: tuple[str, str] | None, depth: int) -> list[tuple[Any, ...]]:
        if not isinstance(rec, dict):
            raise SalesforceError("Each record must be a JSON object", "JSON_PARSER_ERROR")
        attrs = rec.get("attributes") if isinstance(rec.get("attributes"), dict) else {}
        ref = attrs.get("referenceId")
        if not isinstance(ref, str) or not ref:
            raise SalesforceError("Include a reference ID for each record in the request.", "INVALID_INPUT")
        count[0] += 1
        types.add(obj.name)
        if count[0] > MAX_COLLECTION or len(types) > 5 or depth > 5:
            raise SalesforceError("The request exceeds the limits: 200 records, 5 object types, 5 levels",
                                  "LIMIT_EXCEEDED")
        fields: dict[str, Any] = {}
        nested: list[tuple[Any, str, list[Any]]] = []
        for k, v in rec.items():
            if k == "attributes":
                continue
            child = obj.children.get(k.lower())
            if child is not None:
                if not isinstance(v, dict) or not isinstance(v.get("records"), list):
                    raise SalesforceError(f"{k}: expected {{\"records\": [...]}}", "JSON_PARSER_ERROR")
                nested.append((b.schema.get(child[0]), child[1], v["records"]))
            else:
                fields[k] = v
        if parent is not None:
            fields[parent[0]] = parent[1]
        try:
            saved = b.create(obj, fields, user)
        except SalesforceError as exc:
            errors.append({"referenceId": ref, "errors": [exc.as_status()]})
            raise _Rollback from None
        results.append({"referenceId": ref, "id": saved["Id"]})
        return [(child_obj, kid, (field_name, saved["Id"]), depth + 1)
                for child_obj, field_name, kids in nested for kid in kids]

    try:
        with b.transaction():
            # level by level, as Salesforce answers: every top-level record, then their children (the
            # responses_composite_sobject_tree example lists ref1, ref4, then ref2, ref3)
            level = [(root, rec, None, 1) for rec in body["records"]]
            while level:
                level = [kid for args in level for kid in insert(*args)]
    except _Rollback:
        return 400, {"hasErrors": True, "results": errors}
    return 201, {"hasErrors": False, "results": results}
