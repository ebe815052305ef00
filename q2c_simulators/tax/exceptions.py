"""AvaTax REST v2 errors: the `ErrorResult` envelope and the numbered error codes.

```json
{"error": {"code": "EntityNotFoundError", "message": "...", "target": "HttpRequest",
           "details": [{"code": "EntityNotFoundError", "number": 4, "message": "...", "description": "...",
                        "faultCode": "Client", "helpLink": "https://developer.avalara.com/avatax/errors/EntityNotFoundError",
                        "severity": "Error"}]}}
```
Sources: developer.avalara.com/avatax/errors/ (the envelope and the help links), the api-evangelist/avalara
`ErrorResult` schema, and the numbers from AvaTax-REST-V2-DotNet-SDK `src/enums/ErrorCodeId.cs`. The HTTP statuses
are AvaTax's: 400 for a request it refuses, 401 for credentials, 404 for a document it cannot find, 429 for limits.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from q2c_simulators.kernel import VendorError

from q2c_simulators.kernel.http import json_bytes

HELP = "https://developer.avalara.com/avatax/errors/"

# code -> (number, HTTP status, faultCode) [NET ErrorCodeId.cs]
CODES: dict[str, tuple[int, int, str]] = {
    "ServerConfiguration": (1, 500, "Server"),
    "EntityNotFoundError": (4, 404, "Client"),
    "ValueRequiredError": (5, 400, "Client"),
    "RangeError": (6, 400, "Client"),
    "StringLengthError": (13, 400, "Client"),
    "InvalidQueryField": (17, 400, "Client"),
    "InvalidQueryValue": (18, 400, "Client"),
    "DateFormatError": (26, 400, "Client"),
    "AuthenticationException": (30, 401, "Client"),
    "AuthenticationIncomplete": (34, 401, "Client"),
    "BasicAuthIncorrect": (35, 401, "Client"),
    "BearerTokenInvalid": (37, 401, "Client"),
    "AuthorizationException": (31, 403, "Client"),
    "ModelRequiredException": (38, 400, "Client"),
    "JsonFormatError": (47, 400, "Client"),
    "InvalidDecimalValue": (48, 400, "Client"),
    "UnhandledException": (50, 500, "Server"),
    "ModelStateInvalid": (70, 400, "Client"),
    "InvalidCountry": (125, 400, "Client"),
    "InvalidCountryRegion": (126, 400, "Client"),
    "JurisdictionNotFoundError": (130, 400, "Client"),
    "InvalidEnumValue": (164, 400, "Client"),
    "MalformedFilterException": (182, 400, "Client"),
    "TransactionAlreadyCancelled": (198, 400, "Client"),
    "GetTaxError": (300, 400, "Server"),  # faultCode Server: developer.avalara.com/avatax/errors/GetTaxError
    "DocumentCodeConflict": (303, 400, "Client"),
    "MissingAddress": (304, 400, "Client"),
    "InvalidParameterValue": (306, 400, "Client"),
    "InvalidAddress": (309, 400, "Client"),
    "AddressLocationNotFound": (310, 400, "Client"),
    "MissingLine": (311, 400, "Client"),
    "ServerUnreachable": (500, 503, "Server"),
    "CannotModifyLockedTransaction": (1100, 400, "Client"),
    "RequestLimitExceeded": (1715, 429, "Client"),
    "ConcurrentRequestLimitExceeded": (1716, 429, "Client"),
    "RateLimitExceededError": (1723, 429, "Client"),
}
# Codes whose detail AvaTax marks "severity": "Exception" (the Example on each one's developer.avalara.com/avatax/
# errors/ page); every other error is "Error".
EXCEPTIONS = frozenset({"AuthenticationException", "AuthenticationIncomplete", "BasicAuthIncorrect",
                        "BearerTokenInvalid", "ModelRequiredException"})

_BY_STATUS = {400: "ModelStateInvalid", 401: "AuthenticationException", 403: "AuthorizationException",
              404: "EntityNotFoundError", 429: "RequestLimitExceeded", 503: "ServerUnreachable"}


def code_for_status(status: int) -> str:
    return _BY_STATUS.get(status, "UnhandledException" if status >= 500 else "ModelStateInvalid")


def error_body(code: str, message: str, *, target: str = "HttpRequest",
               description: str | None = None) -> dict[str, Any]:
    number, _, fault = CODES.get(code, (50, 500, "Server"))
    detail = {"code": code, "number": number, "message": message, "description": description or message,
              "faultCode": fault, "helpLink": HELP + code, "severity": "Exception" if code in EXCEPTIONS else "Error"}
    return {"error": {"code": code, "message": message, "target": target, "details": [detail]}}


def error_response(status: int, code: str, message: str, *, target: str = "HttpRequest",
                   description: str | None = None, headers: dict[str, str] | None = None) -> Response:
    body = json_bytes(error_body(code, message, target=target, description=description))
    return Response(body, status, headers=headers, media_type="application/json")


class AvaTaxError(VendorError):
    """Raised by the models, the operations and the auth hook; `response()` is AvaTax's error for it."""

    def __init__(self, code: str, message: str, *, status: int | None = None, target: str = "HttpRequest",
                 description: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else CODES.get(code, (50, 500, "Server"))[1]
        self.target = target
        self.description = description

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message, target=self.target, description=self.description)


def model_invalid(field: str, message: str) -> AvaTaxError:
    """A field of the request model is missing or malformed (AvaTax names the field in the message)."""
    return AvaTaxError("ModelStateInvalid", f"{field}: {message}", target="IncorrectData",
                       description=f"The field `{field}` is invalid: {message}")


def not_found(what: str) -> AvaTaxError:
    return AvaTaxError("EntityNotFoundError", f"{what} not found.", target="HttpRequest",
                       description=f"The {what} could not be found.")
