"""NetSuite simulator benchmark cases: a customer record GET and a SuiteQL query over customers.

`prepare` mints a bearer access token for the account through the admin API (an OAuth 2.0 token as if from the
token endpoint), lifts the account's concurrency limit (the shared tier's 5 would turn a load run into 429s: that
limit is tested on its own in tests/netsuite/test_governance.py), and seeds 50 customers. Each case's stub is the
response captured from the simulator itself, so a static peer serves the same bytes.
"""

from __future__ import annotations

import httpx

from benchmarks.cases import BenchCase, StubResponse

ACCOUNT = "BENCH_1"
CUSTOMERS = 50
SUITEQL = "SELECT id, companyname, email FROM customer WHERE id <= 20 ORDER BY id"


def prepare(base_url: str, ca_bundle: str | None) -> list[BenchCase]:
    verify: bool | str = ca_bundle or True
    base = base_url.rstrip("/")
    with httpx.Client(base_url=base, verify=verify, timeout=30) as admin:
        token = admin.post(f"/__admin/netsuite/accounts/{ACCOUNT}/access-tokens",
                           json={"expires_in": 30 * 86400}).raise_for_status().json()["access_token"]
        admin.put(f"/__admin/netsuite/accounts/{ACCOUNT}/concurrency", json={"limit": 10_000}).raise_for_status()
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{base}/services/rest", verify=verify, timeout=30, headers=auth) as api:
        location = ""
        for i in range(CUSTOMERS):
            r = api.post("/record/v1/customer", json={"companyName": f"Bench Customer {i}", "subsidiary": {"id": "1"},
                                                      "email": f"ap{i}@bench.test", "externalId": f"BENCH-{i}"})
            r.raise_for_status()
            location = location or r.headers["location"]
        record_path = "/services/rest" + location.split("/services/rest", 1)[1]
        read = api.get(record_path.removeprefix("/services/rest")).raise_for_status()
        query = api.post("/query/v1/suiteql", params={"limit": 20}, json={"q": SUITEQL},
                         headers={"Prefer": "transient"}).raise_for_status()
    suiteql_body = ('{"q":"' + SUITEQL + '"}').encode()
    return [
        BenchCase(
            name="netsuite GET record customer by id",
            method="GET",
            path=record_path,
            headers=auth,
            stub=StubResponse(200, read.text, {"Content-Type": read.headers["content-type"]}),
        ),
        BenchCase(
            name="netsuite POST SuiteQL (20 customers)",
            method="POST",
            path="/services/rest/query/v1/suiteql?limit=20",
            headers={**auth, "Content-Type": "application/json", "Prefer": "transient"},
            stub=StubResponse(200, query.text, {"Content-Type": query.headers["content-type"]}),
            body=suiteql_body,
        ),
    ]
