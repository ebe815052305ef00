"""Provider states, set up through each vendor's PUBLIC API, so the same states work against a simulator and a
real sandbox. Every setup is idempotent (upserts by external id, find-then-create), so a sandbox can be verified
again without a reset. Each setup returns the ids it made: the verifier puts them into the request
(provider-state generators), because a sandbox's internal ids are not the simulator's.

`StateServer` is the state-change endpoint the pact verifier calls (`POST /_pact/state`); it answers the values as
JSON, which is what the verifier reads for `fromProviderState` generators (a Python callable handler cannot
return values in pact-python 4.2).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx

StateFn = Callable[[dict[str, Any]], dict[str, Any]]


class StateError(RuntimeError):
    pass


def _check(r: httpx.Response, what: str) -> httpx.Response:
    if r.status_code >= 400:
        raise StateError(f"{what}: {r.request.method} {r.request.url} answered {r.status_code}: {r.text[:400]}")
    return r


class StateServer:
    """`POST /_pact/state {"state", "params", "action"}` -> the setup's values as JSON."""

    def __init__(self, handlers: dict[str, StateFn]) -> None:
        self.handlers = handlers
        self.calls: list[tuple[str, str]] = []
        self.errors: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                data = json.loads(self.rfile.read(length) or b"{}")
                state, action = data.get("state") or "", data.get("action") or "setup"
                outer.calls.append((state, action))
                try:
                    values: dict[str, Any] = {}
                    if action == "setup" and state:
                        fn = outer.handlers.get(state)
                        if fn is None:
                            raise StateError(f"no provider state handler for {state!r}")
                        values = fn(data.get("params") or {}) or {}
                    body = json.dumps(values).encode()
                    self.send_response(200)
                except Exception as exc:  # reported back to the verifier, which fails the interaction
                    outer.errors.append(f"{state}: {exc}")
                    body = json.dumps({"error": str(exc)}).encode()
                    self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/_pact/state"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="pact-states")

    def __enter__(self) -> "StateServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- NetSuite ----------------------------------------------------------------------------------------------------
