"""Bulk API 2.0 routes: /jobs/ingest and /jobs/query, as simple-salesforce's bulk2 drives them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from . import bulk
from .responses import Json

if TYPE_CHECKING:
    from .simulator import SalesforceSimulator

JOB_BODY = {"type": "object", "properties": {
    "operation": {"type": "string"}, "object": {"type": "string"}, "externalIdFieldName": {"type": "string"},
    "contentType": {"type": "string"}, "columnDelimiter": {"type": "string"}, "lineEnding": {"type": "string"},
    "query": {"type": "string"}}}
STATE_BODY = {"type": "object", "required": ["state"], "properties": {"state": {"type": "string"}}}


def _csv(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(text.encode("utf-8"), status, headers=headers, media_type="text/csv")


def add_bulk_routes(sim: SalesforceSimulator, app: FastAPI, add: Any, auth: Any, read_json: Any) -> None:
    P = "/services/data/{version}/jobs"
    job_docs = {200: {"description": "Job info", "content": {"application/json": {"schema": {"type": "object"}}}}}
    csv_docs = {200: {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}

    def body(schema: dict, media: str = "application/json") -> dict:
        return {"requestBody": {"required": True, "content": {media: {"schema": schema}}}}

    conflict = {409: {"description": "Invalid job state", "content": {"application/json": {"schema": {"type": "array"}}}}}

    def add_job_routes(kind: str, create: Any, create_summary: str, state_summary: str) -> None:
        """Create, list, get, change state and delete: the same five routes for ingest and query jobs."""

        async def job_create(request: Request, version: str) -> Response:
            b, session, ver = auth(request, version)
            return Json(create(b, await read_json(request), session["user_id"], ver))

        async def job_list(request: Request, version: str) -> Response:
            b, _, _ = auth(request, version)
            return Json(bulk.list_jobs(b, kind))

        async def job_get(request: Request, version: str, job_id: str) -> Response:
            b, _, _ = auth(request, version)
            return Json(bulk.get_job(b, job_id, kind))

        async def job_state(request: Request, version: str, job_id: str) -> Response:
            b, _, _ = auth(request, version)
            return Json(bulk.set_state(b, job_id, kind, await read_json(request)))

        async def job_delete(request: Request, version: str, job_id: str) -> Response:
            b, _, _ = auth(request, version)
            bulk.delete_job(b, job_id, kind)
            return Response(status_code=204)

        base, name = f"{P}/{kind}", f"bulk_{kind}"
        add("POST", base, f"{name}_create", job_create, slash=True, tags=["bulk"], body=body(JOB_BODY),
            responses=job_docs, summary=create_summary)
        add("GET", base, f"{name}_list", job_list, slash=True, tags=["bulk"], responses=job_docs)
        add("GET", base + "/{job_id}", f"{name}_get", job_get, slash=True, tags=["bulk"], responses=job_docs)
        add("PATCH", base + "/{job_id}", f"{name}_state", job_state, slash=True, tags=["bulk"],
            body=body(STATE_BODY), responses={**job_docs, **conflict}, summary=state_summary)
        add("DELETE", base + "/{job_id}", f"{name}_delete", job_delete, slash=True, tags=["bulk"], status=204,
            responses={204: {"description": "Deleted"}, **conflict})

    async def ingest_upload(request: Request, version: str, job_id: str) -> Response:
        b, _, _ = auth(request, version)
        bulk.upload(b, job_id, await request.body())
        return Response(status_code=201)

    async def ingest_results(request: Request, version: str, job_id: str, result: str) -> Response:
        b, _, _ = auth(request, version)
        return _csv(bulk.ingest_results(b, job_id, bulk.RESULT_KINDS[result]))

    def _results_of(handler: Any, result: str) -> Any:
        async def results(request: Request, version: str, job_id: str) -> Response:
            return await handler(request, version, job_id, result)

        return results

    add_job_routes("ingest", bulk.create_ingest_job, "Create an ingest job (state Open)", "UploadComplete or Aborted")
    add("PUT", P + "/ingest/{job_id}/batches", "bulk_ingest_upload", ingest_upload, slash=True, tags=["bulk"],
        status=201, body=body({"type": "string"}, "text/csv"),
        responses={201: {"description": "Data accepted"}, **conflict}, summary="Upload the job's CSV (answers 201)")
    for result, name in (("successfulResults", "bulk_ingest_successful"), ("failedResults", "bulk_ingest_failed"),
                         ("unprocessedrecords", "bulk_ingest_unprocessed")):
        add("GET", P + "/ingest/{job_id}/" + result + "/", name, _results_of(ingest_results, result), slash=True,
            tags=["bulk"], responses=csv_docs, summary=f"{result} (CSV)")

    add_job_routes("query", bulk.create_query_job, "Create a query job", "Abort a query job")

    async def query_results(request: Request, version: str, job_id: str, locator: str | None = None,
                            maxRecords: int | None = None) -> Response:  # noqa: N803
        b, _, _ = auth(request, version)
        text, n, next_locator = bulk.query_results(b, job_id, locator, maxRecords)
        return _csv(text, headers={"Sforce-NumberOfRecords": str(n), "Sforce-Locator": next_locator})

    add("GET", P + "/query/{job_id}/results", "bulk_query_results", query_results, slash=True, tags=["bulk"],
        responses={200: {"description": "CSV page; Sforce-NumberOfRecords and Sforce-Locator ('null' on the last page)",
                         "headers": {"Sforce-NumberOfRecords": {"schema": {"type": "string"}},
                                     "Sforce-Locator": {"schema": {"type": "string"}}},
                         "content": {"text/csv": {"schema": {"type": "string"}}}}})
