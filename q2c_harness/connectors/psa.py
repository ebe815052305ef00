"""PSA client in the Kantata OX (Mavenlink API v1) style: bearer token, side-loaded envelopes, page/per_page paging.

- Responses come as ``{"count", "results": [{"key", "id"}], "<type>": {id: record}, ..., "meta": {...}}``;
  `unpack` turns that into a `Page`: the primary records in ``results`` order plus every side-loaded type as a map.
- Lists are async iterators over ``page``/``per_page`` (max 200), with ``include=``/``only=`` and filters.
- Writes: ``POST /{type}.json`` with ``{"<singular>": {...}}`` (or ``{"<type>": [...]}`` in bulk, up to 300),
  ``PUT /{type}/{id}.json`` with ``{"<singular>": {...}}``. Kantata has no idempotency keys: the idempotent write is
  `PsaClient.upsert_by_reference`, which looks the record up through ``external_references`` (where our
  cross-reference keys live) before creating it and records the reference after.
- Events: the Subscribed Events pull feed (at least once, possibly duplicated and reordered within a page), read
  with a ``since_id`` cursor and deduplicated by event id; and `verify_webhook_signature` for the push intake.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx

from .errors import (
    AuthError,
    BusinessError,
    ContractError,
    IntegrationError,
    RecordNotFoundError,
    TransientError,
    error_for_status,
    mark_not_applied,
    mark_reauthenticate,
    require_keys,
)
from .http import Authenticator, BearerToken, VendorClient, error_parts

SYSTEM = "psa"
DEFAULT_BASE_URL = "https://api.mavenlink.com/api/v1"
MAX_PER_PAGE = 200
SIGNATURE_HEADER = "X-PSA-Signature"
TIMESTAMP_HEADER = "X-PSA-Timestamp"

SINGULAR = {
    "workspaces": "workspace", "stories": "story", "time_entries": "time_entry", "expenses": "expense",
    "timesheet_submissions": "timesheet_submission", "expense_report_submissions": "expense_report_submission",
    "billing_milestones": "billing_milestone", "invoices": "invoice", "external_references": "external_reference",
    "participations": "participation", "assignments": "assignment", "rate_cards": "rate_card",
    "rate_card_versions": "rate_card_version", "users": "user", "roles": "role",
    "budget_change_orders": "budget_change_order", "schedule_change_orders": "schedule_change_order",
}
SUBJECT_TYPE = {
    "workspaces": "Workspace", "stories": "Story", "time_entries": "TimeEntry", "users": "User", "expenses": "Expense",
    "invoices": "Invoice", "billing_milestones": "BillingMilestone", "rate_cards": "RateCard",
    "participations": "Participation", "timesheet_submissions": "TimesheetSubmission",
    "expense_report_submissions": "ExpenseReportSubmission", "roles": "Role",
}


def classify_response(response: httpx.Response) -> IntegrationError:
    status, retry_after, body = error_parts(response)
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0] if isinstance(body["errors"][0], dict) else {"message": str(body["errors"][0])}
        code = str(first.get("type") or f"HTTP_{status}")
        message = f"psa: {first.get('message', '')}" + (f" ({first['field']})" if first.get("field") else "")
        kw: dict[str, Any] = {"system": SYSTEM, "code": code, "status": status, "retry_after": retry_after,
                              "details": body["errors"]}
        if status == 429 or code == "rate_limit":
            return mark_not_applied(TransientError(message, **kw))
        if status == 401:
            return mark_reauthenticate(AuthError(message, **kw))
        if status == 404:
            return RecordNotFoundError(message, **kw)
        if status in (400, 409, 422):
            return BusinessError(message, **kw)
        return error_for_status(SYSTEM, status, message, code=code, retry_after=retry_after, details=body["errors"])
    err = error_for_status(SYSTEM, status, f"psa: HTTP {status} {response.text[:300]}", retry_after=retry_after,
                           details=body)
    return mark_reauthenticate(err) if status == 401 else err


@dataclass(frozen=True)
class Page:
    """One unpacked envelope: primary records in ``results`` order, and every type's records by id."""

    records: list[dict[str, Any]]
    included: dict[str, dict[str, dict[str, Any]]]
    count: int
    meta: dict[str, Any] = field(default_factory=dict)

    def related(self, record_type: str, record_id: str | None) -> dict[str, Any] | None:
        if record_id is None:
            return None
        return self.included.get(record_type, {}).get(str(record_id))


