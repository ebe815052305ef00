"""The Salesforce surface: (method, path, operation). Rows match in order: fixed segments (describe, deleted,
updated) before `{record_id}`, a record before its external-id form. A row repeating an operation is its
trailing-slash variant (Salesforce answers both spellings): served, not documented."""

from __future__ import annotations

from q2c_simulators.kernel import Url

DATA = "/services/data"
P = f"{DATA}/{{version}}"
SOBJECT = f"{P}/sobjects/{{sobject}}"
JOBS = f"{P}/jobs"

URLS: list[Url] = [
    # ---- the hot paths first -------------------------------------------------------------------------------------
    ("GET", f"{P}/query/", "query"),
    ("GET", f"{P}/query", "query"),
    ("GET", f"{P}/queryAll/", "query_all"),
    ("GET", f"{P}/queryAll", "query_all"),
    ("GET", f"{P}/query/{{locator}}", "query_more"),
    ("GET", f"{P}/queryAll/{{locator}}", "query_all_more"),
    # ---- versions, resources, limits ----------------------------------------------------------------------------
    ("GET", f"{DATA}/", "versions"),
    ("GET", DATA, "versions"),
    ("GET", f"{P}/", "resources"),
    ("GET", P, "resources"),
    ("GET", f"{P}/limits/", "limits"),
    ("GET", f"{P}/limits", "limits"),
    # ---- describe and sObjects ----------------------------------------------------------------------------------
    ("GET", f"{P}/sobjects/", "describe_global"),
    ("GET", f"{P}/sobjects", "describe_global"),
    ("GET", f"{SOBJECT}/describe/", "sobject_describe"),
    ("GET", f"{SOBJECT}/describe", "sobject_describe"),
    ("GET", f"{SOBJECT}/", "sobject_basic"),
    ("GET", SOBJECT, "sobject_basic"),
    ("POST", f"{SOBJECT}/", "sobject_create"),
    ("POST", SOBJECT, "sobject_create"),
    ("GET", f"{SOBJECT}/deleted/", "sobject_deleted"),
    ("GET", f"{SOBJECT}/deleted", "sobject_deleted"),
    ("GET", f"{SOBJECT}/updated/", "sobject_updated"),
    ("GET", f"{SOBJECT}/updated", "sobject_updated"),
    ("GET", f"{SOBJECT}/{{record_id}}", "sobject_get"),
    ("PATCH", f"{SOBJECT}/{{record_id}}", "sobject_update"),
    ("DELETE", f"{SOBJECT}/{{record_id}}", "sobject_delete"),
    ("GET", f"{SOBJECT}/{{field}}/{{value}}", "sobject_get_by_external_id"),
    ("PATCH", f"{SOBJECT}/{{field}}/{{value}}", "sobject_upsert"),
    ("DELETE", f"{SOBJECT}/{{field}}/{{value}}", "sobject_delete_by_external_id"),
    # ---- composite ----------------------------------------------------------------------------------------------
    ("GET", f"{P}/composite/", "composite_resources"),
    ("GET", f"{P}/composite", "composite_resources"),
    ("POST", f"{P}/composite/", "composite"),
    ("POST", f"{P}/composite", "composite"),
    ("POST", f"{P}/composite/sobjects", "collection_create"),
    ("POST", f"{P}/composite/sobjects/", "collection_create"),
    ("PATCH", f"{P}/composite/sobjects", "collection_update"),
    ("PATCH", f"{P}/composite/sobjects/", "collection_update"),
    ("DELETE", f"{P}/composite/sobjects", "collection_delete"),
    ("DELETE", f"{P}/composite/sobjects/", "collection_delete"),
    ("GET", f"{P}/composite/sobjects/{{sobject}}", "collection_retrieve"),
    ("POST", f"{P}/composite/sobjects/{{sobject}}", "collection_retrieve_post"),
    ("PATCH", f"{P}/composite/sobjects/{{sobject}}/{{field}}", "collection_upsert"),
    ("POST", f"{P}/composite/tree/{{sobject}}", "composite_tree"),
    # ---- Bulk API 2.0 -------------------------------------------------------------------------------------------
    ("POST", f"{JOBS}/ingest", "bulk_ingest_create"),
    ("POST", f"{JOBS}/ingest/", "bulk_ingest_create"),
    ("GET", f"{JOBS}/ingest", "bulk_ingest_list"),
    ("GET", f"{JOBS}/ingest/", "bulk_ingest_list"),
    ("GET", f"{JOBS}/ingest/{{job_id}}", "bulk_ingest_get"),
    ("GET", f"{JOBS}/ingest/{{job_id}}/", "bulk_ingest_get"),
    ("PATCH", f"{JOBS}/ingest/{{job_id}}", "bulk_ingest_state"),
    ("PATCH", f"{JOBS}/ingest/{{job_id}}/", "bulk_ingest_state"),
    ("DELETE", f"{JOBS}/ingest/{{job_id}}", "bulk_ingest_delete"),
    ("DELETE", f"{JOBS}/ingest/{{job_id}}/", "bulk_ingest_delete"),
    ("PUT", f"{JOBS}/ingest/{{job_id}}/batches", "bulk_ingest_upload"),
    ("PUT", f"{JOBS}/ingest/{{job_id}}/batches/", "bulk_ingest_upload"),
    ("GET", f"{JOBS}/ingest/{{job_id}}/successfulResults/", "bulk_ingest_successful"),
    ("GET", f"{JOBS}/ingest/{{job_id}}/successfulResults", "bulk_ingest_successful"),
    ("GET", f"{JOBS}/ingest/{{job_id}}/failedResults/", "bulk_ingest_failed"),
    ("GET", f"{JOBS}/ingest/{{job_id}}/failedResults", "bulk_ingest_failed"),
    ("GET", f"{JOBS}/ingest/{{job_id}}/unprocessedrecords/", "bulk_ingest_unprocessed"),
    ("GET", f"{JOBS}/ingest/{{job_id}}/unprocessedrecords", "bulk_ingest_unprocessed"),
    ("POST", f"{JOBS}/query", "bulk_query_create"),
    ("POST", f"{JOBS}/query/", "bulk_query_create"),
    ("GET", f"{JOBS}/query", "bulk_query_list"),
    ("GET", f"{JOBS}/query/", "bulk_query_list"),
    ("GET", f"{JOBS}/query/{{job_id}}", "bulk_query_get"),
    ("GET", f"{JOBS}/query/{{job_id}}/", "bulk_query_get"),
    ("PATCH", f"{JOBS}/query/{{job_id}}", "bulk_query_state"),
    ("PATCH", f"{JOBS}/query/{{job_id}}/", "bulk_query_state"),
    ("DELETE", f"{JOBS}/query/{{job_id}}", "bulk_query_delete"),
    ("DELETE", f"{JOBS}/query/{{job_id}}/", "bulk_query_delete"),
    ("GET", f"{JOBS}/query/{{job_id}}/results", "bulk_query_results"),
    ("GET", f"{JOBS}/query/{{job_id}}/results/", "bulk_query_results"),
    # ---- login --------------------------------------------------------------------------------------------------
    ("POST", "/services/oauth2/token", "oauth_token"),
    ("POST", "/services/oauth2/revoke", "oauth_revoke"),
    ("GET", "/services/oauth2/userinfo", "oauth_userinfo"),
    ("GET", "/id/{org_id}/{user_id}", "identity"),
    ("POST", "/services/Soap/u/{version}", "soap_login"),
    # ---- change events (the simulator's long-poll feed) ---------------------------------------------------------
    ("GET", f"{P}/sim/events/{{channel}}", "cdc_events"),
]
