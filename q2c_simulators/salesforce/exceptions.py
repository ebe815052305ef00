"""Salesforce errors as exceptions, each carrying the HTTP status, errorCode, message and fields Salesforce sends.

REST errors render as a list: `[{"message": ..., "errorCode": ..., "fields": [...]}]`. Composite collections and
sObject tree render the same error as `{"statusCode": ..., "message": ..., "fields": [...]}` (see `as_status`).
"""

from __future__ import annotations

from typing import Any


class SalesforceError(Exception):
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


def method_not_allowed(method: str, allowed: list[str]) -> SalesforceError:
    return SalesforceError(f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}",
                           "METHOD_NOT_ALLOWED", 405)
