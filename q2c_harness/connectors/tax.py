"""Tax service client in the AvaTax REST v2 style: HTTP Basic (account id + license key) or bearer, ``/api/v2``.

- ``create_transaction`` with ``type: SalesInvoice``, ``commit: false`` records a *Saved* document under our
  ``code`` (the invoice id): re-creating a Saved code replaces it, so a retried quote is safe; a Committed or
  Cancelled code is reserved (``DocumentCodeConflict``, developer.avalara.com/avatax/errors/DocumentCodeConflict).
- ``commit_transaction`` is idempotent on a Committed document; ``void_transaction`` of a Cancelled one answers
  ``TransactionAlreadyCancelled``, which this client treats as done (the void already happened).
- Errors come in AvaTax's ``{"error": {"code", "message", "details": [{"number", "faultCode"}]}}`` envelope: a 4xx
  is a refusal of this request (business lot: an address or line the service rejects), 429 limits
  (``RequestLimitExceeded`` 1715 …) and 5xx are transient (by status: ``GetTaxError`` is a 400 marked
  ``faultCode: Server``). Avalara does not
  queue during an outage (developer.avalara.com/avatax/errors-and-outages/): the caller retries later.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from .errors import (
    AuthError,
    BusinessError,
    IntegrationError,
    RecordNotFoundError,
    TransientError,
    error_for_status,
    mark_not_applied,
    require_keys,
)
from .http import Authenticator, BearerToken, VendorClient, error_parts

SYSTEM = "tax"
DEFAULT_BASE_URL = "https://rest.avatax.com"
_THROTTLES = {"RequestLimitExceeded", "ConcurrentRequestLimitExceeded", "RateLimitExceededError"}


class AvaTaxBasic(Authenticator):
    """HTTP Basic with the account id and license key (AvaTax ``add_credentials(account_id, license_key)``)."""

    def __init__(self, account_id: str, license_key: str) -> None:
        self._header = "Basic " + base64.b64encode(f"{account_id}:{license_key}".encode()).decode()

    async def apply(self, request: httpx.Request, client: VendorClient) -> httpx.Request:
        request.headers["Authorization"] = self._header
        return request


def classify_response(response: httpx.Response) -> IntegrationError:
    status, retry_after, body = error_parts(response)
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return error_for_status(SYSTEM, status, f"tax: HTTP {status} {response.text[:300]}", retry_after=retry_after)
    code = str(err.get("code") or f"HTTP_{status}")
    details = err.get("details") if isinstance(err.get("details"), list) else []
    message = f"tax: {code}: {err.get('message', '')}"
    kw: dict[str, Any] = {"system": SYSTEM, "code": code, "status": status, "retry_after": retry_after,
                          "details": details}
    if status == 429 or code in _THROTTLES:
        return mark_not_applied(TransientError(message, **kw))
    if status >= 500:  # by status: AvaTax marks some refusals (GetTaxError, 400) faultCode Server
        err_t = TransientError(message, **kw)
        return mark_not_applied(err_t) if status == 503 else err_t  # 503: refused before processing
    if status in (401, 403):
        return AuthError(message, **kw)
    if status == 404:
        return RecordNotFoundError(message, **kw)
    return BusinessError(message, **kw)


class TaxClient(VendorClient):
    system: ClassVar[str] = SYSTEM
    default_concurrency: ClassVar[int] = 10

    def __init__(self, base_url: str = DEFAULT_BASE_URL, *, auth: Authenticator | str, company: str = "DEFAULT",
                 **kw: Any) -> None:
        super().__init__(base_url, auth=BearerToken(auth) if isinstance(auth, str) else auth, **kw)
        self.company = company

    def classify(self, response: httpx.Response) -> IntegrationError:
        return classify_response(response)

    def _doc(self, code: str, action: str | None = None) -> str:
        return f"/api/v2/companies/{self.company}/transactions/{code}" + (f"/{action}" if action else "")

    async def ping(self) -> dict[str, Any]:
        return await self.request_json("GET", "/api/v2/utilities/ping", operation="ping", authenticate=True)

    async def create_transaction(self, model: Mapping[str, Any], *, include: str = "Summary") -> dict[str, Any]:
        """Calculate (and for an invoice type record) a transaction. Creating a Saved code again replaces it, so
        the call is idempotent for ``commit: false`` and is retried as such."""
        body = {"companyCode": self.company, **model}
        out = await self.request_json("POST", "/api/v2/transactions/create", operation="transactions.create",
                                      params={"$include": include}, json=body,
                                      idempotent=not bool(model.get("commit")))
        return require_keys(SYSTEM, out, "code", "status", "totalTax", "lines", what="transaction")

    async def get_transaction(self, code: str, *, include: str = "Summary") -> dict[str, Any]:
        return await self.request_json("GET", self._doc(code), operation="transactions.get",
                                       params={"$include": include})

    async def commit_transaction(self, code: str) -> dict[str, Any]:
        return await self.request_json("POST", self._doc(code, "commit"), operation="transactions.commit",
                                       json={"commit": True}, idempotent=True)

    async def void_transaction(self, code: str, reason: str = "DocVoided") -> dict[str, Any]:
        try:
            return await self.request_json("POST", self._doc(code, "void"), operation="transactions.void",
                                           json={"code": reason}, idempotent=True)
        except BusinessError as exc:
            if exc.code == "TransactionAlreadyCancelled":
                return await self.get_transaction(code)
            raise

    async def list_transactions(self, *, include: str = "Summary") -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        skip = 0
        while True:
            page = await self.request_json("GET", f"/api/v2/companies/{self.company}/transactions",
                                           operation="transactions.list",
                                           params={"$include": include, "$top": 1000, "$skip": skip})
            rows = (page or {}).get("value", [])
            out += rows
            if not rows or len(out) >= int((page or {}).get("@recordsetCount", len(out))):
                return out
            skip += len(rows)
