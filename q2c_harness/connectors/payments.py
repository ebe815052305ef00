"""Payment gateway client in the Stripe API style: ``Authorization: Bearer sk_…``, form-encoded bodies, ``/v1``.

- Writes are POSTs with an ``Idempotency-Key`` (docs.stripe.com/api/idempotent_requests): the same key replays the
  first answer (``Idempotent-Replayed: true``), so a POST with our key is retried like an idempotent call.
- Lists are newest first with ``starting_after`` cursors; `events_since` walks back to the last event seen.
- Errors: ``{"error": {"type", "code", "message"}}``; 429 (``rate_limit``) and 5xx are transient, 401 auth, 402
  (``card_error``) and other 4xx business (docs.stripe.com/api/errors). ``Stripe-Should-Retry`` is honoured.
- Webhooks: `verify_signature` checks ``Stripe-Signature: t=…,v1=…`` (HMAC-SHA256 keyed with the whole ``whsec_``
  secret over ``"{t}.{raw body}"``) and rejects a ``t`` older than the tolerance (300 s, wall clock), as
  stripe-python's ``Webhook.construct_event`` does (docs.stripe.com/webhooks#verify-manually).
"""

from __future__ import annotations

import hashlib
import hmac
import time
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
)
from .http import BearerToken, VendorClient, error_parts

SYSTEM = "payments"
DEFAULT_BASE_URL = "https://api.stripe.com"
SIGNATURE_HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300


def form_encode(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: ``metadata[k]=v``, arrays indexed ``expand[0]=x``, booleans ``true``/``false``."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            out += form_encode(value, name)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                out += form_encode(item, f"{name}[{i}]") if isinstance(item, Mapping) else [(f"{name}[{i}]",
                                                                                             _scalar(item))]
        else:
            out.append((name, _scalar(value)))
    return out


def _scalar(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def classify_response(response: httpx.Response) -> IntegrationError:
    status, retry_after, body = error_parts(response)
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return error_for_status(SYSTEM, status, f"payments: HTTP {status} {response.text[:300]}",
                                retry_after=retry_after)
    code = str(err.get("code") or err.get("type") or f"HTTP_{status}")
    message = f"payments: {err.get('type', 'error')} {code}: {err.get('message', '')}"
    kw: dict[str, Any] = {"system": SYSTEM, "code": code, "status": status, "retry_after": retry_after,
                          "details": err}
    should_retry = response.headers.get("Stripe-Should-Retry")
    if status == 429 or status >= 500 or should_retry == "true":
        e = TransientError(message, **kw)
        return mark_not_applied(e) if status in (429, 503) else e
    if status == 401:
        return AuthError(message, **kw)
    if status == 404:
        return RecordNotFoundError(message, **kw)
    return BusinessError(message, **kw)


def verify_signature(secret: str, body: bytes, header: str | None, *, tolerance: float = TOLERANCE_SECONDS,
                     now: float | None = None) -> bool:
    """True when one ``v1`` of ``header`` signs ``body`` with ``secret`` and its ``t`` is within the tolerance."""
    if not header:
        return False
    parts = [p.strip().split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    t = int(stamps[0])
    if tolerance and t < (time.time() if now is None else now) - tolerance:
        return False  # a replay of an old delivery
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(expected, v) for k, v in parts)


class PaymentsClient(VendorClient):
    system: ClassVar[str] = SYSTEM
    default_concurrency: ClassVar[int] = 10

    def __init__(self, base_url: str = DEFAULT_BASE_URL, *, api_key: str, **kw: Any) -> None:
        super().__init__(base_url, auth=BearerToken(api_key), **kw)

    def classify(self, response: httpx.Response) -> IntegrationError:
        return classify_response(response)

    async def post(self, path: str, params: Mapping[str, Any], *, operation: str, idempotency_key: str) -> Any:
        return await self.request_json(
            "POST", path, operation=operation, content=str(httpx.QueryParams(form_encode(params))).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": idempotency_key},
            idempotency_key=idempotency_key, idempotent=True)

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *, operation: str) -> Any:
        return await self.request_json("GET", path, operation=operation, params=form_encode(params or {}))

    async def retrieve_payment_intent(self, intent_id: str) -> dict[str, Any]:
        return await self.get(f"/v1/payment_intents/{intent_id}", operation="payment_intents.retrieve")

    async def list_refunds(self, intent_id: str) -> list[dict[str, Any]]:
        page = await self.get("/v1/refunds", {"payment_intent": intent_id, "limit": 100}, operation="refunds.list")
        return list(page.get("data", []))

    async def create_webhook_endpoint(self, url: str, events: list[str], *, idempotency_key: str) -> dict[str, Any]:
        return await self.post("/v1/webhook_endpoints", {"url": url, "enabled_events": events},
                               operation="webhook_endpoints.create", idempotency_key=idempotency_key)

    async def events_since(self, last_id: str | None, types: list[str]) -> list[dict[str, Any]]:
        """Events newer than ``last_id`` (all retained ones when None), oldest first. Stripe lists newest first,
        so the walk goes back page by page until it meets ``last_id``."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "types": types}
            if after:
                params["starting_after"] = after
            page = await self.get("/v1/events", params, operation="events.list")
            rows = page.get("data", [])
            for ev in rows:
                if ev["id"] == last_id:
                    return list(reversed(out))
                out.append(ev)
            if not page.get("has_more") or not rows:
                return list(reversed(out))
            after = rows[-1]["id"]
