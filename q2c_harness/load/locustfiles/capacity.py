"""Each simulator on its own, for capacity. Pick one with LOAD_SIM=salesforce|netsuite|psa (or locust's class
picker); URLs from LOAD_ENDPOINTS (the `q2c sim serve --endpoints-file` JSON). Users mint their own tokens through
the simulator's admin API in `on_start` and seed the few records they read.

    q2c sim serve --http --port-base 0 --endpoints-file .q2c/endpoints.json &
    LOAD_SIM=psa LOAD_ENDPOINTS=.q2c/endpoints.json PYTHONPATH=q2c_harness/load/locustfiles \\
        locust -f q2c_harness/load/locustfiles/capacity.py --headless -u 50 -r 50 -t 60s --csv reports/load/capacity-psa
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

import requests
from locust import FastHttpUser, between, task

from common import send

SPEC: dict[str, Any] = json.loads(open(os.environ["LOAD_ENDPOINTS"]).read()) if os.environ.get("LOAD_ENDPOINTS") else {}
URLS = SPEC.get("simulators", {})
ONLY = os.environ.get("LOAD_SIM")
THINK = between(float(os.environ.get("LOAD_THINK_MIN", "0.1")), float(os.environ.get("LOAD_THINK_MAX", "0.5")))


def _admin(url: str, path: str, body: Any = None) -> Any:
    r = requests.post(f"{url}{path}", json=body, timeout=30, verify=SPEC.get("ca_bundle") or True)
    r.raise_for_status()
    return r.json()


class SalesforceReader(FastHttpUser):
    """sObject GET and SOQL."""

    weight = 1 if ONLY in (None, "salesforce") else 0
    wait_time = THINK
    host = URLS.get("salesforce", "http://127.0.0.1")

    def on_start(self) -> None:
        tok = _admin(self.host, "/__admin/salesforce/tokens", {"tenant": "capacity"})["access_token"]
        self.h = {"Authorization": f"Bearer {tok}"}
        r = self.client.post("/services/data/v59.0/sobjects/Account", json={"Name": "Capacity Inc",
                                                                            "BillingCountry": "US"}, headers=self.h)
        self.account = r.json()["id"]

    @task(3)
    def get_account(self) -> None:
        send(self.client, "GET", f"/services/data/v59.0/sobjects/Account/{self.account}", name="sf: GET Account",
             headers=self.h)

    @task(1)
    def soql(self) -> None:
        send(self.client, "GET", "/services/data/v59.0/query/?q=SELECT+Id,Name+FROM+Account+LIMIT+20",
             name="sf: SOQL Account", headers=self.h)


class NetSuiteReader(FastHttpUser):
    """Record GET and SuiteQL."""

    weight = 1 if ONLY in (None, "netsuite") else 0
    wait_time = THINK
    host = URLS.get("netsuite", "http://127.0.0.1")

    def on_start(self) -> None:
        tok = _admin(self.host, "/__admin/netsuite/accounts/CAPACITY/access-tokens")["access_token"]
        self.h = {"Authorization": f"Bearer {tok}"}
        r = self.client.post("/services/rest/record/v1/customer", headers=self.h,
                             json={"companyName": f"Capacity {random.random():.6f}", "subsidiary": {"id": "1"}})
        self.customer = r.headers.get("Location", "/1").rsplit("/", 1)[-1]

    @task(3)
    def get_customer(self) -> None:
        send(self.client, "GET", f"/services/rest/record/v1/customer/{self.customer}", name="ns: GET customer",
             headers=self.h)

    @task(1)
    def suiteql(self) -> None:
        send(self.client, "POST", "/services/rest/query/v1/suiteql?limit=20", name="ns: SuiteQL customer",
             headers={**self.h, "Prefer": "transient"}, json_body={"q": "SELECT id, companyname FROM customer"})


class PsaTimeEntries(FastHttpUser):
    """Time-entry create and list, as a consultant."""

    weight = 1 if ONLY in (None, "psa") else 0
    wait_time = THINK
    host = URLS.get("psa", "http://127.0.0.1")

    def on_start(self) -> None:
        admin = _admin(self.host, "/__admin/psa/tokens", {"account": "capacity"})["access_token"]
        h = {"Authorization": f"Bearer {admin}"}
        u = self.client.post("/api/v1/users.json", headers=h, json={"user": {
            "full_name": "Capacity User", "email_address": f"cap.{random.random():.8f}@q2c.test"}}).json()
        uid = u["results"][0]["id"]
        ws = self.client.post("/api/v1/workspaces.json", headers=h, json={"workspace": {
            "title": "Capacity", "currency": "USD"}}).json()
        self.ws = int(ws["results"][0]["id"])
        tok = _admin(self.host, "/__admin/psa/tokens", {"account": "capacity", "user_id": str(uid)})["access_token"]
        self.h = {"Authorization": f"Bearer {tok}"}

    @task(1)
    def create(self) -> None:
        send(self.client, "POST", "/api/v1/time_entries.json", name="psa: create time_entry", headers=self.h,
             json_body={"time_entry": {"workspace_id": self.ws, "date_performed": "2026-01-15",
                                       "time_in_minutes": 60}})

    @task(2)
    def list_entries(self) -> None:
        send(self.client, "GET", f"/api/v1/time_entries.json?workspace_id={self.ws}&per_page=50",
             name="psa: list time_entries", headers=self.h)
