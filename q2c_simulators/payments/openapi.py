"""The payments simulator's OpenAPI: each operation's parameters from its declaration in `params.OPERATIONS` (the
same declaration that validates requests), as a form body for POST and a query for GET and DELETE."""

from __future__ import annotations

from typing import Any

from .params import OPERATIONS

ERROR = {"$ref": "#/components/schemas/Error"}
SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["type", "message"],
        "properties": {"type": {"type": "string", "enum": ["api_error", "card_error", "idempotency_error",
                                                            "invalid_request_error"]},
                       "code": {"type": "string"}, "decline_code": {"type": "string"}, "message": {"type": "string"},
                       "param": {"type": "string"}, "doc_url": {"type": "string"},
                       "payment_intent": {"type": "object"}}}}},
    "List": {"type": "object", "required": ["object", "data", "has_more", "url"],
             "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": {"type": "object"}},
                            "has_more": {"type": "boolean"}, "url": {"type": "string"}}},
    "Object": {"type": "object", "required": ["id", "object"],
               "properties": {"id": {"type": "string"}, "object": {"type": "string"}}},
}
_ERRORS = {"400": "invalid_request_error or idempotency_error", "401": "No or invalid API key",
           "402": "card_error: the card was declined", "404": "resource_missing", "429": "rate_limit"}


def operation(method: str, name: str) -> dict[str, Any]:
    """The openapi_extra of one operation: its parameters or form body, and its answers."""
    spec = OPERATIONS[name]
    ok = "List" if name.startswith("list_") else "Object"
    out: dict[str, Any] = {"responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ok}"}}}},
        **{s: {"description": d, "content": {"application/json": {"schema": ERROR}}} for s, d in _ERRORS.items()}}}
    # An array is documented as `name[]` (explode: `name[]=a&name[]=b`), which is how Stripe takes an array; a hash
    # (metadata, address) as a deepObject (`metadata[k]=v`).
    named = {f"{k}[]" if p.kind == "list" else k: p for k, p in spec.items()}
    if method == "POST":
        required = [k for k, p in named.items() if p.required]
        # one `name[]=x` reads the same as a one-item array: either is valid
        schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {
            k: {"anyOf": [p.schema(), p.schema()["items"]]} if p.kind == "list" else p.schema()
            for k, p in named.items()}}
        if required:
            schema["required"] = required
        encoding = {k: {"style": "deepObject", "explode": True} if p.kind in ("metadata", "hash")
                    else {"style": "form", "explode": True} for k, p in named.items() if p.kind != "string"}
        out["requestBody"] = {"required": bool(required), "content": {"application/x-www-form-urlencoded": {
            "schema": schema, "encoding": encoding}}}
    else:
        out["parameters"] = [{"name": k, "in": "query", "required": p.required, "schema": p.schema(),
                              "style": "form", "explode": True} for k, p in named.items()]
    return out
