"""OpenAPI pieces of the tax simulator: request schemas that say exactly what `models.py` accepts, and the
per-operation documentation `responses.py` attaches (parameters, bodies, statuses).

Names and shapes follow AvaTax's models (AvaTax-REST-V2-DotNet-SDK `models/CreateTransactionModel.cs`,
`AddressLocationInfo.cs`, `LineItemModel.cs`, `VoidTransactionModel.cs`, `AdjustTransactionModel.cs`); the limits
are the simulator's.
"""

from __future__ import annotations

from typing import Any

from .models import ADJUSTMENT_REASONS, DATE_PATTERN, DOCUMENT_TYPES, MAX_LINES, VOID_REASONS

ERROR = {"$ref": "#/components/schemas/ErrorResult"}


def _str(max_length: int, **extra: Any) -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": max_length, **extra}


_AMOUNT = {"type": "number", "exclusiveMinimum": -1e13, "exclusiveMaximum": 1e13}
_ADDRESS = {
    "type": ["object", "null"],
    "properties": {"line1": _str(100), "city": _str(50), "region": _str(50),
                   "country": {"type": ["string", "null"], "pattern": "^[A-Za-z]{2}$"}, "postalCode": _str(11)},
}
_ADDRESSES = {"type": ["object", "null"], "additionalProperties": False,
              "properties": {k: _ADDRESS for k in ("singleLocation", "shipFrom", "shipTo", "pointOfOrderOrigin",
                                                   "pointOfOrderAcceptance")}}
_LINE = {
    "type": "object", "required": ["amount"],
    "properties": {
        "number": _str(50), "quantity": {**_AMOUNT, "type": ["number", "null"]}, "amount": _AMOUNT,
        "taxCode": _str(25), "itemCode": _str(50), "description": _str(2096), "exemptionCode": _str(25),
        "taxIncluded": {"type": ["boolean", "null"]}, "addresses": _ADDRESSES,
    },
}
CREATE_TRANSACTION = {
    "type": "object", "required": ["date", "customerCode", "lines"],
    "properties": {
        "type": {"type": ["string", "null"], "enum": [*DOCUMENT_TYPES, None]},
        "code": _str(50), "companyCode": _str(25), "date": {"type": "string", "pattern": DATE_PATTERN},
        "customerCode": {"type": "string", "minLength": 1, "maxLength": 50}, "currencyCode": _str(3),
        "businessIdentificationNo": _str(25), "exemptionNo": _str(25), "commit": {"type": ["boolean", "null"]},
        "description": _str(2048), "purchaseOrderNo": _str(50), "addresses": _ADDRESSES,
        "lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": _LINE},
    },
}
COMMIT = {"type": "object", "required": ["commit"], "properties": {"commit": {"type": "boolean"}}}
VOID = {"type": "object", "required": ["code"], "properties": {"code": {"type": "string", "enum": list(VOID_REASONS)}}}
ADJUST = {"type": "object", "required": ["adjustmentReason", "newTransaction"],
          "properties": {"adjustmentReason": {"type": "string", "enum": list(ADJUSTMENT_REASONS)},
                         "adjustmentDescription": _str(255), "newTransaction": CREATE_TRANSACTION}}
ADDRESS_INFO = {"type": "object", "properties": _ADDRESS["properties"]}

SCHEMAS: dict[str, Any] = {
    "ErrorResult": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "target": {"type": "string"},
                       "details": {"type": "array", "items": {"type": "object", "properties": {
                           "code": {"type": "string"}, "number": {"type": "integer"}, "message": {"type": "string"},
                           "description": {"type": "string"}, "faultCode": {"type": "string"},
                           "helpLink": {"type": "string"},
                           "severity": {"type": "string", "enum": ["Error", "Warning", "Exception"]}}}}}}}},
    "TransactionModel": {"type": "object", "required": ["id", "code", "status", "type", "totalTax"],
                         "properties": {"id": {"type": "integer"}, "code": {"type": "string"},
                                        "status": {"type": "string"}, "type": {"type": "string"},
                                        "totalAmount": {"type": "number"}, "totalTax": {"type": "number"},
                                        "lines": {"type": "array"}, "summary": {"type": "array"},
                                        "addresses": {"type": "array"}}},
    "FetchResult": {"type": "object", "required": ["@recordsetCount", "value"],
                    "properties": {"@recordsetCount": {"type": "integer"}, "value": {"type": "array"},
                                   "@nextLink": {"type": "string"}}},
    "CreateTransactionModel": CREATE_TRANSACTION,
}


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


INCLUDE = query("$include", {"type": "string", "maxLength": 200},
                "Comma list: Lines, Details, Summary, Addresses, SummaryOnly, LinesOnly")
DOCUMENT_TYPE = query("documentType", {"type": "string", "enum": list(DOCUMENT_TYPES)})
LISTING = [query("$filter", {"type": "string", "maxLength": 500}, "`field eq 'value'` joined by `and`"),
           query("$top", {"type": "integer", "minimum": 0, "maximum": 1000}),
           query("$skip", {"type": "integer", "minimum": 0, "maximum": 2**31})]
ADDRESS_QUERY = [query(k, _str(n)) for k, n in
                 (("line1", 100), ("city", 50), ("region", 50), ("postalCode", 11), ("country", 50))]


def body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def ok(description: str, schema: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return {str(status): {"description": description, "content": {"application/json": {"schema": schema}}}}


def errors(*statuses: int) -> dict[str, Any]:
    names = {400: "Bad request (AvaTax error code in the body)", 401: "AuthenticationException",
             404: "EntityNotFoundError", 429: "RequestLimitExceeded"}
    return {str(s): {"description": names[s], "content": {"application/json": {"schema": ERROR}}} for s in statuses}