def unpack(body: Any) -> Page:
    """The side-loaded envelope -> `Page` (ContractError if ``results`` names a record the maps do not hold)."""
    require_keys(SYSTEM, body, "results", what="envelope")
    included = {k: v for k, v in body.items() if isinstance(v, dict) and k != "meta"}
    records = []
    for ref in body["results"]:
        require_keys(SYSTEM, ref, "key", "id", what="envelope result")
        rec = included.get(ref["key"], {}).get(str(ref["id"]))
        if rec is None:
            raise ContractError(f"psa: results names {ref['key']}/{ref['id']} but the envelope does not hold it",
                                system=SYSTEM, code="UNEXPECTED_SHAPE")
        records.append(rec)
    meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
    return Page(records=records, included=included, count=int(body.get("count", len(records))), meta=meta)


# ---- webhooks --------------------------------------------------------------------------------------------------------
def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256(secret, ``timestamp + "." + body``): the ``X-PSA-Signature`` value."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_webhook_signature(secret: str, body: bytes, headers: Mapping[str, str], *,
                             tolerance_seconds: float | None = 300.0, now: float | None = None) -> bool:
    """Check a pushed event: ``X-PSA-Signature`` over ``X-PSA-Timestamp`` + "." + raw body, and (unless
    ``tolerance_seconds`` is None) a timestamp within the tolerance of ``now`` (replay protection)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER.lower())
    timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    if not signature or not timestamp:
        return False
    if tolerance_seconds is not None:
        try:
            ts = float(timestamp)
        except ValueError:
            return False
        if abs((time.time() if now is None else now) - ts) > tolerance_seconds:
            return False
    return hmac.compare_digest(sign_webhook(secret, timestamp, body), signature)


# ---- the client ------------------------------------------------------------------------------------------------------
class PsaClient(VendorClient):
    system: ClassVar[str] = SYSTEM
    default_concurrency: ClassVar[int] = 10

    def __init__(self, base_url: str = DEFAULT_BASE_URL, *, token: str | Authenticator, json_suffix: bool = True,
                 **kwargs: Any) -> None:
        auth = BearerToken(token) if isinstance(token, str) else token
        super().__init__(base_url, auth=auth, **kwargs)
        self.suffix = ".json" if json_suffix else ""
        self.http.headers.setdefault("Accept", "application/json")

    def classify(self, response: httpx.Response) -> IntegrationError:
        return classify_response(response)

    def path(self, resource: str, record_id: str | int | None = None, action: str | None = None) -> str:
        parts = [resource] + ([str(record_id)] if record_id is not None else []) + ([action] if action else [])
        return "/" + "/".join(parts) + self.suffix

    @staticmethod
    def _params(include: Iterable[str] = (), only: Iterable[str | int] | None = None,
                filters: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for k, v in (filters or {}).items():
            if v is not None:
                params[k] = str(v).lower() if isinstance(v, bool) else str(v)
        if include:
            params["include"] = ",".join(include)
        if only is not None:
            params["only"] = ",".join(str(i) for i in only)
        params.update({k: v for k, v in extra.items() if v is not None})
        return params

    # ---- reads ---------------------------------------------------------------------------------------------------
    async def list_pages(self, resource: str, *, filters: Mapping[str, Any] | None = None,
                         include: Iterable[str] = (), only: Iterable[str | int] | None = None,
                         order: str | None = None, per_page: int = MAX_PER_PAGE, **kw: Any) -> AsyncIterator[Page]:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be 1..{MAX_PER_PAGE}")
        include = list(include)
        page_number = 1
        while True:
            params = self._params(include, only, filters, order=order, page=page_number, per_page=per_page)
            body = await self.request_json("GET", self.path(resource), params=params,
                                           operation=f"list.{resource}", **kw)
            page = unpack(body)
            yield page
            page_count = int(page.meta.get("page_count", 0) or 0)
            if not page.records or page_number >= page_count:
                return
            page_number += 1

    async def list(self, resource: str, **kw: Any) -> AsyncIterator[dict[str, Any]]:
        """Every record of a list (filters as keyword ``filters={...}``), across pages."""
        async for page in self.list_pages(resource, **kw):
            for record in page.records:
                yield record

    async def list_all(self, resource: str, **kw: Any) -> list[dict[str, Any]]:
        return [r async for r in self.list(resource, **kw)]

    async def get_page(self, resource: str, record_id: str | int, *, include: Iterable[str] = (),
                       **kw: Any) -> Page:
        body = await self.request_json("GET", self.path(resource, record_id), params=self._params(include) or None,
                                       operation=f"get.{resource}", **kw)
        return unpack(body)

    async def get(self, resource: str, record_id: str | int, **kw: Any) -> dict[str, Any]:
        page = await self.get_page(resource, record_id, **kw)
        if not page.records:
            raise RecordNotFoundError(f"psa: {resource}/{record_id} not in the response", system=SYSTEM,
                                      code="not_found", status=200)
        return page.records[0]

    # ---- writes --------------------------------------------------------------------------------------------------
    def _singular(self, resource: str) -> str:
        try:
            return SINGULAR[resource]
        except KeyError:
            raise ValueError(f"unknown PSA resource {resource!r}") from None

    async def create(self, resource: str, fields: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
        """POST one record; returns it as stored. Not idempotent (Kantata has no keys): see `upsert_by_reference`."""
        body = await self.request_json("POST", self.path(resource), json={self._singular(resource): dict(fields)},
                                       operation=f"create.{resource}", **kw)
        records = unpack(body).records
        if len(records) != 1:
            raise ContractError(f"psa: create {resource} returned {len(records)} records", system=SYSTEM,
                                code="UNEXPECTED_SHAPE")
        return records[0]

    async def create_many(self, resource: str, items: Iterable[Mapping[str, Any]], **kw: Any) -> list[dict[str, Any]]:
        items = [dict(i) for i in items]
        if len(items) > 300:
            raise BusinessError("psa: bulk create takes at most 300 records", system=SYSTEM, code="argument")
        body = await self.request_json("POST", self.path(resource), json={resource: items},
                                       operation=f"create_many.{resource}", **kw)
        return unpack(body).records

    async def update(self, resource: str, record_id: str | int, fields: Mapping[str, Any],
                     **kw: Any) -> dict[str, Any]:
        kw.setdefault("idempotent", True)
        body = await self.request_json("PUT", self.path(resource, record_id),
                                       json={self._singular(resource): dict(fields)},
                                       operation=f"update.{resource}", **kw)
        return unpack(body).records[0]

    async def delete(self, resource: str, record_id: str | int, **kw: Any) -> None:
        await self.request("DELETE", self.path(resource, record_id), operation=f"delete.{resource}", **kw)

    async def _action(self, resource: str, record_id: str | int, action: str, payload: Mapping[str, Any] | None,
                      **kw: Any) -> dict[str, Any]:
        kw.setdefault("idempotent", False)
        body = await self.request_json("PUT", self.path(resource, record_id, action), json=payload,
                                       operation=f"{action}.{resource}", **kw)
        return unpack(body).records[0]

    # ---- workflow actions -----------------------------------------------------------------------------------------
    async def approve_timesheet(self, submission_id: str | int, comment: str | None = None,
                                **kw: Any) -> dict[str, Any]:
        return await self._action("timesheet_submissions", submission_id, "approve",
                                  {"comment": comment} if comment else None, **kw)

    async def reject_timesheet(self, submission_id: str | int, comment: str | None = None,
                               **kw: Any) -> dict[str, Any]:
        return await self._action("timesheet_submissions", submission_id, "reject",
                                  {"comment": comment} if comment else None, **kw)

    async def approve_timesheets(self, submission_ids: Iterable[str | int], comment: str | None = None,
                                 **kw: Any) -> list[dict[str, Any]]:
        """Bulk approval (all or none): ``POST /timesheet_approvals``."""
        payload: dict[str, Any] = {"submission_ids": [int(i) for i in submission_ids]}
        if comment:
            payload["comment"] = comment
        body = await self.request_json("POST", self.path("timesheet_approvals"), json=payload,
                                       operation="create.timesheet_approvals", **kw)
        return unpack(body).records

    async def approve_expense_report(self, submission_id: str | int, comment: str | None = None,
                                     **kw: Any) -> dict[str, Any]:
        return await self._action("expense_report_submissions", submission_id, "approve",
                                  {"comment": comment} if comment else None, **kw)

    async def accept_milestone(self, milestone_id: str | int, **kw: Any) -> dict[str, Any]:
        return await self._action("billing_milestones", milestone_id, "accept", None, **kw)

    async def cancel_invoice(self, invoice_id: str | int, **kw: Any) -> dict[str, Any]:
        return await self._action("invoices", invoice_id, "cancel", None, **kw)

    # ---- external references (cross-reference keys) ---------------------------------------------------------------
    async def find_external_references(self, *, service_name: str | None = None, service_model: str | None = None,
                                       service_model_ref: str | None = None, subject_type: str | None = None,
                                       subject_id: str | int | None = None, **kw: Any) -> list[dict[str, Any]]:
        filters = {"service_name": service_name, "service_model": service_model,
                   "service_model_ref": service_model_ref, "subject_type": subject_type, "subject_id": subject_id}
        return await self.list_all("external_references", filters=filters, **kw)

    async def add_external_reference(self, resource: str, subject_id: str | int, *, service_name: str,
                                     service_model: str, service_model_ref: str, **kw: Any) -> dict[str, Any]:
        return await self.create("external_references", {
            "subject_type": SUBJECT_TYPE[resource], "subject_id": int(subject_id), "service_name": service_name,
            "service_model": service_model, "service_model_ref": service_model_ref}, **kw)

    async def upsert_by_reference(self, resource: str, fields: Mapping[str, Any], *, service_name: str,
                                  service_model: str, service_model_ref: str, **kw: Any) -> tuple[dict[str, Any], bool]:
        """Create-or-update keyed by an external reference (e.g. ``q2c``/``Engagement``/``ENG-1``).

        Returns (record, created). Safe to repeat: a second run finds the reference and updates. A crash between
        the create and the reference leaves an orphan the engine's effect ledger reconciles; the window is one call.
        """
        refs = await self.find_external_references(service_name=service_name, service_model=service_model,
                                                   service_model_ref=service_model_ref,
                                                   subject_type=SUBJECT_TYPE[resource], **kw)
        if refs:
            subject_id = refs[0]["subject_id"]
            updatable = {k: v for k, v in fields.items() if k != "workspace_id"} if resource != "workspaces" \
                else dict(fields)
            return await self.update(resource, subject_id, updatable, **kw), False
        record = await self.create(resource, fields, **kw)
        await self.add_external_reference(resource, record["id"], service_name=service_name,
                                          service_model=service_model, service_model_ref=service_model_ref, **kw)
        return record, True

    # ---- subscribed events ----------------------------------------------------------------------------------------
    async def events(self, *, since_id: int | None = None, created_after: datetime | str | None = None,
                     event_types: Iterable[str] | None = None, per_page: int = MAX_PER_PAGE,
                     **kw: Any) -> AsyncIterator[dict[str, Any]]:
        """The Subscribed Events feed after a cursor, oldest first, each event once per call.

        Pages with ``since_id`` (the largest id seen so far), so events written while reading are not skipped;
        duplicates and within-page reordering (at-least-once delivery) are absorbed here. Keep the largest
        ``int(event["id"])`` as the cursor for the next call; the consumer still dedupes across calls (inbox).
        """
        cursor = since_id
        seen: set[str] = set()
        after = created_after.isoformat() if isinstance(created_after, datetime) else created_after
        types = ",".join(event_types) if event_types else None
        while True:
            params = self._params(since_id=cursor, created_after=after if cursor is None else None,
                                  event_types=types, per_page=per_page, page=1)
            body = await self.request_json("GET", self.path("subscribed_events"), params=params,
                                           operation="subscribed_events", **kw)
            page = unpack(body)
            fresh = []
            for event in page.records:
                require_keys(SYSTEM, event, "id", "event_type", what="subscribed event")
                eid = str(event["id"])
                if eid not in seen:
                    seen.add(eid)
                    fresh.append(event)
            fresh.sort(key=lambda e: int(e["id"]))
            for event in fresh:
                yield event
            if not page.records:
                return
            top = max(int(e["id"]) for e in page.records)
            if cursor is not None and top <= cursor:
                return
            cursor = top
            if page.count <= len({str(e["id"]) for e in page.records}):
                return  # that page held everything after the cursor
