"""Record types the simulator serves: fields, references, sublists and their metadata (JSON Schema, OpenAPI).

A record type is a REST record id (`customer`, `salesOrder`, ...) with typed body fields. Field kinds:
string, integer, number (money and quantities, kept as Decimal), boolean, date (YYYY-MM-DD), datetime,
ref (a select field naming another record: `{"id": "5"}` in, `{"id": "5", "refName": ..., "links": [...]}` out)
and enum (a select field over fixed ids, `{"id": "TM", "refName": "Time and Materials"}`).
Read-only fields are computed by the models (totals, status, amount remaining) and refused on write.

Release differences (see releases.py) are applied by `record_types(release)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from .releases import DEFAULT_RELEASE, RELEASES


@dataclass(frozen=True)
class Field:
    kind: str  # string | integer | number | boolean | date | datetime | ref | enum
    label: str
    target: str | None = None  # ref: the record type referenced
    choices: dict[str, str] | None = None  # enum: id -> refName
    required: bool = False
    readonly: bool = False
    max_length: int | None = None
    minimum: float | None = None


@dataclass(frozen=True)
class Sublist:
    name: str
    label: str
    fields: dict[str, Field]
    required: tuple[str, ...] = ()
    max_lines: int | None = None


@dataclass(frozen=True)
class RecordType:
    name: str  # REST record id, e.g. salesOrder
    label: str
    fields: dict[str, Field]
    sublists: dict[str, Sublist] = field(default_factory=dict)
    name_field: str | None = None  # what refName shows
    transaction: str | None = None  # SuiteQL transaction type code (CustInvc, SalesOrd, ...)

    @property
    def table(self) -> str:
        return self.name.lower()


def s(label: str, **kw: Any) -> Field:
    return Field("string", label, max_length=kw.pop("max_length", 400), **kw)


def num(label: str, **kw: Any) -> Field:
    return Field("number", label, **kw)


def ref(label: str, target: str, **kw: Any) -> Field:
    return Field("ref", label, target=target, **kw)


def enum(label: str, choices: dict[str, str], **kw: Any) -> Field:
    return Field("enum", label, choices=choices, **kw)


def boolean(label: str, **kw: Any) -> Field:
    return Field("boolean", label, **kw)


def date(label: str, **kw: Any) -> Field:
    return Field("date", label, **kw)


APPROVAL = {"1": "Pending Approval", "2": "Approved", "3": "Rejected"}
BILLING_TYPES = {"FBM": "Fixed Bid, Milestone", "FBI": "Fixed Bid, Interval", "TM": "Time and Materials",
                 "CB": "Charge-Based"}
TERMS = {"1": "Net 15", "2": "Net 30", "3": "Net 60", "4": "Due on receipt"}
TERMS_DAYS = {"1": 15, "2": 30, "3": 60, "4": 0}

_ITEM_LINE = {
    "item": ref("Item", "serviceSaleItem", required=True),
    "description": s("Description", max_length=4000),
    "quantity": num("Quantity", minimum=0),
    "rate": num("Rate"),
    "amount": num("Amount", readonly=True),
    "job": ref("Project", "job"),
}
_APPLY_LINE = {
    "doc": ref("Invoice", "invoice", required=True),
    "amount": num("Payment", required=True, minimum=0),
}
_COMMON_TRANSACTION = {
    "tranId": s("Document Number", readonly=True),
    "tranDate": date("Date"),
    "subsidiary": ref("Subsidiary", "subsidiary"),
    "currency": ref("Currency", "currency"),
    "exchangeRate": num("Exchange Rate", minimum=0),
    "memo": s("Memo", max_length=4000),
}


def _base_types() -> dict[str, RecordType]:
    types = [
        RecordType("subsidiary", "Subsidiary", {
            "name": s("Name", required=True, max_length=83),
            "parent": ref("Subsidiary", "subsidiary"),
            "currency": ref("Currency", "currency", required=True),
            "country": s("Country", max_length=2),
            "isInactive": boolean("Inactive"),
        }, name_field="name"),
        RecordType("currency", "Currency", {
            "name": s("Name", required=True, max_length=3),
            "symbol": s("ISO Code", required=True, max_length=3),
            "displaySymbol": s("Display Symbol", max_length=5),
            "isBaseCurrency": boolean("Is Base Currency"),
            "exchangeRate": num("Default Exchange Rate", minimum=0),
            "isInactive": boolean("Inactive"),
        }, name_field="name"),
        RecordType("currencyRate", "Currency Exchange Rate", {
            "baseCurrency": ref("Base Currency", "currency", required=True),
            "transactionCurrency": ref("Source Currency", "currency", required=True),
            "exchangeRate": num("Exchange Rate", required=True, minimum=0),
            "effectiveDate": date("Effective Date", required=True),
        }),
        # Tax Code (REST record id salesTaxItem, article_0814121722: name, description, taxType; SuiteTax). The
        # rate is kept as one percentage on the code, a simplification of SuiteTax's tax types and rates.
        RecordType("salesTaxItem", "Tax Code", {
            "name": s("Tax Name", required=True, max_length=200),
            "description": s("Description", max_length=4000),
            "rate": num("Rate (%)", minimum=0),
            "taxType": s("Tax Type", max_length=40),
            "isInactive": boolean("Inactive"),
        }, name_field="name"),
        RecordType("customer", "Customer", {
            "entityId": s("Customer ID", readonly=True),
            "companyName": s("Company Name", required=True, max_length=83),
            "email": s("Email", max_length=254),
            "phone": s("Phone", max_length=32),
            "subsidiary": ref("Primary Subsidiary", "subsidiary", required=True),
            "currency": ref("Currency", "currency"),
            "terms": enum("Terms", TERMS),
            "taxable": boolean("Taxable"),
            "taxRate": num("Tax Rate (%)", minimum=0),
            "isInactive": boolean("Inactive"),
        }, name_field="companyName"),
        RecordType("contact", "Contact", {
            "firstName": s("First Name", max_length=32),
            "lastName": s("Last Name", required=True, max_length=32),
            "email": s("Email", max_length=254),
            "company": ref("Company", "customer"),
            "subsidiary": ref("Subsidiary", "subsidiary"),
        }, name_field="lastName"),
        RecordType("job", "Project", {
            "entityId": s("Project ID", readonly=True),
            "companyName": s("Project Name", required=True, max_length=83),
            "customer": ref("Customer", "customer", required=True),
            "subsidiary": ref("Subsidiary", "subsidiary"),
            "currency": ref("Currency", "currency"),
            "jobBillingType": enum("Billing Type", BILLING_TYPES),
            "billingSchedule": ref("Billing Schedule", "billingSchedule"),
            "startDate": date("Start Date"),
            "projectedEndDate": date("Projected End Date"),
            "entityStatus": enum("Status", {"1": "Not Started", "2": "In Progress", "3": "Closed"}),
        }, name_field="companyName"),
        RecordType("projectTask", "Project Task", {
            "title": s("Name", required=True, max_length=256),
            "project": ref("Project", "job", required=True),
            "plannedWork": num("Planned Work (hours)", minimum=0),
            "status": enum("Status", {"NOTSTART": "Not Started", "PROGRESS": "In Progress", "COMPLETE": "Completed"}),
            "startDate": date("Start Date"),
            "endDate": date("End Date"),
        }, name_field="title"),
        RecordType("serviceSaleItem", "Service Item for Sale", {
            "itemId": s("Item Name/Number", required=True, max_length=250),
            "displayName": s("Display Name", max_length=250),
            "description": s("Sales Description", max_length=4000),
            "rate": num("Base Price"),
            "subsidiary": ref("Subsidiary", "subsidiary"),
            "isInactive": boolean("Inactive"),
        }, name_field="itemId"),
        RecordType("employee", "Employee", {
            "entityId": s("Employee ID", readonly=True),
            "firstName": s("First Name", required=True, max_length=32),
            "lastName": s("Last Name", required=True, max_length=32),
            "email": s("Email", max_length=254),
            "subsidiary": ref("Subsidiary", "subsidiary", required=True),
            "role": enum("Role", {"3": "Administrator", "1015": "Consultant", "1016": "Project Manager",
                                  "1017": "Billing Clerk"}),
            "department": s("Department", max_length=100),
            "location": s("Location", max_length=100),
            "title": s("Job Title", max_length=100),
            "laborCost": num("Labor Cost", minimum=0),
            "isInactive": boolean("Inactive"),
        }, name_field="entityId"),
        RecordType("timeBill", "Time Entry", {
            "employee": ref("Employee", "employee", required=True),
            "customer": ref("Customer:Project", "job", required=True),
            "caseTaskEvent": ref("Project Task", "projectTask"),
            "item": ref("Service Item", "serviceSaleItem"),
            "tranDate": date("Date", required=True),
            "hours": num("Duration (hours)", required=True, minimum=0),
            "rate": num("Rate"),
            "isBillable": boolean("Billable"),
            "approvalStatus": enum("Approval Status", APPROVAL),
            "memo": s("Note", max_length=4000),
        }),
        RecordType("expenseReport", "Expense Report", {
            "tranId": s("Expense Report #", readonly=True),
            "employee": ref("Employee", "employee", required=True),
            "tranDate": date("Date", required=True),
            "customer": ref("Customer:Project", "job"),
            "approvalStatus": enum("Approval Status", APPROVAL),
            "total": num("Total", readonly=True),
            "memo": s("Purpose", max_length=4000),
        }, sublists={"expense": Sublist("expense", "Expenses", {
            "category": s("Category", required=True, max_length=100),
            "amount": num("Amount", required=True),
            "isBillable": boolean("Billable"),
            "customer": ref("Customer:Project", "job"),
            "memo": s("Memo", max_length=4000),
        })}, name_field="tranId", transaction="ExpRept"),
        RecordType("salesOrder", "Sales Order", {
            **_COMMON_TRANSACTION,
            "entity": ref("Customer", "customer", required=True),
            "job": ref("Project", "job"),
            "status": s("Status", readonly=True),
            "subtotal": num("Subtotal", readonly=True),
            "total": num("Total", readonly=True),
        }, sublists={"item": Sublist("item", "Items", _ITEM_LINE)}, name_field="tranId", transaction="SalesOrd"),
        RecordType("invoice", "Invoice", {
            **_COMMON_TRANSACTION,
            "entity": ref("Customer", "customer", required=True),
            "job": ref("Project", "job"),
            "createdFrom": ref("Created From", "salesOrder"),
            "dueDate": date("Due Date"),
            "terms": enum("Terms", TERMS),
            "taxRate": num("Tax Rate (%)", minimum=0),
            "status": s("Status", readonly=True),
            "subtotal": num("Subtotal", readonly=True),
            "taxTotal": num("Tax", readonly=True),
            "total": num("Total", readonly=True),
            "amountPaid": num("Amount Paid", readonly=True),
            "amountRemaining": num("Amount Remaining", readonly=True),
        }, sublists={"item": Sublist("item", "Items", _ITEM_LINE)}, name_field="tranId", transaction="CustInvc"),
        # Credit Memo (REST record id creditMemo, docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/
        # article_164460021767.html): createdFrom names the invoice it credits, the apply sublist applies it. The
        # tax is one header rate, as on the invoice here (the same simplification of SuiteTax), so a credit memo
        # can reverse an invoice's tax too.
        RecordType("creditMemo", "Credit Memo", {
            **_COMMON_TRANSACTION,
            "entity": ref("Customer", "customer", required=True),
            "createdFrom": ref("Created From", "invoice"),
            "taxRate": num("Tax Rate (%)", minimum=0),
            "status": s("Status", readonly=True),
            "subtotal": num("Subtotal", readonly=True),
            "taxTotal": num("Tax", readonly=True),
            "total": num("Total", readonly=True),
            "applied": num("Applied", readonly=True),
            "unapplied": num("Unapplied", readonly=True),
        }, sublists={"item": Sublist("item", "Items", _ITEM_LINE),
                     "apply": Sublist("apply", "Apply", _APPLY_LINE, max_lines=1)},
            name_field="tranId", transaction="CustCred"),
        RecordType("customerPayment", "Customer Payment", {
            **_COMMON_TRANSACTION,
            "customer": ref("Customer", "customer", required=True),
            "payment": num("Payment Amount", required=True, minimum=0),
            "applied": num("Applied", readonly=True),
            "unapplied": num("Unapplied", readonly=True),
            "status": s("Status", readonly=True),
        }, sublists={"apply": Sublist("apply", "Apply", _APPLY_LINE)}, name_field="tranId", transaction="CustPymt"),
        RecordType("billingSchedule", "Billing Schedule", {
            "name": s("Name", required=True, max_length=100),
            "scheduleType": enum("Type", {"FBM": "Fixed Bid Milestone", "STDRD": "Standard"}),
            "project": ref("Project", "job"),
            "isInactive": boolean("Inactive"),
        }, sublists={"milestone": Sublist("milestone", "Milestones", {
            "projectTask": ref("Milestone (project task)", "projectTask"),
            "milestoneDate": date("Date"),
            "milestoneAmount": num("Amount", minimum=0),
            "milestonePercent": num("Percent", minimum=0),
            "milestoneCompleted": boolean("Completed"),
            "comments": s("Comments", max_length=999),
        })}, name_field="name"),
    ]
    return {t.name: t for t in types}


def _apply_release(types: dict[str, RecordType], release: str) -> dict[str, RecordType]:
    """2026.2: customer.externalId is required on create; invoice.amountRemaining is renamed amountDue."""
    if release == "2026.1":
        return types
    out = dict(types)
    cust = types["customer"]
    out["customer"] = replace(cust, fields={**cust.fields, "externalId": s("External ID", required=True)})
    inv = types["invoice"]
    fields = {("amountDue" if k == "amountRemaining" else k): (replace(v, label="Amount Due") if k == "amountRemaining" else v)
              for k, v in inv.fields.items()}
    out["invoice"] = replace(inv, fields=fields)
    return out


@lru_cache(maxsize=None)
def record_types(release: str = DEFAULT_RELEASE) -> dict[str, RecordType]:
    if release not in RELEASES:
        release = DEFAULT_RELEASE
    return _apply_release(_base_types(), release)


@lru_cache(maxsize=None)
def _by_lower(release: str) -> dict[str, RecordType]:
    return {name.lower(): t for name, t in record_types(release).items()}


def lookup(name: str, release: str = DEFAULT_RELEASE) -> RecordType | None:
    """Record type ids are case-insensitive on the REST record service (so Oracle's `BillingSchedule` works too)."""
    return _by_lower(release).get(name.lower())


# ---- metadata: JSON Schema and OpenAPI ------------------------------------------------------------------------
_LINK = {"type": "object", "properties": {"rel": {"type": "string"}, "href": {"type": "string", "format": "uri"}}}


def _field_schema(f: Field) -> dict[str, Any]:
    if f.kind == "string":
        out: dict[str, Any] = {"type": "string", "title": f.label}
        if f.max_length:
            out["maxLength"] = f.max_length
    elif f.kind == "integer":
        out = {"type": "integer", "title": f.label}
    elif f.kind == "number":
        out = {"type": "number", "title": f.label, "format": "double"}
    elif f.kind == "boolean":
        out = {"type": "boolean", "title": f.label}
    elif f.kind == "date":
        out = {"type": "string", "format": "date", "title": f.label}
    elif f.kind == "datetime":
        out = {"type": "string", "format": "date-time", "title": f.label}
    else:
        props: dict[str, Any] = {"id": {"type": "string", "title": "Internal identifier"},
                                 "refName": {"type": "string", "title": "Reference Name"},
                                 "links": {"type": "array", "readOnly": True, "items": _LINK}}
        if f.kind == "ref":
            props["externalId"] = {"type": "string", "title": "External identifier"}
            out = {"type": "object", "title": f.label, "properties": props, "x-ns-reference": f.target}
        else:
            props["id"] = {"type": "string", "enum": sorted(f.choices or {})}
            out = {"type": "object", "title": f.label, "properties": props}
    if f.readonly:
        out["readOnly"] = True
    if f.minimum is not None:
        out["minimum"] = f.minimum
    return out


def json_schema(rt: RecordType, base_url: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "string", "title": "Internal ID", "readOnly": True},
        "externalId": {"type": "string", "title": "External ID"},
        "links": {"type": "array", "readOnly": True, "items": _LINK},
        "createdDate": {"type": "string", "format": "date-time", "readOnly": True},
        "lastModifiedDate": {"type": "string", "format": "date-time", "readOnly": True},
    }
    for name, f in rt.fields.items():
        props[name] = _field_schema(f)
    for name, sub in rt.sublists.items():
        line_props = {"line": {"type": "integer", "readOnly": True}, "links": {"type": "array", "items": _LINK}}
        line_props.update({k: _field_schema(v) for k, v in sub.fields.items()})
        line_required = [k for k, v in sub.fields.items() if v.required]
        props[name] = {"type": "object", "title": sub.label, "properties": {
            "links": {"type": "array", "items": _LINK},
            "items": {"type": "array", "items": {"type": "object", "properties": line_props, "required": line_required}},
            "totalResults": {"type": "integer", "readOnly": True},
        }}
    required = [k for k, f in rt.fields.items() if f.required]
    return {
        "$schema": "https://json-schema.org/draft-06/schema#",
        "type": "object",
        "title": rt.label,
        "x-ns-record-type": rt.name,
        "properties": props,
        "required": required,
        "links": [{"rel": "self", "href": f"{base_url}/record/v1/metadata-catalog/{rt.name}"}],
    }


