"""Month-end burst: consultants log time in bulk and submit timesheets, a delivery manager approves them in bulk,
finance watches billing in Salesforce and NetSuite, AR records customer payments in NetSuite.

Run by `q2c load month-end` (which writes the plan and sets LOAD_PLAN, LOAD_DURATION, LOAD_USERS, LOAD_SPAWN_RATE,
LOAD_WORKERS); by hand::

    LOAD_PLAN=.q2c/load/plan.json locust -f q2c_harness/load/locustfiles/month_end.py --headless -H http://127.0.0.1 --csv out
"""

from __future__ import annotations

import os
import random
from collections import deque
from decimal import Decimal
from typing import Any

from locust import FastHttpUser, between, events, task
from locust.runners import WorkerRunner

from common import PLAN, MonthEndShape, send  # noqa: F401  (the shape is picked up by locust)

URLS = PLAN.get("endpoints", {}).get("simulators", {})
TOKENS = PLAN.get("tokens", {})


class Work:
    """This process's share of the plan (batches[index::workers]) and the approvals it owes."""

    def __init__(self) -> None:
        self.batches: deque[dict[str, Any]] | None = None
        self.to_approve: deque[int] = deque()
        self.in_flight = 0
        self.logged = self.submitted = self.approved = 0
        self.done_batches: list[int] = []

    def load(self, environment: Any) -> None:
        if self.batches is not None:
            return
        runner = environment.runner
        index = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        workers = max(1, int(os.environ.get("LOAD_WORKERS") or 1))
        self.batches = deque(PLAN.get("batches", [])[index::workers])

    def done(self) -> bool:
        return self.batches is not None and not self.batches and not self.to_approve and self.in_flight == 0


WORK = Work()


def minutes_for(batch_id: int, i: int) -> int:
    return 15 * (2 + (batch_id * 7 + i * 13) % 30)  # 30 min .. 7h45, in quarter hours


class Consultant(FastHttpUser):
    """Logs a half month of time on one engagement in one bulk call, then submits the timesheet."""

    weight = 10
    wait_time = between(0.5, 2.0)  # think time between timesheets (compressed month-end)
    host = URLS.get("psa", "http://127.0.0.1")

    def on_start(self) -> None:
        WORK.load(self.environment)

    @task
    def timesheet(self) -> None:
        if not WORK.batches:
            if WORK.done():
                self.environment.q2c_done = True
            return
        b = WORK.batches.popleft()
        WORK.in_flight += 1
        try:
            headers = {"Authorization": f"Bearer {TOKENS['psa'][b['user']]}"}
            days = PLAN["days"][str(b["half"])]
            entries = [{"workspace_id": int(b["workspace_id"]), "date_performed": days[i % len(days)],
                        "time_in_minutes": minutes_for(b["id"], i), "notes": f"load batch {b['id']} #{i}"}
                       for i in range(b["count"])]
            r = send(self.client, "POST", "/api/v1/time_entries.json", name="psa: bulk create time_entries",
                     headers=headers, json_body={"time_entries": entries})
            if r is None or r.status_code != 201 and r.status_code != 200:
                return
            WORK.logged += b["count"]
            WORK.done_batches.append(b["id"])
            r = send(self.client, "POST", "/api/v1/timesheet_submissions.json", name="psa: submit timesheet",
                     headers=headers, json_body={"timesheet_submission": {
                         "start_date": b["start"], "end_date": b["end"], "workspace_id": int(b["workspace_id"])}})
            if r is not None and r.status_code in (200, 201):
                body = r.json()
                WORK.to_approve.append(int(body["results"][0]["id"]))
                WORK.submitted += 1
        finally:
            WORK.in_flight -= 1


class DeliveryManager(FastHttpUser):
    """Approves the submitted timesheets in bulk (up to 100 at a time)."""

    fixed_count = 1
    wait_time = between(0.5, 1.5)
    host = URLS.get("psa", "http://127.0.0.1")

    def on_start(self) -> None:
        WORK.load(self.environment)

    @task
    def approve(self) -> None:
        if not WORK.to_approve:
            return
        ids = [WORK.to_approve.popleft() for _ in range(min(100, len(WORK.to_approve)))]
        headers = {"Authorization": f"Bearer {TOKENS['psa'][PLAN['manager']]}"}
        r = send(self.client, "POST", "/api/v1/timesheet_approvals.json", name="psa: bulk approve timesheets",
                 headers=headers, json_body={"submission_ids": ids})
        if r is not None and r.status_code in (200, 201):
            WORK.approved += len(ids)
        else:
            WORK.to_approve.extend(ids)


class Finance(FastHttpUser):
    """Watches the month close: opportunities' invoice status (SOQL) and the latest invoices (SuiteQL)."""

    fixed_count = 1
    wait_time = between(2.0, 5.0)
    host = URLS.get("salesforce", "http://127.0.0.1")

    @task(2)
    def crm_status(self) -> None:
        q = ("SELECT Id, Name, StageName, Invoice_Status__c, Amount_Invoiced__c FROM Opportunity "
             "WHERE StageName = 'Closed Won' LIMIT 50")
        send(self.client, "GET", f"/services/data/v59.0/query/?q={q.replace(' ', '+')}", name="sf: SOQL opportunities",
             headers={"Authorization": f"Bearer {TOKENS['salesforce']}"})

    @task(1)
    def latest_invoices(self) -> None:
        send(self.client, "POST", f"{URLS['netsuite']}/services/rest/query/v1/suiteql?limit=50",
             name="ns: SuiteQL latest invoices", json_body={"q": "SELECT id, tranid, total FROM invoice ORDER BY id DESC"},
             headers={"Authorization": f"Bearer {TOKENS['netsuite']}", "Prefer": "transient"})


class AccountsReceivable(FastHttpUser):
    """Customer payments arriving: an open invoice found by SuiteQL is paid in full (customerPayment)."""

    fixed_count = 1
    wait_time = between(1.0, 3.0)
    host = URLS.get("netsuite", "http://127.0.0.1")

    @task
    def payment(self) -> None:
        headers = {"Authorization": f"Bearer {TOKENS['netsuite']}", "Prefer": "transient"}
        r = send(self.client, "POST", "/services/rest/query/v1/suiteql?limit=20", name="ns: SuiteQL open invoices",
                 headers=headers, json_body={"q": "SELECT id, entity, amountremaining FROM invoice "
                                                  "WHERE amountremaining > 0 ORDER BY id"})
        if r is None or r.status_code != 200:
            return
        items = [i for i in r.json().get("items", []) if Decimal(str(i.get("amountremaining") or 0)) > 0]
        if not items:
            return
        inv = random.choice(items)
        amount = str(Decimal(str(inv["amountremaining"])))
        send(self.client, "POST", "/services/rest/record/v1/customerPayment", name="ns: create customerPayment",
             headers={"Authorization": f"Bearer {TOKENS['netsuite']}"},
             json_body={"customer": {"id": str(inv["entity"])}, "payment": amount,
                        "apply": {"items": [{"doc": {"id": str(inv["id"])}, "amount": amount}]}})


@events.quitting.add_listener
def _summary(environment: Any, **_: Any) -> None:
    path = os.environ.get("LOAD_WORK_SUMMARY")
    if path:
        import json

        idx = environment.runner.worker_index if isinstance(environment.runner, WorkerRunner) else "local"
        with open(f"{path}.{idx}.json", "w") as f:
            json.dump({"logged": WORK.logged, "submitted": WORK.submitted, "approved": WORK.approved,
                       "batches_left": len(WORK.batches or []), "approvals_left": len(WORK.to_approve),
                       "done_batches": WORK.done_batches}, f)
