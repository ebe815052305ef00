"""Stripe's request parameters: form bodies and queries as Stripe takes them, checked against one declaration per
operation, which is also what the OpenAPI document says.

Encoding (stripe-python `_encode.py`, verified): `metadata[k]=v`, arrays indexed `expand[0]=x` (or `expand[]=x`; a
plain `expand=x` is "Invalid array"), booleans `true`/`false`, GET parameters in the query. An empty string unsets an
optional parameter. An unknown parameter is refused (`parameter_unknown`), as Stripe refuses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .exceptions import invalid, missing, unknown_parameter

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


# ---- parsing ------------------------------------------------------------------------------------------------------
def parse_form(raw: bytes | str) -> dict[str, Any]:
    """`a[b][0]=x&a[c]=y&l[]=p` -> {"a": {"b": {"0": "x"}, "c": "y"}, "l": {"": ["p"]}}: `Param` decides lists."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        m = _KEY.match(key)
        if m is None:
            raise invalid(f"Invalid parameter name: {key}", key)
        parts = [m.group(1), *re.findall(r"\[([^\[\]]*)\]", m.group(2))]
        node: dict[str, Any] = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":  # `a[]=x` appends to the list under the key ""
                bucket = node.setdefault("", [])
                if not last or not isinstance(bucket, list):
                    raise invalid(f"Invalid array: {parts[0]}", parts[0])
                bucket.append(value)
            elif last:
                if part in node:
                    raise invalid(f"Invalid hash: {parts[0]} (the parameter {key} is given twice)", parts[0])
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise invalid(f"Invalid hash: {parts[0]}", parts[0])
                node = child
    return root


# ---- declarations -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    kind: str  # string, integer, boolean, enum, metadata, list, hash
    required: bool = False
    max_length: int = 5000
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    item: Param | None = None  # a list's items
    max_items: int = 100
    fields: dict[str, Param] = field(default_factory=dict)  # a hash's fields
    pattern: str | None = None
    description: str = ""

    def read(self, name: str, value: Any) -> Any:
        if self.kind == "metadata":
            return _metadata(name, value)
        if self.kind == "list":
            return self._list(name, value)
        if self.kind == "hash":
            if not isinstance(value, dict):
                raise invalid(f"Invalid hash: {name}", name)
            return read_params(self.fields, value, prefix=name)
        if not isinstance(value, str):
            raise invalid(f"Invalid {'array' if isinstance(value, list) else 'string'}: {name}", name)
        if self.kind == "integer":
            if not re.fullmatch(r"-?\d{1,18}", value):
                raise invalid(f"Invalid integer: {value[:40]}", name, "parameter_invalid_integer")
            number = int(value)
            if self.minimum is not None and number < self.minimum:
                raise invalid(f"This value must be greater than or equal to {self.minimum}.", name)
            if self.maximum is not None and number > self.maximum:
                raise invalid(f"This value must be less than or equal to {self.maximum}.", name)
            return number
        if self.kind == "boolean":
            if value not in ("true", "false"):
                raise invalid(f"Invalid boolean: {value[:40]}", name)
            return value == "true"
        if self.kind == "enum":
            if value not in self.choices:
                raise invalid(f"Invalid {name}: must be one of {', '.join(self.choices)}", name)
            return value
        if len(value) > self.max_length:
            raise invalid(f"Invalid string: {value[:20]}...; must be at most {self.max_length} characters", name)
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise invalid(f"Invalid {name}: {value[:40]}", name)
        return value

    def _list(self, name: str, value: Any) -> list[Any]:
        if not isinstance(value, dict):  # `name=x`: Stripe wants `name[0]=x` or `name[]=x`
            raise invalid(f"Invalid array: {name}", name)
        if set(value) == {""}:
            value = value[""]
        elif value and all(k.isdigit() for k in value):
            value = [value[k] for k in sorted(value, key=int)]
        else:
            raise invalid(f"Invalid array: {name}", name)
        if len(value) > self.max_items:
            raise invalid(f"Invalid array: {name} must have at most {self.max_items} items", name)
        item = self.item or Param("string")
        return [item.read(f"{name}[{i}]", v) for i, v in enumerate(value)]

    def schema(self) -> dict[str, Any]:
        if self.kind == "metadata":
            return {"type": "object", "maxProperties": 50, "propertyNames": {"pattern": r"^[^\[\]]{1,40}$"},
                    "additionalProperties": {"type": "string", "maxLength": 500}}
        if self.kind == "list":
            return {"type": "array", "maxItems": self.max_items, "items": (self.item or Param("string")).schema()}
        if self.kind == "hash":
            return {"type": "object", "additionalProperties": False,
                    "properties": {k: p.schema() for k, p in self.fields.items()}}
        if self.kind == "integer":
            out: dict[str, Any] = {"type": "integer"}
            if self.minimum is not None:
                out["minimum"] = self.minimum
            out["maximum"] = self.maximum if self.maximum is not None else 10**18 - 1
            out.setdefault("minimum", -(10**18) + 1)
            return out
        if self.kind == "boolean":
            return {"type": "boolean"}
        if self.kind == "enum":
            return {"type": "string", "enum": list(self.choices)}
        out = {"type": "string", "maxLength": self.max_length}  # "" unsets an optional parameter
        if self.pattern:
            out["pattern"] = self.pattern
        return out