def openapi_document(types: list[RecordType], base_url: str, release: str) -> dict[str, Any]:
    """The record service's own OpenAPI 3.0 document for the selected record types (metadata-catalog swagger)."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rt in types:
        schema = json_schema(rt, base_url)
        schema.pop("$schema", None)
        schema.pop("links", None)
        schemas[rt.name] = schema
        ref_ = {"$ref": f"#/components/schemas/{rt.name}"}
        ok = {"204": {"description": "Success"}}
        err = {"default": {"description": "Error", "content": {"application/vnd.oracle.resource+json; type=error": {
            "schema": {"$ref": "#/components/schemas/nsError"}}}}}
        body = {"required": True, "content": {"application/json": {"schema": ref_}}}
        idp = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
        # paths are relative to the record service, as section_1545126526 prints them ("/salesorder")
        paths[f"/{rt.name}"] = {
            "get": {"tags": [rt.name], "summary": f"Get list of {rt.label} records.",
                    "parameters": [{"name": "q", "in": "query", "description": "Search query used to filter results",
                                    "schema": {"type": "string"}},
                                   {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 1000}},
                                   {"name": "offset", "in": "query", "schema": {"type": "integer", "default": 0}}],
                    "responses": {"200": {"description": "Collection", "content": {
                        "application/vnd.oracle.resource+json; type=collection": {"schema": {"type": "object"}}}}, **err}},
            "post": {"tags": [rt.name], "summary": f"Insert {rt.label} record.", "requestBody": body,
                     "responses": {**ok, **err}},
        }
        paths[f"/{rt.name}/{{id}}"] = {
            "get": {"tags": [rt.name], "parameters": idp, "responses": {"200": {"description": rt.label, "content": {
                "application/vnd.oracle.resource+json; type=singular": {"schema": ref_}}}, **err}},
            "patch": {"tags": [rt.name], "parameters": idp, "requestBody": body, "responses": {**ok, **err}},
            "put": {"tags": [rt.name], "parameters": idp, "requestBody": body, "responses": {**ok, **err},
                    "summary": "Insert or update (upsert) by external ID: id is eid:{externalId}."},
            "delete": {"tags": [rt.name], "parameters": idp, "responses": {**ok, **err}},
        }
    schemas["nsError"] = {"type": "object", "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "o:errorDetails": {"type": "array", "items": {"type": "object", "properties": {
            "detail": {"type": "string"}, "o:errorCode": {"type": "string"}, "o:errorPath": {"type": "string"},
            "o:errorUrl": {"type": "string"}}}}}}
    return {
        "openapi": "3.0.1",
        "info": {"title": "NetSuite REST Record API", "version": release,
                 "description": f"NetSuite REST Record API (simulated), release {release}"},
        "servers": [{"url": f"{base_url}/record/v1"}],
        "paths": paths,
        "components": {"schemas": schemas},
    }
