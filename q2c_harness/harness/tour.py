"""The simulator tour: start every simulator over HTTPS and exercise it through its public and admin API.

It is what `make run` does until the scenario suite exists: proof, in a few seconds, that each simulator serves its
vendor's API over TLS, keeps tenants apart, injects a seeded fault, enforces a quota and journals every request.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

from q2c_simulators.kernel.serving import build_simulators, running_servers

from .sim_admin import SimAdmin

TENANT = "TOUR_1"


@dataclass
class Step:
    what: str
    status: int
    expected: int
    ms: float

    @property
    def ok(self) -> bool:
        return self.status == self.expected


@dataclass
class SimulatorTour:
    simulator: str
    base_url: str
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)


# Each vendor: auth headers from its admin API, four public-API steps (the second is re-used for the fault and quota
# checks), the status its quota rejection uses, and the tenant the steps act in (TENANT, unless the vendor's tenant
# ids have another form, as AvaTax's numeric account ids do).
Plan = tuple[dict[str, str], list[tuple], int, str]


def _salesforce(http: httpx.Client) -> Plan:
    token = http.post("/__admin/salesforce/tokens", json={"tenant": TENANT}).json()["access_token"]
    v = "/services/data/v59.0"
    return {"Authorization": f"Bearer {token}"}, [
        ("create an Account", "POST", f"{v}/sobjects/Account/", {"Name": "Tour Consulting"}, 201),
        ("read it back", "GET", f"{v}/sobjects/Account/{{id}}", None, 200),
        ("SOQL over it", "GET", f"{v}/query/?q=SELECT+Id,Name+FROM+Account", None, 200),
        ("a bad field is INVALID_FIELD", "GET", f"{v}/query/?q=SELECT+Nope__c+FROM+Account", None, 400),
    ], 403, TENANT


def _netsuite(http: httpx.Client) -> Plan:
    token = http.post(f"/__admin/netsuite/accounts/{TENANT}/access-tokens").json()["access_token"]
    r = "/services/rest/record/v1"
    return {"Authorization": f"Bearer {token}"}, [
        ("create a customer", "POST", f"{r}/customer",
         {"companyName": "Tour Consulting", "externalId": "CRM-TOUR-1", "subsidiary": {"id": "1"}}, 204),
        ("read it by external id", "GET", f"{r}/customer/eid:CRM-TOUR-1", None, 200),
        ("SuiteQL over it", "POST", "/services/rest/query/v1/suiteql", {"q": "SELECT id, companyname FROM customer"}, 200),
        ("a missing record is 404", "GET", f"{r}/customer/999999", None, 404),
    ], 429, TENANT


def _psa(http: httpx.Client) -> Plan:
    token = http.post("/__admin/psa/tokens", json={"account": TENANT.lower()}).json()["access_token"]
    a = "/api/v1"
    return {"Authorization": f"Bearer {token}"}, [
        ("create a workspace", "POST", f"{a}/workspaces.json", {"workspace": {"title": "Tour implementation"}}, 201),
        ("list workspaces", "GET", f"{a}/workspaces.json?per_page=5", None, 200),
        ("read the event feed", "GET", f"{a}/subscribed_events.json", None, 200),
        ("a missing workspace is 404", "GET", f"{a}/workspaces/999999.json", None, 404),
    ], 429, TENANT


def _tax(http: httpx.Client) -> Plan:
    account = http.post("/__admin/tax/accounts").json()
    t = "/api/v2/companies/DEFAULT/transactions"
    return {"Authorization": f"Bearer {account['bearer_token']}"}, [
        ("create an invoice", "POST", "/api/v2/transactions/create",
         {"type": "SalesInvoice", "code": "TOUR-1", "date": "2026-11-30", "customerCode": "TOUR",
          "addresses": {"singleLocation": {"city": "Austin", "region": "TX", "country": "US", "postalCode": "78701"}},
          "lines": [{"amount": 100, "taxCode": "P0000000"}]}, 201),
        ("read it by code", "GET", f"{t}/TOUR-1", None, 200),
        ("list tax codes", "GET", "/api/v2/definitions/taxcodes", None, 200),
        ("a missing document is 404", "GET", f"{t}/NOPE", None, 404),
    ], 429, str(account["account_id"])


def _payments(http: httpx.Client) -> Plan:
    key = http.post("/__admin/payments/keys", json={"account": TENANT}).json()["secret_key"]
    return {"Authorization": f"Bearer {key}"}, [
        ("create a customer", "POST", "/v1/customers", None, 200),
        ("read it back", "GET", "/v1/customers/{id}", None, 200),
        ("list customers", "GET", "/v1/customers?limit=5", None, 200),
        ("a missing customer is 404", "GET", "/v1/customers/cus_nope", None, 404),
    ], 429, TENANT


VENDOR_STEPS: dict[str, Callable[[httpx.Client], Plan]] = {
    "salesforce": _salesforce, "netsuite": _netsuite, "psa": _psa, "tax": _tax, "payments": _payments,
}


def _created_id(response: httpx.Response) -> str | None:
    if "location" in response.headers:
        return response.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        found = body.get("id") or (body.get("results") or [{}])[0].get("id")
        return None if found is None else str(found)  # AvaTax ids are numbers
    return None


def tour_one(name: str, base_url: str, ca_bundle: str | None) -> SimulatorTour:
    result = SimulatorTour(name, base_url)
    with httpx.Client(base_url=base_url, verify=ca_bundle or True, timeout=30) as http:
        admin = SimAdmin(http)

        def step(what: str, method: str, path: str, body: Any, expected: int, headers: dict[str, str]) -> httpx.Response:
            started = time.perf_counter()
            response = http.request(method, path, json=body, headers=headers)
            result.steps.append(Step(what, response.status_code, expected, round((time.perf_counter() - started) * 1000, 1)))
            return response

        headers, steps, limit_status, tenant = VENDOR_STEPS[name](http)
        created = None
        for what, method, path, body, expected in steps:
            response = step(what, method, path.replace("{id}", created or ""), body, expected, headers)
            created = created or _created_id(response)

        # a seeded fault in the vendor's own error shape, then recovery
        admin.add_fault({"id": "tour-maintenance", "kind": "error", "status": 503, "first_n": 1})
        _, method, path, body, _ = steps[1]
        path = path.replace("{id}", created or "")
        step("maintenance fault (first call only)", method, path, body, 503, headers)
        step("the retry succeeds", method, path, body, 200, headers)
        admin.clear_faults()

        # a quota with the vendor's own rejection
        admin.set_quota({"name": "tour-burst", "kind": "token_bucket", "limit": 1, "rate_per_second": 0.001,
                         "method": method})
        step("quota admits the first request", method, path, body, 200, headers)
        step("quota refuses the next", method, path, body, limit_status, headers)
        admin.reset_quotas(defaults=True)

        # the journal verifies what happened, and another tenant saw none of it
        verified = admin.verify(status=503, count=1).ok
        result.steps.append(Step("journal verifies exactly one 503", 200 if verified else 0, 200, 0))
        others = [t for t in admin.tenants() if t["id"].upper() != tenant.upper() and t["records"]]
        result.steps.append(Step("no records leaked into another tenant", 200 if not others else 0, 200, 0))
    return result


def run_tour(*, seed: int = 0, http: bool = False, report: Path = Path("reports/sim-tour.json")) -> int:
    sims = build_simulators(seed=seed)
    print(f"q2c simulator tour: {', '.join(sims)} (seed {seed}, {'HTTP' if http else 'HTTPS with a local CA'})")
    with running_servers(sims, http=http, tls_dir=".q2c/tls") as endpoints:
        tours = [tour_one(name, endpoints.base_urls[name], endpoints.ca_bundle) for name in sims]
    failed = 0
    for tour in tours:
        print(f"\n{tour.simulator}  {tour.base_url}")
        for s in tour.steps:
            mark = "ok  " if s.ok else "FAIL"
            failed += not s.ok
            print(f"  {mark} {s.what:<42} {s.status:>3} (expected {s.expected})  {s.ms:>7.1f} ms")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps([{**asdict(t), "ok": t.ok} for t in tours], indent=2) + "\n")
    print(f"\n{sum(len(t.steps) for t in tours) - failed} passed, {failed} failed; report: {report}")
    return 1 if failed else 0