class NetSuiteStates:
    """Needs a REST base URL (`…/services/rest`) and an Authorization header value (OAuth 2.0 bearer)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _upsert(self, rtype: str, eid: str, body: dict[str, Any]) -> str:
        _check(self.http.put(f"/record/v1/{rtype}/eid:{quote(eid)}", json=body), f"upsert {rtype} {eid}")
        return self._id(rtype, eid)

    def _id(self, rtype: str, eid: str) -> str:
        r = _check(self.http.get(f"/record/v1/{rtype}/eid:{quote(eid)}"), f"read {rtype} {eid}")
        return str(r.json()["id"])

    def subsidiary_uk(self, _: dict[str, Any] | None = None) -> dict[str, Any]:
        gbp = self._upsert("currency", "Q2C-GBP", {"name": "GBP", "symbol": "GBP"})
        sub = self._upsert("subsidiary", "Q2C-SUB-UK", {"name": "UK", "currency": {"id": gbp}, "country": "GB"})
        return {"subsidiaryId": sub, "currencyId": gbp, "idempotencyKey": str(uuid.uuid4())}

    def customer_crm1(self, _: dict[str, Any] | None = None) -> dict[str, Any]:
        v = self.subsidiary_uk()
        cust = self._upsert("customer", "CRM-1", {"companyName": "Acme Ltd", "subsidiary": {"id": v["subsidiaryId"]},
                                                  "currency": {"id": v["currencyId"]}})
        return {**v, "customerId": cust}

    def _invoice(self, eid: str, amount: str) -> dict[str, Any]:
        v = self.customer_crm1()
        item = self._upsert("serviceSaleItem", "Q2C-SVC-CONSULTING", {"itemId": "Consulting services"})
        inv = self._upsert("invoice", eid, {"entity": {"id": v["customerId"]}, "currency": {"id": v["currencyId"]},
                                            "tranDate": "2026-01-05", "memo": f"contract state {eid}",
                                            "item": {"items": [{"item": {"id": item}, "quantity": 1,
                                                                "rate": float(Decimal(amount))}]}})
        return {**v, "invoiceId": inv, "itemId": item}

    def open_invoice_inv1(self, _: dict[str, Any]) -> dict[str, Any]:
        return self._invoice("INV-1", "1995.00")

    def payment_on_inv2(self, _: dict[str, Any]) -> dict[str, Any]:
        v = self._invoice("INV-2", "1200.00")
        found = self.http.get("/record/v1/customerPayment/eid:PAY-1")  # an upsert would add the application twice
        if found.status_code == 200:
            return {**v, "paymentId": str(found.json()["id"])}
        pay = self._upsert("customerPayment", "PAY-1", {"customer": {"id": v["customerId"]}, "payment": 500,
                                                        "currency": {"id": v["currencyId"]}, "tranDate": "2026-01-20",
                                                        "apply": {"items": [{"doc": {"id": v["invoiceId"]},
                                                                             "amount": 500}]}})
        return {**v, "paymentId": pay}

    def no_customer_crm2(self, _: dict[str, Any]) -> dict[str, Any]:
        r = self.http.get("/record/v1/customer/eid:CRM-2")
        if r.status_code == 200:
            _check(self.http.delete(f"/record/v1/customer/{r.json()['id']}"), "delete customer CRM-2")
        return self.subsidiary_uk()

    def handlers(self) -> dict[str, StateFn]:
        return {
            "subsidiary UK exists": self.subsidiary_uk,
            "customer with external id CRM-1 exists in subsidiary UK": self.customer_crm1,
            "no customer with external id CRM-2 exists": self.no_customer_crm2,
            "an open invoice INV-1 of 1,995.00 exists": self.open_invoice_inv1,
            "a customer payment of 500.00 is applied to invoice INV-2": self.payment_on_inv2,
        }


# ---- Salesforce --------------------------------------------------------------------------------------------------
SF_FIELDS = [
    {"object": "Account", "name": "Q2C_Client_Id__c", "type": "string", "external_id": True, "unique": True},
    {"object": "Opportunity", "name": "Invoice_Status__c", "type": "string"},
    {"object": "Opportunity", "name": "Invoice_Number__c", "type": "string"},
    {"object": "Opportunity", "name": "Amount_Invoiced__c", "type": "currency"},
]


def install_salesforce_fields(admin: httpx.Client, tenant: str) -> None:
    """The custom fields our package installs in an org (a real org installs them with the package)."""
    for f in SF_FIELDS:
        r = admin.post(f"/__admin/salesforce/orgs/{tenant}/fields", json=f)
        if r.status_code >= 400 and "exist" not in r.text.lower():
            raise StateError(f"install {f['object']}.{f['name']}: {r.status_code} {r.text[:300]}")


def simulator_credentials(provider: str, admin: httpx.Client, tenant: str, release: str | None) -> dict[str, str]:
    """What an integration administrator sets up once in a sandbox, done here through the simulator's admin API:
    the integration's credentials and the org's installed custom fields. No business records are written here."""
    if provider == "netsuite":
        if release:
            admin.put(f"/__admin/netsuite/accounts/{tenant}/release", json={"release": release}).raise_for_status()
        r = admin.post(f"/__admin/netsuite/accounts/{tenant}/access-tokens", json={})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}
    if provider == "salesforce":
        r = admin.post("/__admin/salesforce/tokens", json={"tenant": tenant})
        r.raise_for_status()
        install_salesforce_fields(admin, tenant)
        return {"Authorization": f"Bearer {r.json()['access_token']}"}
    if provider == "psa":
        r = admin.post("/__admin/psa/tokens", json={"account": tenant})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}
    raise ValueError(provider)


PAGING_SOQL = "SELECT Id, Name FROM Account WHERE Name LIKE 'Paging Co %' ORDER BY Name"
SF_BATCH = {"Sforce-Query-Options": "batchSize=200"}


class SalesforceStates:
    """Needs `…/services/data/v59.0` and a session (bearer) for the org."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _soql(self, q: str, **kw: Any) -> dict[str, Any]:
        return _check(self.http.get("/query/", params={"q": q}, **kw), f"query {q}").json()

    def _find_or_create(self, sobject: str, name: str, fields: dict[str, Any]) -> str:
        found = self._soql(f"SELECT Id FROM {sobject} WHERE Name = '{name}'")["records"]
        if found:
            return str(found[0]["Id"])
        return str(_check(self.http.post(f"/sobjects/{sobject}/", json={"Name": name, **fields}),
                          f"create {sobject}").json()["id"])

    def no_account_crm1(self, _: dict[str, Any]) -> dict[str, Any]:
        r = self.http.get("/sobjects/Account/Q2C_Client_Id__c/CRM-1")
        if r.status_code == 200:
            _check(self.http.delete(f"/sobjects/Account/{r.json()['Id']}"), "delete Account CRM-1")
        return {}

    def closed_won(self, _: dict[str, Any]) -> dict[str, Any]:
        acc = self._find_or_create("Account", "Acme Rollout Ltd", {})
        opp = self._find_or_create("Opportunity", "Acme Rollout", {"AccountId": acc, "StageName": "Prospecting",
                                                                   "CloseDate": "2026-01-31"})
        _check(self.http.patch(f"/sobjects/Opportunity/{opp}", json={"StageName": "Closed Won"}), "close won")
        return {"opportunityId": opp, "accountId": acc}

    def paging_accounts(self, _: dict[str, Any]) -> dict[str, Any]:
        have = self._soql("SELECT COUNT() FROM Account WHERE Name LIKE 'Paging Co %'")["totalSize"]
        missing = [{"attributes": {"type": "Account"}, "Name": f"Paging Co {i:03d}"} for i in range(int(have), 210)]
        for i in range(0, len(missing), 200):
            _check(self.http.post("/composite/sobjects", json={"allOrNone": True, "records": missing[i:i + 200]}),
                   "create paging accounts")
        page = self._soql(PAGING_SOQL, headers=SF_BATCH)
        if page.get("done") or not page.get("nextRecordsUrl"):
            raise StateError("the paging query answered one page")
        return {"nextRecordsUrl": page["nextRecordsUrl"]}

    def handlers(self) -> dict[str, StateFn]:
        return {
            "integration user integration@contracts.q2c.example can log in": lambda _: {},
            "no account with client id CRM-1 exists": self.no_account_crm1,
            "opportunity Acme Rollout is Closed Won": self.closed_won,
            "210 accounts named Paging Co exist": self.paging_accounts,
        }


