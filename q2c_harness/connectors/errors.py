"""Connector-side refinements of the shared taxonomy (``q2c_harness.errors``) and the generic status mapping.

Every vendor error becomes one of the four taxonomy classes; what the engine does next depends only on the class.
The subclasses here only add precision a flow may want to catch (a missing record, a duplicate); they keep the lot of
their parent.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from q2c_harness.errors import AuthError, BusinessError, ContractError, IntegrationError, TransientError

__all__ = [
    "AuthError", "BusinessError", "CircuitOpenError", "ContractError", "DuplicateRecordError", "IntegrationError",
    "RecordNotFoundError", "TransientError", "error_for_status", "json_or_contract_error", "mark_not_applied",
    "mark_reauthenticate", "reauthenticate_on", "require_keys", "was_not_applied",
]


class RecordNotFoundError(BusinessError):
    """404 on a record (missing master data when the record is referenced by a write)."""


class DuplicateRecordError(BusinessError):
    """The vendor refused a write as a duplicate (DUPLICATE_VALUE, several records match an external id, ...)."""


class CircuitOpenError(TransientError):
    """The endpoint's circuit breaker is open: the call was not sent. ``retry_after`` is the remaining cool-down."""


_NOT_APPLIED = "_q2c_not_applied"
_REAUTH = "_q2c_reauth"


def mark_not_applied(err: IntegrationError) -> IntegrationError:
    """The vendor certainly did not apply the request (so even a non-idempotent write may be retried)."""
    setattr(err, _NOT_APPLIED, True)
    return err


def was_not_applied(err: IntegrationError) -> bool:
    return bool(getattr(err, _NOT_APPLIED, False))


def mark_reauthenticate(err: IntegrationError) -> IntegrationError:
    """A 401 that a fresh token may cure (Salesforce INVALID_SESSION_ID, an expired OAuth 2 token)."""
    setattr(err, _REAUTH, True)
    return err


def reauthenticate_on(err: IntegrationError) -> bool:
    return bool(getattr(err, _REAUTH, False))


def error_for_status(
    system: str, status: int, message: str, *, code: str | None = None, retry_after: float | None = None,
    details: Any = None, vendor_says_transient: bool = False,
) -> IntegrationError:
    """The generic mapping used when a vendor body names no code we know.

    429/502/503/504 are transient; 500 only when the vendor says so (a transient code or a Retry-After), otherwise it
    is a deterministic server-side failure a person has to look at (business lot); 401 is auth, 403 is auth
    (permission), 404 a missing record, 409/300 duplicates, other 4xx business.
    """
    code = code or f"HTTP_{status}"
    kw: dict[str, Any] = {"system": system, "code": code, "status": status, "retry_after": retry_after,
                          "details": details}
    if status in (429, 503):  # rejected before processing: safe to retry even a create
        return mark_not_applied(TransientError(message, **kw))
    if status in (502, 504) or vendor_says_transient:
        return TransientError(message, **kw)
    if status == 500:
        if retry_after is not None:
            return TransientError(message, **kw)
        return BusinessError(message, **kw)
    if status == 401 or status == 403:
        return AuthError(message, **kw)
    if status == 404:
        return RecordNotFoundError(message, **kw)
    if status in (300, 409):
        return DuplicateRecordError(message, **kw)
    if 400 <= status < 500:
        return BusinessError(message, **kw)
    return ContractError(message, **kw)  # 1xx/3xx/5xx oddities: not something the contract describes


def json_or_contract_error(system: str, response: httpx.Response) -> Any:
    """Parse a success response's JSON; an unparsable body is a ContractError (the vendor changed under us)."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ContractError(
            f"{system}: {response.request.method} {response.request.url.path} answered {response.status_code} "
            f"with a body that is not JSON: {response.text[:200]!r}",
            system=system, code="UNPARSABLE_RESPONSE", status=response.status_code,
        ) from exc


def require_keys(system: str, obj: Any, *keys: str, what: str = "response") -> dict[str, Any]:
    """Check a JSON object carries the keys we rely on; otherwise ContractError (an upgrade changed the shape)."""
    if not isinstance(obj, dict):
        raise ContractError(f"{system}: expected a JSON object as {what}, got {type(obj).__name__}",
                            system=system, code="UNEXPECTED_SHAPE", details={"what": what})
    missing = [k for k in keys if k not in obj]
    if missing:
        raise ContractError(f"{system}: {what} lacks expected keys {missing}", system=system,
                            code="UNEXPECTED_SHAPE", details={"what": what, "missing": missing,
                                                              "keys": sorted(obj)[:20]})
    return obj
