"""Object and field metadata: the standard objects, the CPQ objects, custom fields and objects, and describe output.

A `Schema` is one org's metadata. Field and object names are matched case-insensitively (as Salesforce does) and
answered in their canonical spelling. Describe output follows the shape of `/sobjects/X/describe`, trimmed to the
attributes clients read (name, type, length, nillable, createable, updateable, externalId, unique, picklistValues,
referenceTo, relationshipName, childRelationships, keyPrefix, urls).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from . import ids

TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
FIELD_TYPES = TEXT_TYPES | NUMBER_TYPES | {"id", "boolean", "date", "datetime", "reference"}
SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "double": "xsd:double", "currency": "xsd:double",
    "percent": "xsd:double", "int": "xsd:int", "date": "xsd:date", "datetime": "xsd:dateTime",
}


@dataclass
class Field:
    name: str
    type: str
    label: str = ""
    length: int = 0
    required: bool = False  # nillable=False and createable, no default: REQUIRED_FIELD_MISSING when absent
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship: str | None = None  # the parent's name for the list of children through this field
    default: Any = None
    custom: bool = False
    calculated: bool = False
    auto_number: str | None = None  # display format, e.g. "Q-{00000}"
    precision: int = 18
    scale: int = 2

    def describe(self) -> dict[str, Any]:
        t = self.type
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": t,
            "soapType": SOAP_TYPES.get(t, "xsd:string"),
            "length": self.length if t in TEXT_TYPES else (18 if t in ("id", "reference") else 0),
            "precision": self.precision if t in ("double", "currency", "percent") else 0,
            "scale": self.scale if t in ("double", "currency", "percent") else 0,
            "digits": 9 if t == "int" else 0,
            "nillable": not self.required and t != "boolean" and t != "id",
            "createable": self.createable,
            "updateable": self.updateable,
            "custom": self.custom,
            "calculated": self.calculated,
            "autoNumber": self.auto_number is not None,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.external_id or t == "id" or self.name == "Name",
            "filterable": True,
            "sortable": t != "textarea",
            "groupable": t not in ("textarea", "double", "currency", "percent", "datetime"),
            "defaultedOnCreate": self.default is not None or t == "boolean" or self.auto_number is not None,
            "defaultValue": self.default if t == "boolean" else None,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v} for v in self.picklist
            ],
            "restrictedPicklist": self.restricted,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "cascadeDelete": False,
        }


@dataclass
class SObjectType:
    name: str
    label: str
    plural: str
    key_prefix: str
    custom: bool = False
    fields: dict[str, Field] = field(default_factory=dict)
    lower: dict[str, Field] = field(default_factory=dict)
    relationships: dict[str, Field] = field(default_factory=dict)  # lower-case relationship name -> reference field
    children: dict[str, tuple[str, str]] = field(default_factory=dict)  # lower child rel -> (child object, field)
    child_names: dict[str, str] = field(default_factory=dict)  # lower child rel -> canonical
    name_field: str | None = "Name"
    feed_enabled: bool = False

    def add(self, f: Field) -> Field:
        self.fields[f.name] = f
        self.lower[f.name.lower()] = f
        if f.relationship_name:
            self.relationships[f.relationship_name.lower()] = f
        return f

    def field(self, name: str) -> Field | None:
        return self.lower.get(name.lower())

    def external_ids(self) -> list[Field]:
        return [f for f in self.fields.values() if f.external_id]

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}

    def summary(self, version: str) -> dict[str, Any]:
        return {
            "name": self.name, "label": self.label, "labelPlural": self.plural, "keyPrefix": self.key_prefix,
            "custom": self.custom, "createable": True, "updateable": True, "deletable": True, "queryable": True,
            "retrieveable": True, "searchable": True, "layoutable": True, "replicateable": True, "triggerable": True,
            # the rest of a describeGlobal entry (dome_describeGlobal example); no feature behind them is modelled
            "activateable": False, "customSetting": False, "deprecatedAndHidden": False, "feedEnabled": False,
            "mergeable": self.name in ("Account", "Contact", "Lead"), "mruEnabled": True, "undeletable": True,
            "urls": self.urls(version),
        }


def _std(name: str, type_: str = "string", **kw: Any) -> Field:
    if type_ == "string" and "length" not in kw:
        kw["length"] = 255
    if type_ == "textarea" and "length" not in kw:
        kw["length"] = 32000
    if type_ in ("email", "phone", "url") and "length" not in kw:
        kw["length"] = 80 if type_ != "url" else 255
    if type_ in ("picklist", "multipicklist") and "length" not in kw:
        kw["length"] = 255
    return Field(name=name, type=type_, **kw)


def _ref(name: str, to: str, rel: str, children: str | None, required: bool = False, **kw: Any) -> Field:
    return Field(name=name, type="reference", reference_to=(to,), relationship_name=rel, child_relationship=children,
                 required=required, **kw)


def _readonly(f: Field) -> Field:
    f.createable = False
    f.updateable = False
    f.calculated = f.auto_number is None
    return f


def system_fields(owner: bool = True) -> list[Field]:
    out = [
        _readonly(Field("Id", "id", label="Record ID")),
        _readonly(Field("IsDeleted", "boolean", label="Deleted")),
        _readonly(_ref("CreatedById", "User", "CreatedBy", None)),
        _readonly(Field("CreatedDate", "datetime", label="Created Date")),
        _readonly(_ref("LastModifiedById", "User", "LastModifiedBy", None)),
        _readonly(Field("LastModifiedDate", "datetime", label="Last Modified Date")),
        _readonly(Field("SystemModstamp", "datetime", label="System Modstamp")),
        _std("CurrencyIsoCode", "picklist", length=3, restricted=True, label="Currency ISO Code"),
    ]
    if owner:
        out.append(_ref("OwnerId", "User", "Owner", None, label="Owner ID"))
    return out


STAGES = (
    "Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
    "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost",
)
STAGE_PROBABILITY = {
    "Prospecting": 10, "Qualification": 10, "Needs Analysis": 20, "Value Proposition": 50, "Id. Decision Makers": 60,
    "Perception Analysis": 70, "Proposal/Price Quote": 75, "Negotiation/Review": 90, "Closed Won": 100,
    "Closed Lost": 0,
}
STAGE_FORECAST = {"Closed Won": "Closed", "Closed Lost": "Omitted", "Negotiation/Review": "Commit",
                  "Proposal/Price Quote": "Best Case", "Perception Analysis": "Best Case"}


def _object(name: str, label: str, plural: str, fields: list[Field], *, owner: bool = True, custom: bool = False,
            prefix: str | None = None, name_field: str | None = "Name") -> SObjectType:
    obj = SObjectType(name, label, plural, prefix or ids.STANDARD_PREFIXES[name], custom=custom, name_field=name_field)
    for f in system_fields(owner) + fields:
        obj.add(f)
    return obj


def standard_objects() -> list[SObjectType]:
    address = lambda p: [_std(f"{p}Street", "textarea", length=255), _std(f"{p}City", length=40),  # noqa: E731
                         _std(f"{p}State", length=80), _std(f"{p}PostalCode", length=20), _std(f"{p}Country", length=80)]
    user = _object("User", "User", "Users", [
        _std("Username", length=80, required=True), _std("LastName", length=80, required=True),
        _std("FirstName", length=40), _readonly(_std("Name", length=121)), _std("Email", "email", length=128),
        Field("IsActive", "boolean", default=True), _std("Alias", length=8), _std("TimeZoneSidKey", "picklist", length=40),
    ], owner=False)
    account = _object("Account", "Account", "Accounts", [
        _std("Name", required=True, label="Account Name"),
        _std("Type", "picklist", label="Account Type", picklist=(
            "Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller",
            "Installation Partner", "Technology Partner", "Other")),
        _std("Industry", "picklist", picklist=("Consulting", "Technology", "Finance", "Healthcare", "Manufacturing",
                                               "Retail", "Other")),
        _std("AccountNumber", length=40), _std("Phone", "phone", length=40), _std("Website", "url"),
        _std("Description", "textarea"), Field("AnnualRevenue", "currency"), Field("NumberOfEmployees", "int"),
        _ref("ParentId", "Account", "Parent", "ChildAccounts"), *address("Billing"), *address("Shipping"),
    ])
    contact = _object("Contact", "Contact", "Contacts", [
        _std("FirstName", length=40), _std("LastName", length=80, required=True), _readonly(_std("Name", length=121)),
        _ref("AccountId", "Account", "Account", "Contacts"), _std("Email", "email"), _std("Phone", "phone", length=40),
        _std("Title", length=128), _std("Department", length=80), *address("Mailing"),
    ])
    opportunity = _object("Opportunity", "Opportunity", "Opportunities", [
        _std("Name", length=120, required=True), _ref("AccountId", "Account", "Account", "Opportunities"),
        _std("StageName", "picklist", length=255, required=True, picklist=STAGES, label="Stage"),
        Field("CloseDate", "date", required=True), Field("Amount", "currency"), Field("Probability", "percent", scale=0),
        Field("ExpectedRevenue", "currency", createable=False, updateable=False, calculated=True),
        _readonly(Field("IsWon", "boolean")), _readonly(Field("IsClosed", "boolean")),
        _std("Type", "picklist", picklist=("New Customer", "Existing Customer - Upgrade",
                                           "Existing Customer - Replacement", "Existing Customer - Downgrade")),
        _std("LeadSource", "picklist", picklist=("Web", "Phone Inquiry", "Partner Referral", "Other")),
        _std("NextStep"), _std("Description", "textarea"),
        _std("ForecastCategoryName", "picklist", picklist=("Omitted", "Pipeline", "Best Case", "Commit", "Closed")),
        _ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Opportunities"),
        _ref("ContractId", "Contract", "Contract", None),
        _readonly(Field("HasOpportunityLineItem", "boolean")),
        _ref("SBQQ__PrimaryQuote__c", "SBQQ__Quote__c", "SBQQ__PrimaryQuote__r", None, custom=True),
        Field("SBQQ__Contracted__c", "boolean", label="Contracted", default=False, custom=True),  # CPQ: contract it
    ])
    product = _object("Product2", "Product", "Products", [
        _std("Name", required=True, label="Product Name"), _std("ProductCode"), _std("Description", "textarea", length=4000),
        Field("IsActive", "boolean", default=False),
        _std("Family", "picklist", picklist=("Professional Services", "Subscription", "Hardware", "Training")),
        _std("QuantityUnitOfMeasure", "picklist", picklist=("Each", "Hour", "Day", "Month")),
        _std("SBQQ__ChargeType__c", "picklist", picklist=("One-Time", "Recurring", "Usage"), custom=True),
        _std("SBQQ__BillingType__c", "picklist", picklist=("Advance", "Arrears"), custom=True),
        _std("SBQQ__BillingFrequency__c", "picklist",
             picklist=("Monthly", "Quarterly", "Semiannual", "Annual", "Invoice Plan"), custom=True),
        _std("SBQQ__SubscriptionType__c", "picklist", picklist=("Renewable", "One-time", "Evergreen"), custom=True),
    ])
    pricebook = _object("Pricebook2", "Price Book", "Price Books", [
        _std("Name", required=True), Field("IsActive", "boolean", default=False),
        _readonly(Field("IsStandard", "boolean")), _std("Description", "textarea", length=255),
    ], owner=False)
    entry = _object("PricebookEntry", "Price Book Entry", "Price Book Entries", [
        _readonly(_std("Name")), _readonly(_std("ProductCode")),
        _ref("Pricebook2Id", "Pricebook2", "Pricebook2", "PricebookEntries", required=True, updateable=False),
        _ref("Product2Id", "Product2", "Product2", "PricebookEntries", required=True, updateable=False),
        Field("UnitPrice", "currency", required=True, label="List Price"), Field("IsActive", "boolean", default=False),
        Field("UseStandardPrice", "boolean", default=False),
    ], owner=False)
    oli = _object("OpportunityLineItem", "Opportunity Product", "Opportunity Product", [
        _readonly(_std("Name", length=376)),
        _ref("OpportunityId", "Opportunity", "Opportunity", "OpportunityLineItems", required=True, updateable=False),
        _ref("PricebookEntryId", "PricebookEntry", "PricebookEntry", None, updateable=False),
        _ref("Product2Id", "Product2", "Product2", None, updateable=False),
        Field("Quantity", "double", required=True), Field("UnitPrice", "currency", label="Sales Price"),
        Field("TotalPrice", "currency"), _readonly(Field("ListPrice", "currency")), Field("Discount", "percent"),
        Field("ServiceDate", "date"), _std("Description", "string"),
    ], owner=False)
    contract = _object("Contract", "Contract", "Contracts", [
        _readonly(_std("ContractNumber", length=30, auto_number="{00000000}")),
        _ref("AccountId", "Account", "Account", "Contracts", required=True),
        _std("Status", "picklist", picklist=("Draft", "In Approval Process", "Activated"), restricted=True,
             default="Draft"),
        Field("StartDate", "date"), Field("ContractTerm", "int"), _readonly(Field("EndDate", "date")),
        _std("Description", "textarea"), _ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r", None, custom=True),
        _ref("SBQQ__Opportunity__c", "Opportunity", "SBQQ__Opportunity__r", "SBQQ__Contracts__r", custom=True),
    ], name_field="ContractNumber")
    order = _object("Order", "Order", "Orders", [
        _readonly(_std("OrderNumber", length=30, auto_number="{00000000}")),
        _ref("AccountId", "Account", "Account", "Orders", required=True),
        _ref("OpportunityId", "Opportunity", "Opportunity", "Orders"), _ref("ContractId", "Contract", "Contract", "Orders"),
        _ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Orders"),
        Field("EffectiveDate", "date", required=True, label="Order Start Date"), Field("EndDate", "date"),
        _std("Status", "picklist", picklist=("Draft", "Activated"), restricted=True, default="Draft"),
        _readonly(Field("TotalAmount", "currency")), _std("Description", "textarea"), _std("Type", "picklist"),
        _ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r", "SBQQ__Orders__r", custom=True),
    ], name_field="OrderNumber")
    return [user, account, contact, opportunity, product, pricebook, entry, oli, contract, order]


def cpq_objects() -> list[SObjectType]:
    quote = _object("SBQQ__Quote__c", "Quote", "Quotes", [
        _readonly(_std("Name", length=80, auto_number="Q-{00000}")),
        _ref("SBQQ__Account__c", "Account", "SBQQ__Account__r", "SBQQ__Quotes__r"),
        _ref("SBQQ__Opportunity2__c", "Opportunity", "SBQQ__Opportunity2__r", "SBQQ__Quotes2__r"),
        _ref("SBQQ__PriceBook__c", "Pricebook2", "SBQQ__PriceBook__r", None),
        Field("SBQQ__Primary__c", "boolean", default=False),
        _std("SBQQ__Status__c", "picklist", picklist=("Draft", "In Review", "Approved", "Denied", "Presented",
                                                      "Accepted", "Rejected"), default="Draft"),
        _std("SBQQ__Type__c", "picklist", picklist=("Quote", "Renewal", "Amendment"), default="Quote"),
        Field("SBQQ__StartDate__c", "date"), Field("SBQQ__EndDate__c", "date"),
        Field("SBQQ__SubscriptionTerm__c", "double", scale=0), Field("SBQQ__NetAmount__c", "currency"),
        Field("SBQQ__CustomerAmount__c", "currency"), Field("SBQQ__ListAmount__c", "currency"),
        Field("SBQQ__Ordered__c", "boolean", default=False), _std("SBQQ__PaymentTerms__c", "picklist",
                                                                     picklist=("Net 15", "Net 30", "Net 45", "Net 60")),
        Field("SBQQ__ExpirationDate__c", "date"),
    ], prefix="a0C")
    line = _object("SBQQ__QuoteLine__c", "Quote Line", "Quote Lines", [
        _readonly(_std("Name", length=80, auto_number="QL-{0000000}")),
        _ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r", "SBQQ__LineItems__r", required=True),
        _ref("SBQQ__Product__c", "Product2", "SBQQ__Product__r", None),
        Field("SBQQ__Quantity__c", "double", default=1), Field("SBQQ__ListPrice__c", "currency"),
        Field("SBQQ__RegularPrice__c", "currency"), Field("SBQQ__CustomerPrice__c", "currency"),
        Field("SBQQ__NetPrice__c", "currency"), Field("SBQQ__NetTotal__c", "currency"),
        Field("SBQQ__Discount__c", "percent"), Field("SBQQ__AdditionalDiscount__c", "currency"),
        Field("SBQQ__ProrateMultiplier__c", "double", scale=4),
        _std("SBQQ__SubscriptionPricing__c", "picklist", picklist=("Fixed Price", "Percent Of Total")),
        _std("SBQQ__SubscriptionType__c", "picklist", picklist=("Renewable", "One-time", "Evergreen")),
        _std("SBQQ__ChargeType__c", "picklist", picklist=("One-Time", "Recurring", "Usage")),
        _std("SBQQ__BillingType__c", "picklist", picklist=("Advance", "Arrears")),
        _std("SBQQ__BillingFrequency__c", "picklist", picklist=("Monthly", "Quarterly", "Semiannual", "Annual",
                                                                "Invoice Plan")),
        Field("SBQQ__StartDate__c", "date"), Field("SBQQ__EndDate__c", "date"),
        _std("SBQQ__Description__c", "textarea", length=4000),
    ], owner=False, prefix="a0D")
    for obj in (quote, line):
        obj.custom = True
        for f in obj.fields.values():
            if f.name.endswith("__c"):
                f.custom = True
    return [quote, line]


class Schema:
    """One org's objects (standard, CPQ, custom) with their child relationships wired."""

    def __init__(self, objects: list[SObjectType]) -> None:
        self.objects: dict[str, SObjectType] = {}
        self.lower: dict[str, SObjectType] = {}
        self.by_prefix: dict[str, SObjectType] = {}
        for obj in objects:
            self.objects[obj.name] = obj
            self.lower[obj.name.lower()] = obj
            self.by_prefix[obj.key_prefix] = obj
        self.wire()

    def wire(self) -> None:
        for obj in self.objects.values():
            obj.children.clear()
            obj.child_names.clear()
        for obj in self.objects.values():
            for f in obj.fields.values():
                if f.type == "reference" and f.child_relationship:
                    for target in f.reference_to:
                        parent = self.objects.get(target)
                        if parent is not None:
                            parent.children[f.child_relationship.lower()] = (obj.name, f.name)
                            parent.child_names[f.child_relationship.lower()] = f.child_relationship

    def get(self, name: str) -> SObjectType | None:
        return self.lower.get(name.lower())

    def object_of_id(self, record_id: str) -> SObjectType | None:
        return self.by_prefix.get(record_id[:3])

    def add_object(self, obj: SObjectType) -> None:
        self.objects[obj.name] = obj
        self.lower[obj.name.lower()] = obj
        self.by_prefix[obj.key_prefix] = obj
        self.wire()

    def clone(self) -> Schema:
        return copy.deepcopy(self)


BASE_SCHEMA = Schema(standard_objects() + cpq_objects())


def describe_object(obj: SObjectType, schema: Schema, version: str) -> dict[str, Any]:
    children = []
    for lower, (child, fname) in sorted(obj.children.items()):
        children.append({"childSObject": child, "field": fname, "relationshipName": obj.child_names[lower],
                         "cascadeDelete": False, "deprecatedAndHidden": False, "restrictedDelete": False})
    return {
        **obj.summary(version),
        "fields": [f.describe() for f in obj.fields.values()],
        "childRelationships": children,
        "recordTypeInfos": [],
        "supportedScopes": [{"label": "All", "name": "everything"}],
    }
