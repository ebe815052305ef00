"""Wire format: records with links and refName, collections with paging links, SuiteQL pages, async jobs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from q2c_simulators.kernel.http import json_bytes

from .models import NetSuiteBackend, Record
from .records import RecordType

SINGULAR = "application/vnd.oracle.resource+json; type=singular"
COLLECTION = "application/vnd.oracle.resource+json; type=collection"
SCHEMA_JSON = "application/schema+json"
SWAGGER_JSON = "application/swagger+json"


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
    """A collection page with NetSuite's paging links in the documented order: first and previous (after the first
    page), next, last, then self (section_156414087576 shows next, last, self on a first page)."""

    def url(off: int) -> str:
        return f"{self_url}?{urlencode({**params, 'limit': limit, 'offset': off})}"

    links = []
    if total > limit:  # a single page carries self only (section_1540810951)
        last = ((total - 1) // limit) * limit
        if offset > 0:
            links.append(link("first", url(0)))
            links.append(link("previous", url(max(offset - limit, 0))))
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
