"""One error taxonomy for every vendor: what the core does next depends only on the class.

- TransientError: retry with backoff (429, 503, timeouts, connection resets, UNABLE_TO_LOCK_ROW); when retries are
  exhausted the item lands in the exception queue's `transient` lot.
- BusinessError: never retried; a person must act (validation, duplicates, missing master data, a billing rule).
  Lands in the `business` lot.
- AuthError: credentials rejected; retried once after re-authenticating, then surfaced.
- ContractError: the vendor answered in a shape we do not understand (an upgrade changed the API).
"""

from __future__ import annotations

from typing import Any


class IntegrationError(Exception):
    lot = "business"

    def __init__(
        self,
        message: str,
        *,
        system: str | None = None,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.details = details

    @property
    def error_class(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return {
            "error_class": self.error_class, "message": self.message, "system": self.system, "code": self.code,
            "status": self.status, "retry_after": self.retry_after, "details": self.details,
        }


class TransientError(IntegrationError):
    lot = "transient"


class BusinessError(IntegrationError):
    lot = "business"


class AuthError(IntegrationError):
    lot = "business"


class ContractError(IntegrationError):
    lot = "business"
