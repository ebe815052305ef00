"""NetSuite's REST errors: an RFC 7807-like body with `o:errorDetails` (help section_156570709583).

    {"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1", "title": "Bad Request",
     "status": 400, "o:errorDetails": [{"detail": "...", "o:errorCode": "INVALID_CONTENT", "o:errorPath": "item"}]}

Route code raises `NetSuiteError` (or a subclass); the simulator turns it into that body.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from q2c_simulators.kernel import VendorError

ERROR_MEDIA_TYPE = "application/vnd.oracle.resource+json; type=error"

# RFC 2616 section anchors NetSuite puts in `type`.
_SECTIONS = {400: "10.4.1", 401: "10.4.2", 403: "10.4.4", 404: "10.4.5", 405: "10.4.6", 406: "10.4.7",
             409: "10.4.10", 413: "10.4.14", 415: "10.4.16", 429: "10.4", 500: "10.5.1", 503: "10.5.4"}
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           406: "Not Acceptable", 409: "Conflict", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
_DEFAULT_CODES = {400: "INVALID_REQUEST", 401: "INVALID_LOGIN", 403: "INSUFFICIENT_PERMISSION",
                  404: "NONEXISTENT_ID", 405: "INVALID_REQUEST", 406: "INVALID_CONTENT_TYPE", 409: "CONFLICT",
                  413: "REQUEST_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 429: "CONCURRENCY_LIMIT_EXCEEDED",
                  500: "UNEXPECTED_ERROR", 503: "SERVICE_UNAVAILABLE"}

INVALID_LOGIN_DETAIL = ("Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
                        "Setup > Users/Roles > User Management > View Login Audit Trail.")


class NetSuiteError(VendorError):
    def __init__(self, status: int, code: str | None, detail: str, *, path: str | None = None,
                 url_path: str | None = None, query_param: str | None = None, header: str | None = None,
                 headers: dict[str, str] | None = None, titled: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.titled = titled  # the status whose type and title the body names, when NetSuite names another
        self.code = code or _DEFAULT_CODES.get(status, "UNEXPECTED_ERROR")
        self.detail = detail
        self.path = path
        self.url_path = url_path
        self.query_param = query_param
        self.header = header
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.code, self.detail, path=self.path, url_path=self.url_path,
                          query_param=self.query_param, header=self.header, titled=self.titled)

    def response(self) -> Response:
        return error_json(self.body(), self.status, self.headers)


def error_body(status: int, code: str | None, detail: str, *, path: str | None = None, url_path: str | None = None,
               query_param: str | None = None, header: str | None = None,
               titled: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"detail": detail, "o:errorCode": code or _DEFAULT_CODES.get(status, "UNEXPECTED_ERROR")}
    if path is not None:
        item["o:errorPath"] = path
    if url_path is not None:
        item["o:errorUrl"] = url_path
    if query_param is not None:
        item["o:errorQueryParam"] = query_param
    if header is not None:
        item["o:errorHeader"] = header
    named = titled or status
    section = _SECTIONS.get(named, "10.4" if named < 500 else "10.5")
    return {"type": f"https://www.w3.org/Protocols/rfc2616/rfc2616-sec{section.split('.')[0]}.html#sec{section}",
            "title": _TITLES.get(named, "Error"), "status": status, "o:errorDetails": [item]}


def error_json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers=headers, media_type=ERROR_MEDIA_TYPE)


def invalid_content(detail: str, path: str | None = None) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_CONTENT", detail, path=path)


def invalid_ref(value: Any, path: str, field: str | None = None) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_KEY_OR_REF",
                         f"Invalid Field Value {value} for the following field: {field or path.split('.')[-1]}",
                         path=path)


def user_error(detail: str, path: str | None = None) -> NetSuiteError:
    return NetSuiteError(400, "USER_ERROR", detail, path=path)


def missing_fields(labels: list[str], path: str) -> NetSuiteError:
    return NetSuiteError(400, "USER_ERROR", f"Please enter value(s) for: {', '.join(labels)}", path=path)


def invalid_parameter(detail: str, query_param: str | None = None) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_PARAMETER", detail, query_param=query_param)


def nonexistent(record_type: str, record_id: str) -> NetSuiteError:
    return NetSuiteError(404, "NONEXISTENT_ID",
                         f"The record instance does not exist. Provide a valid record instance ID. "
                         f"(record type {record_type}, id {record_id})")


def invalid_login(realm: str | None, reason: str = "token_rejected") -> NetSuiteError:
    return NetSuiteError(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL,
                         headers={"WWW-Authenticate": f'OAuth realm="{realm or ""}", error="{reason}"'})


def request_too_large() -> NetSuiteError:
    return NetSuiteError(413, "REQUEST_TOO_LARGE", "The request is larger than 104 MB.")


def error_schema() -> dict[str, Any]:
    """The error body as a JSON Schema (components.schemas.NetSuiteError of the OpenAPI document)."""
    body = error_body(400, "INVALID_CONTENT", "example", path="field")
    return {"type": "object", "required": ["type", "title", "status", "o:errorDetails"], "example": body,
            "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                           "o:errorDetails": {"type": "array", "items": {"type": "object", "required": [
                               "detail", "o:errorCode"], "properties": {
                               "detail": {"type": "string"}, "o:errorCode": {"type": "string"},
                               "o:errorPath": {"type": "string"}, "o:errorUrl": {"type": "string"},
                               "o:errorQueryParam": {"type": "string"}, "o:errorHeader": {"type": "string"}}}}}}
