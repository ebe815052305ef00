"""Salesforce simulator benchmark cases: a GET by id and a SOQL lookup by external id, each with its static stub."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from benchmarks.cases import BenchCase, StubResponse

TENANT = "bench"
VERSION = "v59.0"
EXTERNAL_ID = "BENCH-0001"


def prepare(base_url: str, ca_bundle: str | None) -> list[BenchCase]:
    """Seed an Account with an External_Id__c through the admin and REST APIs; return the two cases to hammer."""
    base = base_url.rstrip("/")
    with httpx.Client(base_url=base, verify=ca_bundle or True, timeout=30) as client:
        r = client.post("/__admin/salesforce/orgs/bench/fields", json={
            "object": "Account", "name": "External_Id__c", "type": "string", "external_id": True, "unique": True})
        r.raise_for_status()
        r = client.post("/__admin/salesforce/tokens", json={"tenant": TENANT, "lifetime_seconds": 30 * 86400})
        r.raise_for_status()
        token = r.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        r = client.patch(f"/services/data/{VERSION}/sobjects/Account/External_Id__c/{EXTERNAL_ID}", headers=headers,
                         json={"Name": "Benchmark Consulting Ltd", "Industry": "Consulting", "CurrencyIsoCode": "GBP"})
        r.raise_for_status()
        account_id = r.json()["id"]
        by_id = f"/services/data/{VERSION}/sobjects/Account/{account_id}"
        get = client.get(by_id, headers=headers)
        get.raise_for_status()
        soql = f"SELECT Id, Name, CurrencyIsoCode FROM Account WHERE External_Id__c = '{EXTERNAL_ID}'"
        query_path = f"/services/data/{VERSION}/query/?q={quote(soql, safe='')}"
        query = client.get(query_path, headers=headers)
        query.raise_for_status()
    return [
        BenchCase(name="salesforce GET sobject by id", method="GET", path=by_id, headers=headers,
                  stub=StubResponse(200, get.text)),
        BenchCase(name="salesforce SOQL lookup by external id", method="GET", path=query_path, headers=headers,
                  stub=StubResponse(200, query.text)),
    ]
