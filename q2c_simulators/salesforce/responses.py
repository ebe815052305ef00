"""Wire format: Salesforce JSON error lists, sObject records with `attributes`, SOAP login envelopes, Bulk CSV."""

from __future__ import annotations

import csv
import io
from typing import Any
from xml.sax.saxutils import escape

from starlette.responses import JSONResponse, Response

from q2c_simulators.kernel.http import json_bytes

from .exceptions import MultipleMatches, SalesforceError
from .schema import SObjectType

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


class Json(JSONResponse):
    """Compact JSON, no validation: the hot paths return this directly. Salesforce labels JSON
    `application/json;charset=UTF-8` (headers_api_usage example)."""

    media_type = "application/json;charset=UTF-8"

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        if headers:  # an error's Retry-After and the like: Starlette's own header handling
            super().__init__(content, status_code, headers)
            return
        # what Starlette's __init__ sets, without its generic header merging (a hot GET builds one of these)
        self.status_code = status_code
        self.background = None
        self.body = body = json_bytes(content)
        self.raw_headers = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json;charset=UTF-8")]

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


def error_list(status: int, code: str | None, message: str | None, headers: dict[str, str] | None = None,
               fields: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"message": message or DEFAULT_MESSAGES.get(status, "An unexpected error occurred."),
                            "errorCode": code or DEFAULT_CODES.get(status, "UNKNOWN_EXCEPTION")}
    if fields is not None:
        body["fields"] = fields
    return Json([body], status, headers=headers)


def error_from(exc: SalesforceError) -> Response:
    if isinstance(exc, MultipleMatches):
        return Json(exc.urls, 300)
    return Json([exc.as_error()], exc.status, headers=exc.headers or None)


def record_body(obj: SObjectType, rec: dict[str, Any], version: str, fields: list[str] | None = None) -> dict:
    out: dict[str, Any] = {"attributes": {"type": obj.name, "url": f"/services/data/v{version}/sobjects/{obj.name}/{rec['Id']}"}}
    names = fields if fields is not None else obj.fields
    out.update(zip(names, map(rec.get, names)))  # the loop in C: a record has dozens of fields
    return out


def save_result(rid: str, created: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rid, "success": True, "errors": []}
    if created is not None:
        out["created"] = created
    return out


def soap_login_response(session_id: str, server_url: str, org_id: str, user: dict[str, Any], lifetime: int,
                        base: str) -> Response:
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result><metadataServerUrl>{escape(base)}/services/Soap/m/59.0/{org_id}</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox><serverUrl>{escape(server_url)}</serverUrl><sessionId>{escape(session_id)}</sessionId><userId>{user['Id']}</userId><userInfo><organizationId>{org_id}</organizationId><organizationName>{escape(org_id)}</organizationName><sessionSecondsValid>{lifetime}</sessionSecondsValid><userEmail>{escape(user.get('Email') or '')}</userEmail><userFullName>{escape(user.get('Name') or '')}</userFullName><userId>{user['Id']}</userId><userName>{escape(user['Username'])}</userName></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"""
    return Response(body, 200, media_type="text/xml; charset=utf-8")


def soap_fault(code: str, message: str, status: int = 500) -> Response:
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""
    return Response(body, status, media_type="text/xml; charset=utf-8")


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else ("true" if v is True else "false" if v is False else v) for v in row])
    return out.getvalue()
