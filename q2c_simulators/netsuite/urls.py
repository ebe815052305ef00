"""The NetSuite REST surface: (method, path, operation). Rows match in order: the catalog before `{record_type}`."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from q2c_simulators.kernel import Url


class _SublistName(Convertor):
    """A sublist name: any path segment but an action (`!transform`), so GET on a transform path is a 405."""

    regex = r"[^/!][^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("ns_sublist", _SublistName())

REST = "/services/rest"
RECORD = f"{REST}/record/v1"
JOB = f"{REST}/async/v1/job/{{job_id}}"

URLS: list[Url] = [
    ("POST", f"{REST}/auth/oauth2/v1/token", "oauth2_token"),
    ("GET", f"{RECORD}/metadata-catalog", "metadata_catalog"),
    ("GET", f"{RECORD}/metadata-catalog/{{record_type}}", "metadata_catalog_record"),
    ("GET", f"{RECORD}/{{record_type}}", "list_records"),
    ("POST", f"{RECORD}/{{record_type}}", "create_record"),
    ("GET", f"{RECORD}/{{record_type}}/{{record_id}}", "get_record"),
    ("PATCH", f"{RECORD}/{{record_type}}/{{record_id}}", "update_record"),
    ("PUT", f"{RECORD}/{{record_type}}/{{record_id}}", "upsert_record"),
    ("DELETE", f"{RECORD}/{{record_type}}/{{record_id}}", "delete_record"),
    ("POST", f"{RECORD}/{{record_type}}/{{record_id}}/!transform/{{target_type}}", "transform_record"),
    ("GET", f"{RECORD}/{{record_type}}/{{record_id}}/{{sublist:ns_sublist}}", "get_sublist"),
    ("GET", f"{RECORD}/{{record_type}}/{{record_id}}/{{sublist:ns_sublist}}/{{line}}", "get_sublist_line"),
    ("POST", f"{REST}/query/v1/suiteql", "suiteql"),
    ("GET", JOB, "get_async_job"),
    ("GET", f"{JOB}/task", "list_async_tasks"),
    ("GET", f"{JOB}/task/{{task_id}}", "get_async_task"),
    ("GET", f"{JOB}/task/{{task_id}}/result", "get_async_result"),
    ("GET", f"{REST}/system/v1/governanceLimits", "governance_limits"),
]
