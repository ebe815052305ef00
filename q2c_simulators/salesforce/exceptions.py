"""Salesforce errors as exceptions, each carrying the HTTP status, errorCode, message and fields Salesforce sends.

REST errors render as a list: `[{"message": ..., "errorCode": ..., "fields": [...]}]`. Composite collections and
sObject tree render the same error as `{"statusCode": ..., "message": ..., "fields": [...]}` (see `as_status`).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from q2c_simulators.kernel import VendorError
from q2c_simulators.kernel.http import json_bytes

# Salesforce labels JSON `application/json;charset=UTF-8` (headers_api_usage example).
JSON_MEDIA_TYPE = "application/json;charset=UTF-8"
DEFAULT_CODES = {
    400: "BAD_REQUEST", 401: "INVALID_SESSION_ID", 403: "REQUEST_LIMIT_EXCEEDED", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 415: "UNSUPPORTED_MEDIA_TYPE", 429: "REQUEST_LIMIT_EXCEEDED",
    500: "UNKNOWN_EXCEPTION", 502: "SERVER_UNAVAILABLE", 503: "SERVER_UNAVAILABLE", 504: "SERVER_UNAVAILABLE",
}
DEFAULT_MESSAGES = {
    401: "Session expired or invalid",
    403: "TotalRequests Limit exceeded.",
    404: "The requested resource does not exist",
    503: "Salesforce is down for maintenance. Please try again later.",
}


def json_error(content: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json_bytes(content), status, headers=headers or None, media_type=JSON_MEDIA_TYPE)


def error_list(status: int, code: str | None, message: str | None, headers: dict[str, str] | None = None,
               fields: list[str] | None = None) -> Response:
    """An error as the REST API sends it, with the default code and message of its status."""
    body: dict[str, Any] = {"message": message or DEFAULT_MESSAGES.get(status, "An unexpected error occurred."),
                            "errorCode": code or DEFAULT_CODES.get(status, "UNKNOWN_EXCEPTION")}
    if fields is not None:
        body["fields"] = fields
    return json_error([body], status, headers)


class SalesforceError(VendorError):
    status = 400
    code = "UNKNOWN_EXCEPTION"

    def __init__(self, message: str, code: str | None = None, status: int | None = None,
                 fields: list[str] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields = fields
        self.headers = headers or {}

    def as_error(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            body["fields"] = self.fields
        return body

    def as_status(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}

    def response(self) -> Response:
        return json_error([self.as_error()], self.status, self.headers)


class InvalidSession(SalesforceError):
    status = 401
    code = "INVALID_SESSION_ID"

    def __init__(self, message: str = "Session expired or invalid") -> None:
        super().__init__(message)


class NotFound(SalesforceError):
    status = 404
    code = "NOT_FOUND"

    def __init__(self, message: str = "The requested resource does not exist", code: str | None = None) -> None:
        super().__init__(message, code)


class EntityDeleted(SalesforceError):
    status = 404
    code = "ENTITY_IS_DELETED"

    def __init__(self) -> None:
        super().__init__("entity is deleted", fields=[])


class MalformedQuery(SalesforceError):
    code = "MALFORMED_QUERY"


class InvalidField(SalesforceError):
    code = "INVALID_FIELD"


class InvalidType(SalesforceError):
    status = 404
    code = "NOT_FOUND"


class RequiredFieldMissing(SalesforceError):
    code = "REQUIRED_FIELD_MISSING"

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"Required fields are missing: [{', '.join(names)}]", fields=names)


class DuplicateValue(SalesforceError):
    code = "DUPLICATE_VALUE"


class ValidationRuleFailed(SalesforceError):
    code = "FIELD_CUSTOM_VALIDATION_EXCEPTION"


class JsonParserError(SalesforceError):
    code = "JSON_PARSER_ERROR"


class MalformedId(SalesforceError):
    code = "MALFORMED_ID"


class RequestLimitExceeded(SalesforceError):
    status = 403
    code = "REQUEST_LIMIT_EXCEEDED"


class MultipleMatches(SalesforceError):
    """Upsert or get-by-external-id matched several records: 300 with the list of their URLs."""

    status = 300
    code = "MULTIPLE_CHOICES"

    def __init__(self, urls: list[str]) -> None:
        super().__init__("multiple records match")
        self.urls = urls

    def response(self) -> Response:
        return json_error(self.urls, 300)
