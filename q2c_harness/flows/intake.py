"""Event intake: pull (Salesforce changed records by polling, or change events; PSA subscribed events; NetSuite
customer payments) and push (PSA webhooks, signature checked). Every event goes into the inbox (dedupe on (source, event id)) and starts its flow's
workflow under the inbox-derived id; the cursors advance only after the events are in the inbox (at least once).

Inbox event ids are business keys where the business fact is what must happen once:
``opportunity-closed-won:<opp id>``, ``quote-accepted:<quote id>``, ``contract-activated:<contract id>``,
``opportunity-contracted:<opp id>``, ``customerPayment:<id>``; PSA events keep the PSA event id (its duplicates carry
the same id). A record polled twice (an overlap window, a later unrelated edit) maps to the same keys: the inbox
keeps one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from q2c_harness.config import SalesforceSettings
from q2c_harness.connectors.payments import verify_signature as verify_gateway_signature
from q2c_harness.connectors.psa import verify_webhook_signature
from q2c_harness.connectors.salesforce_polling import RecordChange
from q2c_harness.engine import Engine
from q2c_harness.errors import AuthError

from . import cash_to_crm, change_order, milestone_to_invoice, quote_to_project, time_to_invoice
from .context import FlowContext

SF_CHANNEL = "/data/ChangeEvents"
PSA_TYPES = (*time_to_invoice.APPROVAL_EVENTS, *milestone_to_invoice.MILESTONE_EVENTS)


class Intake:
    def __init__(self, ctx: FlowContext, *, queue: str | None = None,
                 salesforce: SalesforceSettings | None = None) -> None:
        self.ctx = ctx
        self.engine: Engine = ctx.engine
        self.queue = queue
        self.sf = salesforce or SalesforceSettings()
        self.started: list[str] = []

    def _handle(self, source: str, event_id: str, event_type: str, payload: Any, workflow: str) -> str:
        h = self.engine.handle(source, event_id, event_type, payload, workflow=workflow, queue=self.queue)
        self.started.append(h.workflow_id)
        return h.workflow_id

    # ---- Salesforce ----------------------------------------------------------------------------------------------
    def poll_salesforce(self) -> int:
        store, sf = self.ctx.store, self.ctx.vendors.sf
        cursor = int(store.cursor("salesforce:changeevents", "-2") or -2)

        async def pull() -> list[dict[str, Any]]:
            return [e async for e in sf.change_events(SF_CHANNEL, replay_id=cursor)]

        events = self.ctx.vendors.run(pull())
        n = 0
        for ev in sorted(events, key=lambda e: int(e["replayId"])):
            n += self.route_salesforce(ev)
        if events:
            store.set_cursor("salesforce:changeevents", str(max(int(e["replayId"]) for e in events)))
        return n

    def route_salesforce(self, ev: dict[str, Any]) -> int:
        payload = ev["payload"]
        header = payload.get("ChangeEventHeader", {})
        entity = header.get("entityName")
        n = 0
        for rid in header.get("recordIds", []):
            if entity == "Opportunity" and payload.get("StageName") == "Closed Won":
                self._handle("salesforce", f"opportunity-closed-won:{rid}", "OpportunityChangeEvent",
                             {"opportunity_id": rid, "replay_id": ev["replayId"]}, quote_to_project.WORKFLOW)
                n += 1
            elif entity == "SBQQ__Quote__c" and payload.get("SBQQ__Status__c") == "Accepted":
                self._handle("salesforce", f"quote-accepted:{rid}", "SBQQ__Quote__cChangeEvent",
                             {"quote_id": rid, "replay_id": ev["replayId"]}, change_order.WORKFLOW)
                n += 1
        return n

    def polled_fields(self) -> dict[str, list[str]]:
        """What `route_record` reads of each polled object (the Id and SystemModstamp come anyway)."""
        gate = self.sf.contract
        opp = ["StageName", *([gate.contracted_field] if gate.contracted_field else [])]
        return {"Opportunity": opp, "SBQQ__Quote__c": ["SBQQ__Status__c"],
                "Contract": ["Status", "SBQQ__Opportunity__c"]}

    def route_record(self, change: RecordChange) -> int:
        """A polled record's current state -> the business events it stands for (the same keys as change events)."""
        r, gate, rid = change.record, self.sf.contract, change.id
        payload = {"modstamp": change.modstamp}
        n = 0
        if change.sobject == "Opportunity":
            if r.get("StageName") == "Closed Won":
                self._handle("salesforce", f"opportunity-closed-won:{rid}", "Opportunity",
                             {"opportunity_id": rid, **payload}, quote_to_project.WORKFLOW)
                n += 1
            if gate.contracted_field and r.get(gate.contracted_field) is True:
                self._handle("salesforce", f"opportunity-contracted:{rid}", "Opportunity",
                             {"opportunity_id": rid, **payload}, quote_to_project.WORKFLOW)
                n += 1
        elif change.sobject == "SBQQ__Quote__c" and r.get("SBQQ__Status__c") == gate.accepted_status:
            self._handle("salesforce", f"quote-accepted:{rid}", "SBQQ__Quote__c", {"quote_id": rid, **payload},
                         change_order.WORKFLOW)
            n += 1
        elif change.sobject == "Contract" and r.get("Status") == gate.activated_status and r.get("SBQQ__Opportunity__c"):
            self._handle("salesforce", f"contract-activated:{rid}", "Contract",
                         {"opportunity_id": r["SBQQ__Opportunity__c"], "contract_id": rid, **payload},
                         quote_to_project.WORKFLOW)
            n += 1
        return n

    # ---- PSA -----------------------------------------------------------------------------------------------------
    def poll_psa(self) -> int:
        store, psa = self.ctx.store, self.ctx.vendors.psa
        raw = store.cursor("psa:events")
        cursor = int(raw) if raw else None

        async def pull() -> list[dict[str, Any]]:
            return [e async for e in psa.events(since_id=cursor, event_types=PSA_TYPES)]

        events = self.ctx.vendors.run(pull())
        n = sum(self.route_psa(ev) for ev in sorted(events, key=lambda e: int(e["id"])))
        if events:
            store.set_cursor("psa:events", str(max(int(e["id"]) for e in events)))
        return n

    def route_psa(self, ev: dict[str, Any]) -> int:
        et = ev.get("event_type")
        if et in time_to_invoice.APPROVAL_EVENTS:
            self._handle("psa", str(ev["id"]), et, ev, time_to_invoice.INTAKE_WORKFLOW)
            return 1
        if et in milestone_to_invoice.MILESTONE_EVENTS:
            self._handle("psa", str(ev["id"]), et, ev, milestone_to_invoice.WORKFLOW)
            return 1
        return 0

    def receive_webhook(self, body: bytes, headers: Mapping[str, str], *, secret: str,
                        tolerance_seconds: float | None = None) -> int:
        """A pushed PSA event: signature checked (AuthError when it fails), then the same path as a pulled one."""
        lower = {k.lower(): v for k, v in headers.items()}
        canon = {"X-PSA-Timestamp": lower.get("x-psa-timestamp", ""), "X-PSA-Signature": lower.get("x-psa-signature", "")}
        if not verify_webhook_signature(secret, body, canon, tolerance_seconds=tolerance_seconds):
            raise AuthError("psa: webhook signature does not verify", system="psa", code="BAD_SIGNATURE")
        return self.route_psa(json.loads(body))

    # ---- NetSuite payments ---------------------------------------------------------------------------------------
    def poll_payments(self) -> int:
        store, ns = self.ctx.store, self.ctx.vendors.ns
        cursor = int(store.cursor("netsuite:customerPayment", "0") or 0)

        async def pull() -> list[int]:
            return [int(i["id"]) async for i in ns.list("customerPayment")]

        ids = sorted(i for i in self.ctx.vendors.run(pull()) if i > cursor)
        for pid in ids:
            self._handle("netsuite", f"customerPayment:{pid}", "customerPayment", {"payment_id": str(pid)},
                         cash_to_crm.PAYMENT_WORKFLOW)
        if ids:
            store.set_cursor("netsuite:customerPayment", str(ids[-1]))
        return len(ids)

    # ---- the payment gateway -------------------------------------------------------------------------------------
    def poll_gateway(self) -> int:
        """The gateway's event list since the last event taken in (the fallback when webhooks are late or lost)."""
        gw = self.ctx.vendors.payments
        if gw is None:
            return 0
        store = self.ctx.store
        events = self.ctx.vendors.run(gw.events_since(store.cursor("payments:events") or None,
                                                      list(cash_to_crm.GATEWAY_EVENTS)))
        n = sum(self.route_gateway(ev) for ev in events)
        if events:
            store.set_cursor("payments:events", str(events[-1]["id"]))
        return n

    def route_gateway(self, ev: dict[str, Any]) -> int:
        """Inbox keys are the business facts: a payment once per intent, a refund once per refund."""
        et, obj = ev.get("type"), (ev.get("data") or {}).get("object") or {}
        if et not in cash_to_crm.GATEWAY_EVENTS or not obj.get("id"):
            return 0
        self._handle("payments", f"{et}:{obj['id']}", str(et), ev, cash_to_crm.GATEWAY_WORKFLOW)
        return 1

    def receive_gateway_webhook(self, body: bytes, headers: Mapping[str, str], *, secret: str,
                                tolerance_seconds: float = 300.0) -> int:
        """A pushed gateway event: ``Stripe-Signature`` checked (AuthError when it fails or is older than the
        tolerance: a replayed delivery), then the same path as a listed one."""
        lower = {k.lower(): v for k, v in headers.items()}
        if not verify_gateway_signature(secret, body, lower.get("stripe-signature"), tolerance=tolerance_seconds):
            raise AuthError("payments: webhook signature does not verify (or is outside the replay window)",
                            system="payments", code="BAD_SIGNATURE")
        return self.route_gateway(json.loads(body))

    # ---- billing runs --------------------------------------------------------------------------------------------
    def start_billing(self, engagement_id: str, period: str) -> str | None:
        """Start the billing run for what is staged and unbilled (None when there is nothing to bill)."""
        billed = {r["source_id"] for r in self.ctx.store.billed(engagement_id)}
        candidates = [s["source_id"] for s in self.ctx.store.staged(engagement_id, period)
                      if s["source_id"] not in billed]
        if not candidates:
            return None
        run_id = time_to_invoice.run_id_for(engagement_id, period, candidates)
        return self._handle("q2c", f"billing-run:{run_id}", "billing.run",
                            {"run_id": run_id, "engagement_id": engagement_id, "period": period,
                             "candidates": candidates}, time_to_invoice.RUN_WORKFLOW)
