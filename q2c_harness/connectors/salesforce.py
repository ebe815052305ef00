"""Salesforce REST client: OAuth, sObjects, upsert by external id, SOQL paging, collections, limits, change events.

Auth: a given session token, or an OAuth grant against ``{login_url}/services/oauth2/token`` (password,
client_credentials with HTTP Basic client authentication, refresh_token). A 401 ``INVALID_SESSION_ID`` fetches a
new token once and retries the call. The idempotent write is `SalesforceClient.upsert` (``PATCH
/sobjects/X/Field__c/value``). ``Sforce-Limit-Info: api-usage=used/max`` feeds the account's usage guard.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
import jwt

from .errors import (
    AuthError,
    BusinessError,
    ContractError,
    DuplicateRecordError,
    IntegrationError,
    RecordNotFoundError,
    TransientError,
    error_for_status,
    json_or_contract_error,
    mark_not_applied,
    mark_reauthenticate,
    require_keys,
)
from .http import Authenticator, VendorClient, error_parts

SYSTEM = "salesforce"
DEFAULT_API_VERSION = "59.0"
DEFAULT_LOGIN_URL = "https://login.salesforce.com"
CDC_EVENTS_PATH = "/services/data/v{version}/sim/events/{channel}"  # see `SalesforceClient.change_events`

_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")

# errorCode -> taxonomy (everything not listed falls back to the status mapping)
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE",
                             "INSERT_UPDATE_DELETE_NOT_ALLOWED_DURING_MAINTENANCE"})
DUPLICATE_CODES = frozenset({"DUPLICATE_VALUE", "DUPLICATES_DETECTED", "DUPLICATE_EXTERNAL_ID", "MULTIPLE_CHOICES"})
BUSINESS_CODES = frozenset({
    "INVALID_FIELD", "REQUIRED_FIELD_MISSING", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "MALFORMED_QUERY",
    "INVALID_TYPE", "MALFORMED_ID", "INVALID_CROSS_REFERENCE_KEY", "FIELD_INTEGRITY_EXCEPTION", "STRING_TOO_LONG",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "JSON_PARSER_ERROR", "INVALID_FIELD_FOR_INSERT_UPDATE",
    "ENTITY_IS_DELETED", "ENTITY_IS_LOCKED", "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "METHOD_NOT_ALLOWED",
    "INVALID_EMAIL_ADDRESS", "APEX_ERROR",
})
NOT_FOUND_CODES = frozenset({"NOT_FOUND", "ENTITY_IS_DELETED"})
AUTH_CODES = frozenset({"INVALID_SESSION_ID", "INVALID_AUTH_HEADER", "INSUFFICIENT_ACCESS",
                        "INSUFFICIENT_ACCESS_OR_READONLY", "API_DISABLED_FOR_ORG", "invalid_grant", "invalid_client",
                        "invalid_client_id", "unsupported_grant_type"})


def error_from_code(code: str, message: str, *, status: int | None, retry_after: float | None = None,
                    details: Any = None) -> IntegrationError:
    """Map one Salesforce error (``errorCode`` or, in collections and trees, ``statusCode``) onto the taxonomy."""
    kw: dict[str, Any] = {"system": SYSTEM, "code": code, "status": status, "retry_after": retry_after,
                          "details": details}
    if code in TRANSIENT_CODES:
        return mark_not_applied(TransientError(message, **kw))  # refused before the write took effect
    if code == "INVALID_SESSION_ID":
        return mark_reauthenticate(AuthError(message, **kw))
    if code in AUTH_CODES:
        return AuthError(message, **kw)
    if code in DUPLICATE_CODES:
        return DuplicateRecordError(message, **kw)
    if code in NOT_FOUND_CODES:
        return RecordNotFoundError(message, **kw)
    if code in BUSINESS_CODES:
        return BusinessError(message, **kw)
    if status is None:  # a per-record error in a collection: a refusal of that record
        return BusinessError(message, **kw)
    return error_for_status(SYSTEM, status, message, code=code, retry_after=retry_after, details=details)


def classify_response(response: httpx.Response) -> IntegrationError:
    status, retry_after, body = error_parts(response)
    if status == 300:
        return DuplicateRecordError(f"salesforce: several records match {response.request.url.path}",
                                    system=SYSTEM, code="MULTIPLE_CHOICES", status=300, details=body)
    if isinstance(body, list) and body and isinstance(body[0], dict) and "errorCode" in body[0]:
        first = body[0]
        return error_from_code(str(first["errorCode"]), f"salesforce: {first.get('message', '')}", status=status,
                               retry_after=retry_after, details=body)
    if isinstance(body, dict) and "error" in body:  # the OAuth token endpoint
        return AuthError(f"salesforce: {body.get('error_description') or body['error']}", system=SYSTEM,
                         code=str(body["error"]), status=status, details=body)
    return error_for_status(SYSTEM, status, f"salesforce: HTTP {status} {response.text[:300]}",
                            retry_after=retry_after, details=body)


# ---- auth ------------------------------------------------------------------------------------------------------------
Grant = Literal["password", "client_credentials", "refresh_token", "jwt_bearer"]
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class SalesforceAuth(Authenticator):
    """A session token (no refresh possible) or an OAuth 2.0 grant against the token endpoint.

    ``jwt_bearer`` (a connected app's certificate): an RS256 assertion with ``iss`` = the consumer key, ``sub`` = the
    integration user, ``aud`` = the login URL (login.salesforce.com, test.salesforce.com for sandboxes, or the My
    Domain), ``exp`` three minutes ahead, signed with ``private_key`` (PEM) on every token request.
    """

    def __init__(
        self, *, session_token: str | None = None, grant: Grant | None = None, client_id: str | None = None,
        client_secret: str | None = None, username: str | None = None, password: str | None = None,
        refresh_token: str | None = None, login_url: str = DEFAULT_LOGIN_URL,
        private_key: str | bytes | None = None,
    ) -> None:
        if session_token is None and grant is None:
            raise ValueError("give a session_token or an OAuth grant")
        self.access_token = session_token
        self.grant = grant
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.refresh_token = refresh_token
        self.private_key = private_key
        self.login_url = login_url.rstrip("/")
        self.token_url = self.login_url + "/services/oauth2/token"
        self.instance_url: str | None = None
        self.can_refresh = grant is not None
        self._lock: asyncio.Lock | None = None

    @classmethod
    def session(cls, token: str) -> SalesforceAuth:
        return cls(session_token=token)

    def _form(self) -> tuple[dict[str, str], str | None]:
        if self.grant == "password":
            return {"grant_type": "password", "client_id": self.client_id or "",
                    "client_secret": self.client_secret or "", "username": self.username or "",
                    "password": self.password or ""}, None
        if self.grant == "client_credentials":
            pair = f"{self.client_id or ''}:{self.client_secret or ''}".encode()
            return {"grant_type": "client_credentials"}, "Basic " + base64.b64encode(pair).decode()
        if self.grant == "jwt_bearer":
            claims = {"iss": self.client_id or "", "sub": self.username or "", "aud": self.login_url,
                      "exp": int(time.time()) + 180}
            return {"grant_type": JWT_BEARER_GRANT,
                    "assertion": jwt.encode(claims, self.private_key or "", algorithm="RS256")}, None
        if self.grant == "refresh_token":
            form = {"grant_type": "refresh_token", "client_id": self.client_id or "",
                    "refresh_token": self.refresh_token or ""}
            if self.client_secret:
                form["client_secret"] = self.client_secret
            return form, None
        raise AuthError("salesforce: no OAuth grant configured to obtain a new session", system=SYSTEM,
                        code="NO_GRANT")

    async def fetch_token(self, client: VendorClient) -> None:
        form, basic = self._form()
        headers = {"Accept": "application/json"}
        if basic is not None:
            headers["Authorization"] = basic
        body = await client.request_json("POST", self.token_url, operation="oauth.token", data=form,
                                         headers=headers, authenticate=False, idempotent=True)
        require_keys(SYSTEM, body, "access_token", what="token response")
        self.access_token = str(body["access_token"])
        self.instance_url = body.get("instance_url")
        if body.get("refresh_token"):
            self.refresh_token = str(body["refresh_token"])
        if isinstance(client, SalesforceClient):
            client.adopt_instance_url(self.instance_url)

    async def ensure(self, client: VendorClient) -> None:
        if self.access_token is None:
            await self.refresh(client)

    async def apply(self, request: httpx.Request, client: VendorClient) -> httpx.Request:
        await self.ensure(client)
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request

    async def refresh(self, client: VendorClient) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        stale = self.access_token
        async with self._lock:
            if self.access_token is not None and self.access_token != stale:
                return  # another task refreshed while this one waited
            await self.fetch_token(client)


# ---- results ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UpsertResult:
    id: str | None  # None only on a pre-v46 204 update (no body)
    created: bool


@dataclass(frozen=True)
class UpdatedRecords:
    ids: list[str]
    latest_date_covered: str  # ISO 8601, e.g. 2013-05-08T21:20:00.000+0000


@dataclass(frozen=True)
class RecordResult:
    """One record's outcome in a composite/sobjects collection call."""

    id: str | None
    success: bool
    errors: list[dict[str, Any]]
    error: IntegrationError | None = None


# ---- the client ------------------------------------------------------------------------------------------------------
class SalesforceClient(VendorClient):
    system: ClassVar[str] = SYSTEM
    default_concurrency: ClassVar[int] = 25  # concurrent long-running requests per org

    def __init__(
        self, instance_url: str | None = None, *, auth: SalesforceAuth | str,
        api_version: str = DEFAULT_API_VERSION, org_id: str | None = None, **kwargs: Any,
    ) -> None:
        if isinstance(auth, str):
            auth = SalesforceAuth.session(auth)
        self._instance_fixed = instance_url is not None
        base = instance_url or auth.token_url.rsplit("/services/", 1)[0]
        kwargs.setdefault("account_id", org_id or base)
        super().__init__(base, auth=auth, **kwargs)
        self.api_version = api_version
        self.http.headers.setdefault("Accept", "application/json")

    # ---- vendor hooks --------------------------------------------------------------------------------------------
    def classify(self, response: httpx.Response) -> IntegrationError:
        return classify_response(response)

    def observe(self, response: httpx.Response) -> None:
        info = response.headers.get("Sforce-Limit-Info")
        if info:
            m = _LIMIT_INFO.search(info)
            if m:
                self.account.observe_usage(int(m.group(1)), int(m.group(2)))

    def adopt_instance_url(self, instance_url: str | None) -> None:
        if instance_url and not self._instance_fixed:
            self.base_url = instance_url.rstrip("/")

    @property
    def data_path(self) -> str:
        return f"/services/data/v{self.api_version}"

    def _sobject(self, sobject: str, *rest: str) -> str:
        return "/".join([self.data_path, "sobjects", sobject, *rest])

    # ---- sObjects ------------------------------------------------------------------------------------------------
    async def create(self, sobject: str, fields: Mapping[str, Any], **kw: Any) -> str:
        """POST /sobjects/X/ -> the new id. Not idempotent: prefer `upsert` by external id for flows."""
        body = await self.request_json("POST", self._sobject(sobject) + "/", json=dict(fields),
                                       operation=f"sobject.create.{sobject}", **kw)
        require_keys(SYSTEM, body, "id", what=f"{sobject} create response")
        return str(body["id"])

    async def get(self, sobject: str, record_id: str, *, fields: Iterable[str] | None = None,
                  **kw: Any) -> dict[str, Any]:
        params = {"fields": ",".join(fields)} if fields else None
        body = await self.request_json("GET", self._sobject(sobject, record_id), params=params,
                                       operation=f"sobject.get.{sobject}", **kw)
        return require_keys(SYSTEM, body, what=f"{sobject} record")

    async def get_by_external_id(self, sobject: str, field: str, value: str, **kw: Any) -> dict[str, Any]:
        body = await self.request_json("GET", self._sobject(sobject, field, quote(value, safe="")),
                                       operation=f"sobject.get_by_external_id.{sobject}", **kw)
        return require_keys(SYSTEM, body, what=f"{sobject} record")

    async def update(self, sobject: str, record_id: str, fields: Mapping[str, Any], **kw: Any) -> None:
        """PATCH /sobjects/X/{id} (idempotent: same fields, same state)."""
        kw.setdefault("idempotent", True)
        await self.request("PATCH", self._sobject(sobject, record_id), json=dict(fields),
                           operation=f"sobject.update.{sobject}", **kw)

    async def delete(self, sobject: str, record_id: str, **kw: Any) -> None:
        await self.request("DELETE", self._sobject(sobject, record_id), operation=f"sobject.delete.{sobject}", **kw)

    async def upsert(self, sobject: str, external_id_field: str, external_id: str, fields: Mapping[str, Any], *,
                     update_only: bool = False, **kw: Any) -> UpsertResult:
        """The idempotent write: ``PATCH /sobjects/X/Field__c/value``; 201 created, 200/204 updated.

        Several records matching the value is a DuplicateRecordError (300); a field that is not an external id is
        a RecordNotFoundError (404 NOT_FOUND). The external id field must not also be in ``fields``.
        """
        kw.setdefault("idempotent", True)
        kw.setdefault("idempotency_key", f"{sobject}/{external_id_field}/{external_id}")
        params = {"updateOnly": "true"} if update_only else None
        payload = {k: v for k, v in fields.items() if k != external_id_field}
        response = await self.request("PATCH", self._sobject(sobject, external_id_field, quote(external_id, safe="")),
                                      params=params, json=payload, operation=f"sobject.upsert.{sobject}", **kw)
        if response.status_code == 204 or not response.content:
            return UpsertResult(id=None, created=False)
        body = require_keys(SYSTEM, json_or_contract_error(SYSTEM, response), "id", what="upsert response")
        created = bool(body.get("created", response.status_code == 201))
        return UpsertResult(id=str(body["id"]), created=created)

    # ---- describe and replication --------------------------------------------------------------------------------
    async def describe(self, sobject: str, **kw: Any) -> dict[str, Any]:
        """``GET /sobjects/X/describe/``: the object's metadata, ``fields`` with ``name`` and ``type`` (check-config
        reads it). An unknown object is ``RecordNotFoundError`` (404 ``NOT_FOUND``)."""
        body = await self.request_json("GET", self._sobject(sobject, "describe") + "/",
                                       operation=f"sobject.describe.{sobject}", **kw)
        return require_keys(SYSTEM, body, "name", "fields", what="describe")

    async def updated(self, sobject: str, start: str, end: str, **kw: Any) -> UpdatedRecords:
        """``GET /sobjects/X/updated/?start=&end=`` (sObject Get Updated): ids of records added or changed in the
        span (by SystemModstamp; Salesforce ignores the seconds of both bounds) and ``latestDateCovered``, the safe
        start of the next span (earlier than ``end`` while a long transaction is open). ISO 8601 UTC datetimes.
        https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm"""
        body = await self.request_json("GET", self._sobject(sobject, "updated") + "/",
                                       params={"start": start, "end": end}, operation=f"sobject.updated.{sobject}",
                                       **kw)
        require_keys(SYSTEM, body, "ids", "latestDateCovered", what="updated records response")
        return UpdatedRecords(ids=[str(i) for i in body["ids"]], latest_date_covered=str(body["latestDateCovered"]))

    # ---- SOQL ----------------------------------------------------------------------------------------------------
    async def query(self, soql: str, *, include_deleted: bool = False, **kw: Any) -> AsyncIterator[dict[str, Any]]:
        """Every record of a SOQL query, following ``nextRecordsUrl`` until ``done``."""
        resource = "queryAll" if include_deleted else "query"
        page = await self.request_json("GET", f"{self.data_path}/{resource}/", params={"q": soql},
                                       operation="query", **kw)
        while True:
            require_keys(SYSTEM, page, "records", "done", what="query response")
            for record in page["records"]:
                yield record
            if page["done"] or not page.get("nextRecordsUrl"):
                return
            page = await self.request_json("GET", str(page["nextRecordsUrl"]), operation="query.more", **kw)

    async def query_all(self, soql: str, **kw: Any) -> list[dict[str, Any]]:
        return [r async for r in self.query(soql, **kw)]

    # ---- composite/sobjects collections (≤200 records, each with attributes.type) ------------------------------
    async def _collection(self, method: str, path: str, records: list[dict[str, Any]] | None, *,
                          all_or_none: bool, operation: str, params: Mapping[str, Any] | None = None,
                          **kw: Any) -> list[RecordResult]:
        if records is not None and len(records) > 200:
            raise BusinessError("salesforce: a collection holds at most 200 records", system=SYSTEM,
                                code="COLLECTION_TOO_LARGE")
        json_body = {"allOrNone": all_or_none, "records": records} if records is not None else None
        body = await self.request_json(method, f"{self.data_path}/composite/sobjects{path}", json=json_body,
                                       params=params, operation=operation, **kw)
        if not isinstance(body, list):
            raise ContractError("salesforce: a collection response must be a list", system=SYSTEM,
                                code="UNEXPECTED_SHAPE")
        results = []
        for item in body:
            require_keys(SYSTEM, item, "success", what="collection result")
            errors = list(item.get("errors") or [])
            error = None
            if not item["success"] and errors:
                e = errors[0]
                error = error_from_code(str(e.get("statusCode", "UNKNOWN_EXCEPTION")),
                                        f"salesforce: {e.get('message', '')}", status=None, details=errors)
            results.append(RecordResult(id=item.get("id"), success=bool(item["success"]), errors=errors,
                                        error=error))
        return results

    @staticmethod
    def _typed(sobject: str, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{"attributes": {"type": sobject}, **{k: v for k, v in r.items() if k != "attributes"}}
                for r in records]

    async def create_many(self, sobject: str, records: Iterable[Mapping[str, Any]], *, all_or_none: bool = False,
                          **kw: Any) -> list[RecordResult]:
        return await self._collection("POST", "", self._typed(sobject, records), all_or_none=all_or_none,
                                      operation=f"collection.create.{sobject}", **kw)

    async def update_many(self, sobject: str, records: Iterable[Mapping[str, Any]], *, all_or_none: bool = False,
                          **kw: Any) -> list[RecordResult]:
        kw.setdefault("idempotent", True)
        return await self._collection("PATCH", "", self._typed(sobject, records), all_or_none=all_or_none,
                                      operation=f"collection.update.{sobject}", **kw)

    async def upsert_many(self, sobject: str, external_id_field: str, records: Iterable[Mapping[str, Any]], *,
                          all_or_none: bool = False, **kw: Any) -> list[RecordResult]:
        """``PATCH /composite/sobjects/X/Field__c`` (v46+): the idempotent bulk write."""
        kw.setdefault("idempotent", True)
        return await self._collection("PATCH", f"/{sobject}/{external_id_field}", self._typed(sobject, records),
                                      all_or_none=all_or_none, operation=f"collection.upsert.{sobject}", **kw)

    async def delete_many(self, ids: Iterable[str], *, all_or_none: bool = False, **kw: Any) -> list[RecordResult]:
        params = {"ids": ",".join(ids), "allOrNone": str(all_or_none).lower()}
        return await self._collection("DELETE", "", None, all_or_none=all_or_none, params=params,
                                      operation="collection.delete", **kw)

    # ---- limits and change events -------------------------------------------------------------------------------
    async def limits(self, **kw: Any) -> dict[str, Any]:
        body = await self.request_json("GET", f"{self.data_path}/limits/", operation="limits", **kw)
        return require_keys(SYSTEM, body, what="limits")

    async def change_events(self, channel: str = "/data/ChangeEvents", *, replay_id: int = -2,
                            batch_size: int = 100, wait: float = 0.0, **kw: Any) -> AsyncIterator[dict[str, Any]]:
        """Change Data Capture events on ``channel`` after ``replay_id``, oldest first, until caught up.

        ``replay_id``: -2 = every retained event, -1 = only new ones, N = after replay id N. Each item is
        ``{"replayId": n, "channel": "/data/XChangeEvent", "payload": {..., "ChangeEventHeader": {...}}}``; keep the
        largest ``replayId`` to resume. Delivery is at least once: duplicates inside a call are dropped here, the
        consumer's inbox drops those across calls. Real Salesforce streams CDC over CometD / the Pub/Sub API; the
        simulator serves the same events on a long-poll pull endpoint (`CDC_EVENTS_PATH`), which is what this reads.
        """
        name = channel.removeprefix("/data/")
        path = CDC_EVENTS_PATH.format(version=self.api_version, channel=quote(name, safe=""))
        after = replay_id
        seen: set[int] = set()
        while True:
            params: dict[str, Any] = {"replayId": after, "limit": batch_size}
            if wait:
                params["wait"] = wait
            body = await self.request_json("GET", path, params=params, operation="cdc.events", **kw)
            require_keys(SYSTEM, body, "events", "latestReplayId", what="change events response")
            batch = []
            for event in body["events"]:
                require_keys(SYSTEM, event, "replayId", "payload", what="change event")
                rid = int(event["replayId"])
                if rid not in seen and (after < 0 or rid > after):
                    seen.add(rid)
                    batch.append(event)
            batch.sort(key=lambda e: int(e["replayId"]))
            for event in batch:
                yield event
            latest = int(body["latestReplayId"])
            if not body["events"] or latest <= after or len({int(e["replayId"]) for e in body["events"]}) < batch_size:
                return
            after = latest