Spec = dict[str, Param]


def read_params(spec: Spec, raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The declared parameters, typed; empty strings dropped (they unset), unknown ones refused."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}[{key}]" if prefix else key
        param = spec.get(key)
        if param is None:
            raise unknown_parameter(name)
        if value == "" and param.kind != "metadata":
            if param.required:
                raise invalid(f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
                              f"unset a parameter; however '{name}' cannot be unset.", name, "parameter_invalid_empty")
            continue
        out[key] = param.read(name, value)
    for key, param in spec.items():
        if param.required and key not in out:
            raise missing(f"{prefix}[{key}]" if prefix else key)
    return out


# ---- the parameters of each operation -----------------------------------------------------------------------------
S = Param("string")
ID = Param("string", max_length=255)
EMAIL = Param("string", max_length=512)
META = Param("metadata")
EXPAND = Param("list", item=Param("string", max_length=200), max_items=20)
BOOL = Param("boolean")
LISTING: Spec = {"limit": Param("integer", minimum=1, maximum=100), "starting_after": ID, "ending_before": ID,
                 "expand": EXPAND}
ADDRESS = Param("hash", fields={k: Param("string", max_length=200) for k in
                                ("line1", "line2", "city", "state", "postal_code", "country")})
CURRENCY = Param("string", required=True, pattern=r"[a-z]{3}", max_length=3)
CAPTURE = Param("enum", choices=("automatic", "automatic_async", "manual"))
AMOUNT = Param("integer", required=True, minimum=1, maximum=99_999_999)

CUSTOMER_FIELDS: Spec = {"address": ADDRESS, "description": S, "email": EMAIL, "name": Param("string", max_length=256),
                         "phone": Param("string", max_length=20), "metadata": META, "expand": EXPAND,
                         "invoice_settings": Param("hash", fields={"default_payment_method": ID})}
OPERATIONS: dict[str, Spec] = {
    "create_customer": {**CUSTOMER_FIELDS, "payment_method": ID},
    "retrieve_customer": {"expand": EXPAND},
    "update_customer": CUSTOMER_FIELDS,
    "delete_customer": {},
    "list_customers": {**LISTING, "email": EMAIL},
    "list_customer_payment_methods": {**LISTING, "type": Param("enum", choices=("card",))},
    "retrieve_payment_method": {"expand": EXPAND},
    "list_payment_methods": {**LISTING, "customer": ID, "type": Param("enum", choices=("card",))},
    "attach_payment_method": {"customer": Param("string", required=True, max_length=255), "expand": EXPAND},
    "detach_payment_method": {"expand": EXPAND},
    "create_payment_intent": {
        "amount": AMOUNT, "currency": CURRENCY, "customer": ID, "payment_method": ID, "capture_method": CAPTURE,
        "confirm": BOOL, "off_session": BOOL, "description": Param("string", max_length=1000), "metadata": META,
        "payment_method_types": Param("list", item=Param("enum", choices=("card",)), max_items=1),
        "automatic_payment_methods": Param("hash", fields={
            "enabled": Param("boolean", required=True),
            "allow_redirects": Param("enum", choices=("always", "never"))}),
        "receipt_email": EMAIL, "return_url": Param("string", max_length=2000),
        "setup_future_usage": Param("enum", choices=("off_session", "on_session")), "expand": EXPAND},
    "retrieve_payment_intent": {"expand": EXPAND, "client_secret": ID},
    "update_payment_intent": {
        "amount": Param("integer", minimum=1, maximum=99_999_999), "currency": Param("string", pattern=r"[a-z]{3}",
                                                                                    max_length=3),
        "customer": ID, "payment_method": ID, "capture_method": CAPTURE, "description": Param("string", max_length=1000),
        "metadata": META, "receipt_email": EMAIL,
        "setup_future_usage": Param("enum", choices=("off_session", "on_session")), "expand": EXPAND},
    "confirm_payment_intent": {"payment_method": ID, "off_session": BOOL, "return_url": Param("string", max_length=2000),
                               "receipt_email": EMAIL, "expand": EXPAND},
    "capture_payment_intent": {"amount_to_capture": Param("integer", minimum=1, maximum=99_999_999), "metadata": META,
                               "expand": EXPAND},
    "cancel_payment_intent": {"cancellation_reason": Param("enum", choices=(
        "duplicate", "fraudulent", "requested_by_customer", "abandoned")), "expand": EXPAND},
    "list_payment_intents": {**LISTING, "customer": ID},
    "retrieve_charge": {"expand": EXPAND},
    "list_charges": {**LISTING, "customer": ID, "payment_intent": ID},
    "create_refund": {"charge": ID, "payment_intent": ID, "amount": Param("integer", minimum=1, maximum=99_999_999),
                      "reason": Param("enum", choices=("duplicate", "fraudulent", "requested_by_customer")),
                      "metadata": META, "expand": EXPAND},
    "retrieve_refund": {"expand": EXPAND},
    "update_refund": {"metadata": META, "expand": EXPAND},
    "list_refunds": {**LISTING, "charge": ID, "payment_intent": ID},
    "retrieve_event": {"expand": EXPAND},
    "list_events": {**LISTING, "type": Param("string", max_length=200),
                    "types": Param("list", item=Param("string", max_length=200), max_items=20)},
    "create_webhook_endpoint": {
        "url": Param("string", required=True, max_length=5000, pattern=r"https?://[^\s]+"),
        "enabled_events": Param("list", required=True, item=Param("string", max_length=200), max_items=256),
        "description": Param("string", max_length=5000), "metadata": META,
        "api_version": Param("string", max_length=50), "expand": EXPAND},
    "retrieve_webhook_endpoint": {"expand": EXPAND},
    "update_webhook_endpoint": {
        "url": Param("string", max_length=5000, pattern=r"https?://[^\s]+"),
        "enabled_events": Param("list", item=Param("string", max_length=200), max_items=256),
        "description": Param("string", max_length=5000), "disabled": BOOL, "metadata": META, "expand": EXPAND},
    "delete_webhook_endpoint": {},
    "list_webhook_endpoints": LISTING,
}


def _metadata(name: str, value: Any) -> dict[str, str] | str:
    if value == "":
        return ""  # clears every key
    if not isinstance(value, dict):
        raise invalid(f"Invalid hash: {name}", name)
    if len(value) > 50:
        raise invalid("Metadata can have at most 50 keys.", name)
    for key, item in value.items():
        if not isinstance(item, str):
            raise invalid(f"Invalid string: {name}[{key}]", f"{name}[{key}]")
        if not key or len(key) > 40 or len(item) > 500:
            raise invalid("Metadata keys are at most 40 characters and values at most 500.", f"{name}[{key}]")
    return dict(value)
