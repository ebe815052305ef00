"""Bulk API 2.0: ingest jobs (CSV upload, per-row results) and query jobs (CSV pages with a locator).

Jobs are processed when the upload is marked complete (ingest) or at creation (query), so the first status poll
already answers JobComplete. State lives in the tenant store: `_bulk_jobs`, `_bulk_data`, `_bulk_results`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from . import ids, soql
from .exceptions import NotFound, SalesforceError
from .models import SalesforceBackend

INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
JOB_PREFIX = ids.STANDARD_PREFIXES["BulkJob"]


def _invalid(message: str) -> SalesforceError:
    return SalesforceError(message, "INVALIDJOB", 400)


def create_ingest_job(b: SalesforceBackend, body: Any, user: str, version: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _invalid("Invalid job request: body must be a JSON object")
    op = body.get("operation")
    if op not in INGEST_OPERATIONS:
        raise SalesforceError(f"Unsupported operation: {op}", "API_ERROR" if op is None else "INVALIDJOB", 400)
    name = body.get("object")
    if not isinstance(name, str):
        raise _invalid("Invalid job request: object is required")
    obj = b.schema.get(name)
    if obj is None:
        raise _invalid(f"sObject type '{name}' is not supported.")
    ext = body.get("externalIdFieldName")
    if op == "upsert":
        f = obj.field(ext) if isinstance(ext, str) else None
        if f is None or not (f.external_id or f.type == "id"):
            raise _invalid(f"InvalidJob : Field name provided, {ext} does not match an External ID for {obj.name}")
    if body.get("contentType", "CSV") != "CSV":
        raise _invalid("Only CSV contentType is supported")
    delimiter = body.get("columnDelimiter", "COMMA")
    if delimiter not in _DELIMITERS:
        raise _invalid(f"Invalid columnDelimiter: {delimiter}")
    if body.get("lineEnding", "LF") not in ("LF", "CRLF"):
        raise _invalid("Invalid lineEnding")
    now = b.now_text()
    job = {
        "id": b._next_id("BulkJob", JOB_PREFIX), "operation": op, "object": obj.name, "createdById": user,
        "createdDate": now, "systemModstamp": now, "state": "Open", "concurrencyMode": "Parallel",
        "contentType": "CSV", "apiVersion": float(version), "contentUrl": None, "lineEnding": body.get("lineEnding", "LF"),
        "columnDelimiter": delimiter, "jobType": "V2Ingest", "numberRecordsProcessed": 0, "numberRecordsFailed": 0,
        "retries": 0, "totalProcessingTime": 0, "apiActiveProcessingTime": 0, "apexProcessingTime": 0,
        "errorMessage": None,
    }
    if ext:
        job["externalIdFieldName"] = obj.field(ext).name if obj.field(ext) else ext
    job["contentUrl"] = f"services/data/v{version}/jobs/ingest/{job['id']}/batches"
    b.store.put("_bulk_jobs", job["id"], job)
    return job


_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}


def get_job(b: SalesforceBackend, job_id: str, kind: str) -> dict[str, Any]:
    job = b.store.get("_bulk_jobs", job_id)
    if job is None or (job["jobType"] == "V2Query") != (kind == "query"):
        raise NotFound("The requested resource does not exist")
    return job


def upload(b: SalesforceBackend, job_id: str, data: bytes) -> None:
    job = get_job(b, job_id, "ingest")
    if job["state"] != "Open":
        raise SalesforceError("Job is not in the Open state: data can only be uploaded to an Open job",
                              "INVALIDJOBSTATE", 409)
    if b.store.get("_bulk_data", job_id) is not None:
        raise SalesforceError("Data already uploaded for this job: create a new job for more data",
                              "INVALIDJOBSTATE", 409)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SalesforceError("The CSV data is not valid UTF-8", "INVALIDBATCH", 400) from None
    if len(data) > 150 * 1024 * 1024:
        raise SalesforceError("The data exceeds 150 MB", "INVALIDBATCH", 400)
    b.store.put("_bulk_data", job_id, {"csv": text})


def set_state(b: SalesforceBackend, job_id: str, kind: str, body: Any) -> dict[str, Any]:
    job = get_job(b, job_id, kind)
    state = body.get("state") if isinstance(body, dict) else None
    if state == "Aborted":
        if job["state"] in ("JobComplete", "Failed", "Aborted"):
            raise SalesforceError(f"Job in state {job['state']} cannot be aborted", "INVALIDJOBSTATE", 409)
        job = {**job, "state": "Aborted", "systemModstamp": b.now_text()}
        b.store.put("_bulk_jobs", job_id, job)
        return job
    if state != "UploadComplete" or kind != "ingest":
        raise SalesforceError(f"Invalid state transition to {state!r}", "INVALIDJOBSTATE", 400)
    if job["state"] != "Open":
        raise SalesforceError(f"Job in state {job['state']} cannot move to UploadComplete", "INVALIDJOBSTATE", 409)
    job = _process_ingest(b, job)
    return {**job, "state": "UploadComplete"}


def _process_ingest(b: SalesforceBackend, job: dict[str, Any]) -> dict[str, Any]:
    data = b.store.get("_bulk_data", job["id"])
    text = data["csv"] if data else ""
    reader = csv.reader(io.StringIO(text), delimiter=_DELIMITERS[job["columnDelimiter"]])
    rows = list(reader)
    if not rows:
        job = {**job, "state": "Failed", "errorMessage": "InvalidBatch : Empty CSV file", "systemModstamp": b.now_text()}
        b.store.put("_bulk_jobs", job["id"], job)
        return job
    header, body = rows[0], [r for r in rows[1:] if r]
    obj = b.schema.get(job["object"])
    user = job["createdById"]
    ok: list[list[Any]] = []
    failed: list[list[Any]] = []
    for row in body:
        values = dict(zip(header, row))
        record = {k: (None if v == "#N/A" else v) for k, v in values.items() if v != ""}
        try:
            op = job["operation"]
            if op == "insert":
                rec, created = b.create(obj, record, user), True
            elif op == "update":
                rid = record.pop("Id", None) or record.pop("id", None)
                if not rid:
                    raise SalesforceError("Id not specified in an update call", "MISSING_ARGUMENT")
                rec, created = b.update(obj, rid, record, user), False
            elif op == "upsert":
                field = job["externalIdFieldName"]
                value = next((record[k] for k in record if k.lower() == field.lower()), None)
                if value is None:
                    raise SalesforceError(f"Missing external id value for {field}", "MISSING_ARGUMENT", fields=[field])
                rec, created = b.upsert(obj, field, str(value), record, user)
            else:
                rid = record.get("Id") or record.get("id")
                if not rid:
                    raise SalesforceError("Id not specified in a delete call", "MISSING_ARGUMENT")
                rec, created = b.delete(obj, rid, user), False
            ok.append([rec["Id"], "true" if created else "false", *row])
        except SalesforceError as exc:
            fields = ":".join(exc.fields or [])
            failed.append(["", f"{exc.code}:{exc.message}:{fields} --", *row])
    b.store.put("_bulk_results", job["id"], {
        "successful": csv_text(["sf__Id", "sf__Created", *header], ok),
        "failed": csv_text(["sf__Id", "sf__Error", *header], failed),
        "unprocessed": csv_text(header, []),
    })
    job = {**job, "state": "JobComplete", "numberRecordsProcessed": len(body), "numberRecordsFailed": len(failed),
           "systemModstamp": b.now_text(), "totalProcessingTime": 1}
    b.store.put("_bulk_jobs", job["id"], job)
    return job


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    """Bulk 2.0 CSV: every value quoted, LF line ends, booleans as true/false, null as an empty value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else ("true" if v is True else "false" if v is False else v) for v in row])
    return out.getvalue()


