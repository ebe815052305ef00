"""NetSuite SuiteTalk REST client: TBA or OAuth 2.0 M2M, record service, upsert by external id, SuiteQL, async jobs.

- Auth: OAuth 1.0a token-based auth signed by Authlib's `ClientAuth` with HMAC-SHA256 and ``realm`` = the account
  id (``oauth_body_hash`` on requests with a body; the JSON body itself stays out of the base string), or OAuth 2.0
  client credentials with a JWT assertion (PyJWT; ``kid`` = certificate id) whose token is cached until shortly
  before it expires and fetched again after a 401.
- Paging: record lists and SuiteQL use ``limit``/``offset`` with ``hasMore``; both are async iterators.
- The idempotent write is `NetSuiteClient.upsert` (``PUT /record/v1/{type}/eid:{externalId}``). NetSuite external
  ids are case-insensitive: build them in one canonical case (`q2c_harness.connectors.mapping.external_id`).
- Async: ``Prefer: respond-async`` + ``X-NetSuite-Idempotency-Key``; a repeated key returns the earlier job.
- Governance: the account's concurrency budget (default 5, shared by every client of the account) keeps the core
  under NetSuite's concurrency limit by itself; a 429 is transient and retried.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx
import jwt
from authlib.oauth1 import ClientAuth
from authlib.oauth1.rfc5849.signature import generate_signature_base_string

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

SYSTEM = "netsuite"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

TRANSIENT_CODES = frozenset({"CONCURRENCY_LIMIT_EXCEEDED", "SSS_REQUEST_LIMIT_EXCEEDED", "WS_REQUEST_BLOCKED",
                             "WS_CONCUR_SESSION_DISALLWD", "SERVICE_UNAVAILABLE", "RCRD_LOCKED_BY_WF"})
AUTH_CODES = frozenset({"INVALID_LOGIN", "INVALID_LOGIN_ATTEMPT", "INSUFFICIENT_PERMISSION", "invalid_client",
                        "invalid_grant", "invalid_request", "invalid_scope", "unsupported_grant_type"})
NOT_FOUND_CODES = frozenset({"NONEXISTENT_ID", "RCRD_DSNT_EXIST"})
DUPLICATE_CODES = frozenset({"DUP_RCRD", "DUP_ENTITY", "IDEMPOTENCY_ERROR"})
BUSINESS_CODES = frozenset({"INVALID_CONTENT", "INVALID_KEY_OR_REF", "USER_ERROR", "INVALID_PARAMETER",
                            "INVALID_REQUEST", "INVALID_FLD_VALUE", "CONFLICT", "REQUEST_TOO_LARGE",
                            "INVALID_CONTENT_TYPE", "UNSUPPORTED_MEDIA_TYPE"})


def slug(account: str) -> str:
    """``1234567_SB1`` -> ``1234567-sb1`` (the host label)."""
    return account.lower().replace("_", "-")


def default_base_url(account: str) -> str:
    return f"https://{slug(account)}.suitetalk.api.netsuite.com/services/rest"


def error_from_code(code: str, message: str, *, status: int, retry_after: float | None = None,
                    details: Any = None) -> IntegrationError:
    kw: dict[str, Any] = {"system": SYSTEM, "code": code, "status": status, "retry_after": retry_after,
                          "details": details}
    if code in TRANSIENT_CODES or status in (429, 503):
        return mark_not_applied(TransientError(message, **kw))
    if code in AUTH_CODES or status in (401, 403):
        err = AuthError(message, **kw)
        return mark_reauthenticate(err) if status == 401 else err
    if code in NOT_FOUND_CODES or status == 404:
        return RecordNotFoundError(message, **kw)
    if code in DUPLICATE_CODES:
        return DuplicateRecordError(message, **kw)
    if code in BUSINESS_CODES:
        return BusinessError(message, **kw)
    return error_for_status(SYSTEM, status, message, code=code, retry_after=retry_after, details=details)


def classify_response(response: httpx.Response) -> IntegrationError:
    status, retry_after, body = error_parts(response)
    location = response.headers.get("Location")
    if isinstance(body, dict) and isinstance(body.get("o:errorDetails"), list) and body["o:errorDetails"]:
        first = body["o:errorDetails"][0]
        code = str(first.get("o:errorCode") or f"HTTP_{status}")
        details = {"errors": body["o:errorDetails"], "title": body.get("title"), "location": location}
        return error_from_code(code, f"netsuite: {first.get('detail', body.get('title', ''))}", status=status,
                               retry_after=retry_after, details=details)
    if isinstance(body, dict) and "error" in body:  # the OAuth 2.0 token endpoint
        err = AuthError(f"netsuite: {body.get('error_description') or body['error']}", system=SYSTEM,
                        code=str(body["error"]), status=status, details=body)
        return err
    if status in (429, 503):
        return mark_not_applied(TransientError(f"netsuite: HTTP {status}", system=SYSTEM, code=f"HTTP_{status}",
                                               status=status, retry_after=retry_after))
    return error_for_status(SYSTEM, status, f"netsuite: HTTP {status} {response.text[:300]}",
                            retry_after=retry_after, details={"body": body, "location": location})


# ---- auth: TBA -------------------------------------------------------------------------------------------------------
def _sign_hmac_sha256(client: ClientAuth, request: Any) -> str:
    base_string = generate_signature_base_string(request)
    key = f"{quote(client.client_secret or '', safe='~')}&{quote(client.token_secret or '', safe='~')}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _TbaSigner(ClientAuth):
    # a private table: registering on ClientAuth itself would change every Authlib user in the process
    SIGNATURE_METHODS = {**ClientAuth.SIGNATURE_METHODS, "HMAC-SHA256": _sign_hmac_sha256}


class NetSuiteTBA(Authenticator):
    """OAuth 1.0a token-based authentication, a fresh nonce and timestamp per attempt."""

    def __init__(self, account: str, consumer_key: str, consumer_secret: str, token_id: str,
                 token_secret: str) -> None:
        self.account = account
        self._signer = _TbaSigner(consumer_key, client_secret=consumer_secret, token=token_id,
                                  token_secret=token_secret, signature_method="HMAC-SHA256", realm=account,
                                  force_include_body=True)

    def authorization(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> str:
        """The ``Authorization`` header value for one request."""
        _, signed, _ = self._signer.prepare(method, url, dict(headers), body)
        return signed["Authorization"]

    async def apply(self, request: httpx.Request, client: VendorClient) -> httpx.Request:
        headers = {"Content-Type": request.headers.get("Content-Type", "")} if request.content else {}
        request.headers["Authorization"] = self.authorization(request.method, str(request.url), headers,
                                                              request.content)
        return request


# ---- auth: OAuth 2.0 client credentials (M2M) ------------------------------------------------------------------------
class NetSuiteOAuth2(Authenticator):
    """Client credentials with a JWT client assertion; the access token is cached until ``expires_in`` - margin."""

    can_refresh = True

    def __init__(self, account: str, client_id: str, certificate_id: str, private_key: str | bytes, *,
                 algorithm: str = "PS256", scopes: Iterable[str] = ("rest_webservices",), token_url: str | None = None,
                 expiry_margin: float = 60.0, clock: Any = time.time) -> None:
        self.account = account
        self.client_id = client_id
        self.certificate_id = certificate_id
        self.private_key = private_key
        self.algorithm = algorithm
        self.scopes = list(scopes)
        self.token_url = token_url
        self.expiry_margin = expiry_margin
        self._clock = clock
        self.access_token: str | None = None
        self.expires_at = 0.0
        self._lock: asyncio.Lock | None = None

    def _token_url(self, client: VendorClient) -> str:
        return self.token_url or f"{client.base_url}/auth/oauth2/v1/token"

    def assertion(self, token_url: str) -> str:
        now = int(self._clock())
        claims = {"iss": self.client_id, "scope": ",".join(self.scopes), "aud": token_url, "iat": now,
                  "exp": now + 3600}
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm,
                          headers={"kid": self.certificate_id, "typ": "JWT"})

    async def ensure(self, client: VendorClient) -> None:
        if self.access_token is None or self._clock() >= self.expires_at - self.expiry_margin:
            await self.refresh(client, force=False)

    async def apply(self, request: httpx.Request, client: VendorClient) -> httpx.Request:
        await self.ensure(client)
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request

    async def refresh(self, client: VendorClient, *, force: bool = True) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        stale = self.access_token
        async with self._lock:
            if self.access_token != stale and self.access_token is not None:
                return
            if not force and self.access_token is not None and self._clock() < self.expires_at - self.expiry_margin:
                return
            url = self._token_url(client)
            form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": self.assertion(url)}
            body = await client.request_json("POST", url, operation="oauth2.token", data=form, authenticate=False,
                                             idempotent=True)
            require_keys(SYSTEM, body, "access_token", what="token response")
            self.access_token = str(body["access_token"])
            self.expires_at = self._clock() + float(body.get("expires_in", 3600))


# ---- results ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AsyncJob:
    id: str
    location: str
    reused: bool = False  # the idempotency key matched an earlier job


def id_from_location(location: str | None) -> str | None:
    if not location:
        return None
    return urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1] or None


# ---- the client ------------------------------------------------------------------------------------------------------
class NetSuiteClient(VendorClient):
    system: ClassVar[str] = SYSTEM
    default_concurrency: ClassVar[int] = 5  # the Shared tier's account-wide concurrency limit

    def __init__(self, account: str, *, auth: Authenticator, base_url: str | None = None,
                 property_name_validation: str | None = "error", **kwargs: Any) -> None:
        kwargs.setdefault("account_id", account)
        super().__init__(base_url or default_base_url(account), auth=auth, **kwargs)
        self.account_name = account
        self.http.headers.setdefault("Accept", "application/json")
        if property_name_validation:
            self.http.headers.setdefault("X-NetSuite-PropertyNameValidation", property_name_validation)

    def classify(self, response: httpx.Response) -> IntegrationError:
        return classify_response(response)

    @staticmethod
    def _rid(record_id: str) -> str:
        return quote(record_id, safe=":")

    def record_path(self, record_type: str, record_id: str | None = None) -> str:
        path = f"/record/v1/{record_type}"
        return path if record_id is None else f"{path}/{self._rid(record_id)}"

    # ---- record service ------------------------------------------------------------------------------------------
    async def get(self, record_type: str, record_id: str, *, fields: Iterable[str] | None = None,
                  expand_sub_resources: bool = False, **kw: Any) -> dict[str, Any]:
        params: dict[str, str] = {}
        if fields:
            params["fields"] = ",".join(fields)
        if expand_sub_resources:
            params["expandSubResources"] = "true"
        body = await self.request_json("GET", self.record_path(record_type, record_id), params=params or None,
                                       operation=f"record.get.{record_type}", **kw)
        return require_keys(SYSTEM, body, what=f"{record_type} record")

    async def get_by_external_id(self, record_type: str, external_id: str, **kw: Any) -> dict[str, Any]:
        return await self.get(record_type, f"eid:{external_id}", **kw)

    async def metadata(self, record_type: str, **kw: Any) -> dict[str, Any]:
        """The record type's JSON Schema from the metadata catalog (``GET /record/v1/metadata-catalog/{type}``,
        ``Accept: application/schema+json``): ``properties`` names its body fields and sublists, with their types.
        An unknown record type is ``RecordNotFoundError``."""
        headers = {**kw.pop("headers", {}), "Accept": "application/schema+json"}
        body = await self.request_json("GET", f"/record/v1/metadata-catalog/{record_type}", headers=headers,
                                       operation=f"metadata.{record_type}", **kw)
        return require_keys(SYSTEM, body, "properties", what=f"{record_type} metadata")

    async def list(self, record_type: str, *, q: str | None = None, page_size: int = 1000,
                   **kw: Any) -> AsyncIterator[dict[str, Any]]:
        """Every item (id + links) of a record list, following ``hasMore`` with ``offset``."""
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": page_size, "offset": offset}
            if q:
                params["q"] = q
            page = await self.request_json("GET", self.record_path(record_type), params=params,
                                           operation=f"record.list.{record_type}", **kw)
            require_keys(SYSTEM, page, "items", "hasMore", what=f"{record_type} list")
            for item in page["items"]:
                yield item
            if not page["hasMore"] or not page["items"]:
                return
            offset = int(page.get("offset", offset)) + len(page["items"])

    async def create(self, record_type: str, body: Mapping[str, Any], **kw: Any) -> str:
        """POST -> 204 + ``Location``; returns the new internal id. Not idempotent: flows should `upsert`."""
        response = await self.request("POST", self.record_path(record_type), json=dict(body),
                                      operation=f"record.create.{record_type}", **kw)
        rid = id_from_location(response.headers.get("Location"))
        if rid is None:
            raise ContractError(f"netsuite: create {record_type} answered {response.status_code} without Location",
                                system=SYSTEM, code="UNEXPECTED_SHAPE", status=response.status_code)
        return rid

    async def update(self, record_type: str, record_id: str, body: Mapping[str, Any], **kw: Any) -> None:
        kw.setdefault("idempotent", True)
        await self.request("PATCH", self.record_path(record_type, record_id), json=dict(body),
                           operation=f"record.update.{record_type}", **kw)

    async def delete(self, record_type: str, record_id: str, **kw: Any) -> None:
        await self.request("DELETE", self.record_path(record_type, record_id),
                           operation=f"record.delete.{record_type}", **kw)

    async def upsert(self, record_type: str, external_id: str, body: Mapping[str, Any], **kw: Any) -> str | None:
        """The idempotent write: ``PUT /record/v1/{type}/eid:{externalId}``; returns the internal id when the
        response names it (``Location``), else None (read it back with `get_by_external_id`)."""
        kw.setdefault("idempotency_key", f"{record_type}/eid:{external_id}")
        payload = {k: v for k, v in body.items() if k != "externalId"}
        response = await self.request("PUT", self.record_path(record_type, f"eid:{external_id}"), json=payload,
                                      operation=f"record.upsert.{record_type}", **kw)
        return id_from_location(response.headers.get("Location"))

    # ---- SuiteQL -------------------------------------------------------------------------------------------------
    async def suiteql(self, query: str, *, page_size: int = 1000, **kw: Any) -> AsyncIterator[dict[str, Any]]:
        """Every row of a SuiteQL query (``Prefer: transient``), following ``hasMore`` with ``offset``."""
        offset = 0
        while True:
            page = await self.request_json(
                "POST", "/query/v1/suiteql", params={"limit": page_size, "offset": offset}, json={"q": query},
                headers={"Prefer": "transient"}, operation="suiteql", idempotent=True, **kw)
            require_keys(SYSTEM, page, "items", "hasMore", what="SuiteQL response")
            for row in page["items"]:
                yield {k: v for k, v in row.items() if k != "links"}
            if not page["hasMore"] or not page["items"]:
                return
            offset = int(page.get("offset", offset)) + len(page["items"])

    async def suiteql_all(self, query: str, **kw: Any) -> list[dict[str, Any]]:
        return [row async for row in self.suiteql(query, **kw)]

    # ---- async requests ------------------------------------------------------------------------------------------
    async def submit_async(self, method: str, path: str, *, json: Any = None, idempotency_key: str | None = None,
                           **kw: Any) -> AsyncJob:
        """Send a request with ``Prefer: respond-async``; 202 + ``Location`` names the job.

        The idempotency key (a new uuid if none is given; pass a stable one from the flow) makes resubmission safe:
        NetSuite answers a repeated key with ``IDEMPOTENCY_ERROR`` and the earlier job's ``Location``, which is
        returned as that job (``reused=True``).
        """
        key = idempotency_key or str(uuid.uuid4())
        headers = {"Prefer": "respond-async", "X-NetSuite-Idempotency-Key": key}
        try:
            response = await self.request(method, path, json=json, headers=headers, idempotency_key=key,
                                          idempotent=True, operation=f"async.submit.{method.lower()}", **kw)
        except DuplicateRecordError as err:
            location = (err.details or {}).get("location") if isinstance(err.details, dict) else None
            if err.code == "IDEMPOTENCY_ERROR" and location:
                return AsyncJob(id=str(id_from_location(location)), location=location, reused=True)
            raise
        location = response.headers.get("Location")
        job_id = id_from_location(location)
        if response.status_code != 202 or job_id is None or location is None:
            raise ContractError(f"netsuite: async submit answered {response.status_code} without a job Location",
                                system=SYSTEM, code="UNEXPECTED_SHAPE", status=response.status_code)
        return AsyncJob(id=job_id, location=location)

    async def job(self, job_id: str, **kw: Any) -> dict[str, Any]:
        body = await self.request_json("GET", f"/async/v1/job/{job_id}", operation="async.job", **kw)
        return require_keys(SYSTEM, body, "completed", what="async job")

    async def wait_for_job(self, job_id: str, *, poll_interval: float = 1.0, max_wait: float = 900.0,
                           **kw: Any) -> dict[str, Any]:
        """Poll the job until ``completed`` (sleeping with the client's sleep); TransientError after ``max_wait``."""
        waited = 0.0
        while True:
            job = await self.job(job_id, **kw)
            if job["completed"]:
                return job
            if waited >= max_wait:
                raise TransientError(f"netsuite: async job {job_id} not completed after {waited:.0f}s",
                                     system=SYSTEM, code="ASYNC_JOB_PENDING", retry_after=poll_interval,
                                     details={"job": job})
            await self.sleep(poll_interval)
            waited += poll_interval

    async def job_result(self, job_id: str, **kw: Any) -> httpx.Response:
        """The completed job's result: the response the original request would have had (status, Location, body).

        Follows the job's task link, then the task's ``related`` link (the ``…/result`` resource).
        """
        job = await self.job(job_id, **kw)
        task_href = _link(job.get("task"), "self") or _link(job.get("task"), None)
        tasks_path = f"/async/v1/job/{job_id}/task"
        if task_href is None or _rest_path(task_href).rstrip("/").endswith("/task"):
            # the job links its task collection: take the first task
            tasks = await self.request_json("GET", _rest_path(task_href) if task_href else tasks_path,
                                            operation="async.tasks", **kw)
            items = require_keys(SYSTEM, tasks, "items", what="async tasks")["items"]
            task_href = _link(items[0], "self") if items else None
        if task_href is None:
            raise ContractError(f"netsuite: async job {job_id} has no task", system=SYSTEM, code="UNEXPECTED_SHAPE")
        task = await self.request_json("GET", _rest_path(task_href), operation="async.task", **kw)
        result_href = _link(task, "related") or (_rest_path(task_href).rstrip("/") + "/result")
        return await self.request("GET", _rest_path(result_href), operation="async.result", **kw)

    # ---- governance ----------------------------------------------------------------------------------------------
    async def governance_limits(self, **kw: Any) -> dict[str, Any]:
        body = await self.request_json("GET", "/system/v1/governanceLimits", operation="governance", **kw)
        return require_keys(SYSTEM, body, what="governance limits")


def _link(obj: Any, rel: str | None) -> str | None:
    if not isinstance(obj, dict):
        return None
    for link in obj.get("links") or []:
        if isinstance(link, dict) and (rel is None or link.get("rel") == rel) and link.get("href"):
            return str(link["href"])
    return None


def _rest_path(href: str) -> str:
    """An absolute NetSuite href (or a /services/rest path) -> a path relative to the client's base URL."""
    path = urlsplit(href).path if href.startswith(("http://", "https://")) else href
    marker = "/services/rest"
    if marker in path:
        path = path.split(marker, 1)[1]
    return path


def json_body(response: httpx.Response) -> Any:
    return json_or_contract_error(SYSTEM, response) if response.content else None
