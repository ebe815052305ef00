"""Stripe API errors: `{"error": {"type", "code", "decline_code", "message", "param", "doc_url", ...}}`.

Statuses and types as Stripe documents them (docs.stripe.com/api/errors, /error-codes, /declines/codes) and as
stripe-python maps them (`_api_requestor.py`): 400/404 `invalid_request_error` (InvalidRequestError, or
IdempotencyError for `idempotency_error`), 401 (AuthenticationError; Stripe's type is still
`invalid_request_error`), 402 `card_error` (CardError), 429 `rate_limit` (RateLimitError), 5xx `api_error`.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from q2c_simulators.kernel import VendorError

from q2c_simulators.kernel.http import json_bytes

DOCS = "https://stripe.com/docs/error-codes/"


class StripeError(VendorError):
    """Raised by the models and responses. `validation`: the request failed before execution began, so the
    idempotency layer stores nothing for it (docs.stripe.com/api/idempotent_requests)."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, decline_code: str | None = None, validation: bool = False,
                 extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.validation = validation
        self.extra = extra or {}
        self.headers = headers

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = DOCS + self.code.replace("_", "-")
        if self.decline_code:
            err["decline_code"] = self.decline_code
        if self.param:
            err["param"] = self.param
        err.update(self.extra)
        return {"error": err}

    def response(self) -> Response:
        return Response(json_bytes(self.body()), self.status, headers=self.headers, media_type="application/json")


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """A parameter Stripe refuses before it starts (nothing stored under the idempotency key)."""
    return StripeError(400, message, param=param, code=code, validation=True)


def refused(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """A request the endpoint refuses once it has begun (a rule of the object's state): saved under its key."""
    return StripeError(400, message, param=param, code=code)


def unknown_parameter(name: str) -> StripeError:
    return invalid(f"Received unknown parameter: {name}", name, "parameter_unknown")


def missing(name: str) -> StripeError:
    return invalid(f"Missing required param: {name}.", name, "parameter_missing")


def no_such(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def unexpected_state(message: str, extra: dict[str, Any] | None = None) -> StripeError:
    return StripeError(400, message, code="payment_intent_unexpected_state", extra=extra)


def authentication(message: str, headers: dict[str, str] | None = None) -> StripeError:
    return StripeError(401, message, validation=True, headers=headers)


def rate_limited(retry_after: float | None = None) -> StripeError:
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else None
    return StripeError(429, "Request rate limit exceeded. Learn more about rate limits here "
                            "https://stripe.com/docs/rate-limits.", code="rate_limit", validation=True, headers=headers)


def error_for_status(status: int, code: str | None, message: str | None) -> StripeError:
    """An injected fault or a kernel answer in Stripe's shape."""
    if status == 402:
        return StripeError(402, message or "Your card was declined.", type_="card_error",
                           code=code or "card_declined", decline_code="generic_decline")
    if status == 429:
        return rate_limited()
    if status >= 500:
        return StripeError(status, message or "An unknown error occurred", type_="api_error", code=code)
    return StripeError(status, message or "Invalid request", code=code)