RESULT_KINDS = {"successfulResults": "successful", "failedResults": "failed", "unprocessedrecords": "unprocessed"}


def ingest_results(b: SalesforceBackend, job_id: str, kind: str) -> str:
    job = get_job(b, job_id, "ingest")
    results = b.store.get("_bulk_results", job_id)
    if results is None:
        if kind == "unprocessed":
            data = b.store.get("_bulk_data", job_id)
            return data["csv"] if data else ""
        if job["state"] in ("Open", "UploadComplete", "InProgress", "Aborted"):
            return ""
        raise NotFound()
    return results[kind]


def create_query_job(b: SalesforceBackend, body: Any, user: str, version: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _invalid("Invalid job request: body must be a JSON object")
    op = body.get("operation", "query")
    if op not in QUERY_OPERATIONS:
        raise _invalid(f"Unsupported operation: {op}")
    text = body.get("query")
    if not isinstance(text, str):
        raise _invalid("Invalid job request: query is required")
    delimiter = body.get("columnDelimiter", "COMMA")
    if delimiter not in _DELIMITERS:
        raise _invalid(f"Invalid columnDelimiter: {delimiter}")
    if any(isinstance(i, soql.Query) for i in soql.parse(text).select):
        raise SalesforceError("FeatureNotEnabled : Aggregate Relationships not supported in Bulk Query",
                              "API_ERROR", 400)
    plan = b.compile(text)
    rows = b._select(plan, op == "queryAll")
    header = [fp.path.text if isinstance(fp, soql.FieldPlan) else "expr0" for fp in plan.fields]
    getters = [fp.getter for fp in plan.fields if isinstance(fp, soql.FieldPlan)]
    table = [[g(r) for g in getters] for r in rows]
    now = b.now_text()
    job = {
        "id": b._next_id("BulkJob", JOB_PREFIX), "operation": op, "object": plan.sobject.name, "createdById": user,
        "createdDate": now, "systemModstamp": now, "state": "JobComplete", "concurrencyMode": "Parallel",
        "contentType": "CSV", "apiVersion": float(version), "lineEnding": body.get("lineEnding", "LF"),
        "columnDelimiter": delimiter, "jobType": "V2Query", "numberRecordsProcessed": len(rows), "retries": 0,
        "totalProcessingTime": 1, "query": text,
    }
    b.store.put("_bulk_jobs", job["id"], job)
    b.store.put("_bulk_results", job["id"], {"header": header, "rows": table})
    return {**job, "state": "UploadComplete"}


def query_results(b: SalesforceBackend, job_id: str, locator: str | None, max_records: int | None
                  ) -> tuple[str, int, str]:
    job = get_job(b, job_id, "query")
    if job["state"] != "JobComplete":
        raise SalesforceError(f"Job is in state {job['state']}, results are not available", "INVALIDJOBSTATE", 400)
    data = b.store.get("_bulk_results", job_id)
    start = 0
    if locator not in (None, "", "null"):
        if not locator.isdigit():
            raise SalesforceError(f"Invalid locator: {locator}", "INVALIDLOCATOR", 400)
        start = int(locator)
    size = max_records if max_records and max_records > 0 else 50_000
    page = data["rows"][start : start + size]
    end = start + len(page)
    next_locator = str(end) if end < len(data["rows"]) else "null"
    delimiter = _DELIMITERS[job["columnDelimiter"]]
    text = csv_text(data["header"], page)
    if delimiter != ",":
        out = io.StringIO()
        w = csv.writer(out, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL)
        for row in csv.reader(io.StringIO(text)):
            w.writerow(row)
        text = out.getvalue()
    return text, len(page), next_locator


def list_jobs(b: SalesforceBackend, kind: str) -> dict[str, Any]:
    jobs = [j for j in b.store.records("_bulk_jobs") if (j["jobType"] == "V2Query") == (kind == "query")]
    return {"done": True, "records": jobs, "nextRecordsUrl": None}


def delete_job(b: SalesforceBackend, job_id: str, kind: str) -> None:
    job = get_job(b, job_id, kind)
    if job["state"] not in ("JobComplete", "Aborted", "Failed", "UploadComplete"):
        raise SalesforceError(f"Job in state {job['state']} cannot be deleted", "INVALIDJOBSTATE", 409)
    for name in ("_bulk_jobs", "_bulk_data", "_bulk_results"):
        b.store.delete(name, job_id)
