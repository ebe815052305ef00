"""Install the integration in the vendor systems: what an implementation team sets up once.

- Salesforce: the custom fields the flows write (keys on the Opportunity, invoice and payment status) through the
  simulator's admin API (a real org gets them from the managed package);
- NetSuite, through its public API, idempotent by external id: currencies and exchange rates, one subsidiary per
  legal entity, the service items per invoice line kind, and the intercompany customers (a contracting entity as a
  customer of each delivering entity);
- ``ensure_resource``: the NetSuite employee for a PSA user (time entries need one).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from q2c_harness.connectors.mapping import external_id

from .reference import ITEM_KINDS, ReferenceData, entity_eid, ic_customer_eid, item_eid, resource_eid
from .vendors import Vendors

OPPORTUNITY_FIELDS = [
    ("Q2C_Engagement_Id__c", "string", {"length": 80, "external_id": True, "unique": True}),
    ("NetSuite_Project_Id__c", "string", {"length": 40}),
    ("PSA_Workspace_Id__c", "string", {"length": 40}),
    ("Invoice_Status__c", "string", {"length": 40}),
    ("Invoice_Number__c", "string", {"length": 80}),
    ("Amount_Invoiced__c", "currency", {"precision": 16, "scale": 2}),
    ("Amount_Paid__c", "currency", {"precision": 16, "scale": 2}),
    ("Last_Invoice_Date__c", "date", {}),
    ("Last_Payment_Date__c", "date", {}),
    ("Q2C_Retainer_Amount__c", "currency", {"precision": 16, "scale": 2}),  # sales: a retainer paid up front
    # the contract's T&M terms as sales records them: the rate card, the FX policy, a not-to-exceed cap
    ("Q2C_Rate_Card__c", "string", {"length": 80}),
    ("Q2C_FX_Rate_Type__c", "string", {"length": 20}),
    ("Q2C_FX_Rate_Date_Rule__c", "string", {"length": 20}),
    ("Q2C_Not_To_Exceed__c", "currency", {"precision": 16, "scale": 2}),
]
ACCOUNT_FIELDS = [("VAT_Number__c", "string", {"length": 40})]
FX_TO_USD = {"GBP": Decimal("1.25"), "EUR": Decimal("1.10"), "USD": Decimal("1")}


def currency_eid(code: str) -> str:
    return external_id("CURRENCY", code)


async def provision_salesforce_fields(admin: httpx.AsyncClient, tenant: str) -> None:
    """Create our custom fields in a simulated org (409/400 'exists' is fine: provisioning is repeatable)."""
    for obj, fields in (("Opportunity", OPPORTUNITY_FIELDS), ("Account", ACCOUNT_FIELDS)):
        for name, type_, extra in fields:
            r = await admin.post(f"/__admin/salesforce/orgs/{tenant}/fields",
                                 json={"object": obj, "name": name, "type": type_, **extra})
            if r.status_code not in (200, 201, 400, 409):
                r.raise_for_status()


async def provision_netsuite(v: Vendors, ref: ReferenceData) -> dict[str, Any]:
    ns = v.ns
    currencies: dict[str, str] = {"USD": "1"}
    needed = {e.functional_currency for e in ref.legal_entities.values()} | {"USD"}
    for code in sorted(needed - {"USD"}):
        currencies[code] = str(await ns.upsert("currency", currency_eid(code), {
            "name": code, "symbol": code, "exchangeRate": FX_TO_USD.get(code, Decimal("1"))})
            or (await ns.get_by_external_id("currency", currency_eid(code)))["id"])
    for base in needed:
        for txn in needed:
            if base == txn:
                continue
            rate = (FX_TO_USD.get(txn, Decimal(1)) / FX_TO_USD.get(base, Decimal(1))).quantize(Decimal("0.000001"))
            await ns.upsert("currencyRate", external_id("FX", f"{base}-{txn}"), {
                "baseCurrency": {"id": currencies[base]}, "transactionCurrency": {"id": currencies[txn]},
                "exchangeRate": rate, "effectiveDate": "2020-01-01"})
    subs: dict[str, str] = {}
    for e in ref.legal_entities.values():
        rid = await ns.upsert("subsidiary", entity_eid(e.entity_id), {
            "name": e.name, "currency": {"id": currencies[e.functional_currency]}, "country": e.country})
        subs[e.entity_id] = rid or str((await ns.get_by_external_id("subsidiary", entity_eid(e.entity_id)))["id"])
    for kind in ITEM_KINDS:
        await ns.upsert("serviceSaleItem", item_eid(kind), {"itemId": f"Q2C {kind}", "displayName": kind.title()})
    for c in ref.legal_entities.values():
        for d in ref.legal_entities.values():
            if c.entity_id != d.entity_id and c.entity_id in d.intercompany_partners:
                await ns.upsert("customer", ic_customer_eid(c.entity_id, d.entity_id), {
                    "companyName": f"IC {c.name}"[:83], "subsidiary": {"id": subs[d.entity_id]},
                    "currency": {"id": currencies["USD"]}})
    return {"subsidiaries": subs, "currencies": currencies}


async def ensure_resource(v: Vendors, psa_user_id: str, *, first: str, last: str, entity_id: str) -> str:
    """The NetSuite employee for a PSA user, by external id ``Q2C-RESOURCE-<user id>``."""
    sub = (await v.ns.get_by_external_id("subsidiary", entity_eid(entity_id)))["id"]
    rid = await v.ns.upsert("employee", resource_eid(psa_user_id), {
        "firstName": first[:32] or "Q2C", "lastName": last[:32] or str(psa_user_id), "subsidiary": {"id": sub}})
    return rid or str((await v.ns.get_by_external_id("employee", resource_eid(psa_user_id)))["id"])