# ---- PSA ---------------------------------------------------------------------------------------------------------
class PsaStates:
    """Needs `…/api/v1` and an account-level bearer token."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _one(self, r: httpx.Response, what: str) -> dict[str, Any]:
        body = _check(r, what).json()
        first = body["results"][0]
        return body[first["key"]][str(first["id"])]

    def _find_or_create(self, resource: str, singular: str, filters: dict[str, Any], fields: dict[str, Any]) -> str:
        found = _check(self.http.get(f"/{resource}.json", params=filters), f"list {resource}").json()
        if found["results"]:
            return str(found["results"][0]["id"])
        return str(self._one(self.http.post(f"/{resource}.json", json={singular: {**filters, **fields}}),
                             f"create {resource}")["id"])

    def workspace(self, _: dict[str, Any] | None = None) -> dict[str, Any]:
        refs = _check(self.http.get("/external_references.json", params={
            "service_name": "q2c", "service_model": "Engagement", "service_model_ref": "ENG-1"}), "refs").json()
        if refs["results"]:
            ws = str(refs["external_references"][str(refs["results"][0]["id"])]["subject_id"])
        else:
            ws = str(self._one(self.http.post("/workspaces.json", json={"workspace": {
                "title": "Acme Rollout", "price_in_cents": 199500}}), "create workspace")["id"])
            _check(self.http.post("/external_references.json", json={"external_reference": {
                "subject_type": "Workspace", "subject_id": int(ws), "service_name": "q2c",
                "service_model": "Engagement", "service_model_ref": "ENG-1"}}), "create reference")
        user = self._find_or_create("users", "user", {"email_address": "consultant@contracts.q2c.example"},
                                    {"full_name": "Casey Consultant"})
        return {"workspaceId": ws, "userId": user}

    def approved_time(self, _: dict[str, Any]) -> dict[str, Any]:
        v = self.workspace()
        self._find_or_create("time_entries", "time_entry", {"workspace_id": int(v["workspaceId"]),
                                                            "user_id": int(v["userId"])},
                             {"date_performed": "2026-01-05", "time_in_minutes": 90, "notes": "design"})
        return v

    def submitted_timesheet(self, _: dict[str, Any]) -> dict[str, Any]:
        v = self.approved_time({})
        sub = self._find_or_create("timesheet_submissions", "timesheet_submission",
                                   {"workspace_id": int(v["workspaceId"]), "user_id": int(v["userId"])},
                                   {"start_date": "2026-01-05", "end_date": "2026-01-11"})
        return {**v, "submissionId": sub}

    def pending_milestone(self, _: dict[str, Any]) -> dict[str, Any]:
        v = self.workspace()
        ms = self._find_or_create("billing_milestones", "billing_milestone", {"workspace_id": int(v["workspaceId"])},
                                  {"title": "Design sign-off", "amount_in_cents": 500000, "due_date": "2026-02-01"})
        return {**v, "milestoneId": ms}

    def handlers(self) -> dict[str, StateFn]:
        return {
            "workspace Acme Rollout exists with reference ENG-1": self.workspace,
            "time entries are logged on workspace Acme Rollout": self.approved_time,
            "a timesheet for workspace Acme Rollout is submitted": self.submitted_timesheet,
            "a pending billing milestone Design sign-off of 5,000.00 exists": self.pending_milestone,
        }
