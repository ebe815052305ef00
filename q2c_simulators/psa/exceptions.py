"""Kantata OX (Mavenlink API v1) errors: `{"errors": [{"type": ..., "message": ..., "field": ...}]}`.

Error `type` values used here (Kantata's Errors page, developer.kantata.com/kantata/specification/section/errors,
names "oauth", "system" and "validation"; the rest are this simulator's choices):
- `validation` (422): a field is missing, malformed, or breaks a rule; `field` names it;
- `argument` (400): a query parameter or the JSON body itself is unusable;
- `oauth` (401): missing or invalid bearer token ("Invalid OAuth 2 Request");
- `not_found` (404): `/x/{id}.json` names no visible record;
- `conflict` (409): the record's state does not allow the action (approve twice, cancel a cancelled invoice);
- `rate_limit` (429): a kernel quota rejected the request (Kantata sends no limit headers);
- `system` (5xx): injected faults.
"""

from __future__ import annotations

import json

from starlette.responses import Response

from q2c_simulators.kernel import VendorError

_TYPES = {400: "argument", 401: "oauth", 403: "forbidden", 404: "not_found", 409: "conflict",
          422: "validation", 429: "rate_limit"}


def error_type_for(status: int) -> str:
    return _TYPES.get(status, "system")


def error_body(status: int, message: str, type_: str | None = None, field: str | None = None) -> bytes:
    err: dict = {"type": type_ or error_type_for(status), "message": message}
    if field is not None:
        err["field"] = field
    return json.dumps({"errors": [err]}, separators=(",", ":")).encode()


def error_response(status: int, message: str, type_: str | None = None, field: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, message, type_, field), status, headers=headers, media_type="application/json")


class PsaError(VendorError):
    """Raised by the models, the operations and the auth hook; the kernel answers Kantata's error body."""

    status = 400

    def __init__(self, message: str, field: str | None = None, *, status: int | None = None,
                 type_: str | None = None, errors: list[dict] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message
        self.field = field
        self.type = type_ or error_type_for(self.status)
        self.errors = errors  # several errors at once (bulk create)
        self.headers = headers

    def response(self) -> Response:
        if self.errors:
            body = json.dumps({"errors": self.errors}, separators=(",", ":")).encode()
            return Response(body, self.status, headers=self.headers, media_type="application/json")
        return error_response(self.status, self.message, self.type, self.field, self.headers)


class ArgumentError(PsaError):
    status = 400


class Unauthorized(PsaError):
    status = 401


class NotFound(PsaError):
    status = 404


class Conflict(PsaError):
    status = 409


class ValidationFailed(PsaError):
    status = 422
