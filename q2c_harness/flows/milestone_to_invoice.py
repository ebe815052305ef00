"""Flow (c): milestone accepted in the PSA -> fixed-fee invoice in NetSuite (billed once, only when accepted) ->
status to Salesforce.

Message payload: the PSA ``billing_milestone:accepted`` event.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from q2c_harness.billing import assemble_invoice, bill_milestone, determine_tax
from q2c_harness.billing.errors import MilestoneRejected
from q2c_harness.canonical import Client, Engagement, Milestone, StatementOfWork
from q2c_harness.engine.events import MILESTONE_APPROVED
from q2c_harness.errors import BusinessError

from . import tax_service
from .cash_to_crm import post_invoice_status
from .context import FlowContext, load, owned
from .time_to_invoice import write_invoice

WORKFLOW = "q2c.flows.milestone_to_invoice"
FLOW = "milestone"
MILESTONE_EVENTS = ("billing_milestone:accepted", "billing_milestone:rejected")


def plan_milestone_invoice(ctx: FlowContext, event: dict[str, Any], record: dict[str, Any],
                           correlation_id: str) -> dict[str, Any]:
    data = ctx.store.engagement_by_workspace(str(record["workspace_id"]))
    if data is None:
        raise BusinessError(f"psa: workspace {record['workspace_id']} belongs to no activated engagement",
                            system="psa", code="UNKNOWN_WORKSPACE")
    sow = load(StatementOfWork, data["sow"])
    engagement = load(Engagement, data["engagement"])
    client = load(Client, data["client"])
    by_psa = {v: k for k, v in data["keys"].get("milestone_ids", {}).items()}
    milestone_id = by_psa.get(str(record["id"]))
    if milestone_id is None or sow.billing_plan.kind != "fixed_fee":
        raise BusinessError(f"psa: billing milestone {record['id']} is not in the billing plan of "
                            f"{engagement.engagement_id}", system="psa", code="UNKNOWN_MILESTONE")
    planned = next(m for m in sow.billing_plan.milestones if m.milestone_id == milestone_id)
    accepted_at = record.get("accepted_at")
    state = record.get("acceptance_state")
    if event.get("event_type") == "billing_milestone:rejected" and state != "accepted":
        # the client rejected it: not billed; delivery reworks it, the client accepts, then the item is retried
        # (or the acceptance event bills it: the invoice is keyed by the milestone, so it is billed once)
        exc = MilestoneRejected(
            f"engagement {engagement.engagement_id}: milestone {milestone_id} ({planned.name}, {planned.amount} "
            f"{engagement.currency}) is {state} in the PSA: {record.get('rejection_reason') or 'no reason given'}",
            ref=milestone_id)
        exc.owner = ctx.owner("milestone_acceptance")  # type: ignore[attr-defined]
        raise exc
    milestone = load(Milestone, {**planned.model_dump(mode="json"),
                                          "status": "accepted" if state == "accepted" else "completed",
                                          "accepted_on": str(accepted_at)[:10] if accepted_at else None})
    invoice_id = f"INV-{milestone_id}"
    invoice_date = milestone.accepted_on or date.today()
    holder = ctx.store.claim_source(f"M-{milestone_id}", invoice_id, engagement.engagement_id, milestone.amount) \
        if milestone.status == "accepted" else None
    billed_before = sum((Decimal(r["amount"]) for r in ctx.store.billed(engagement.engagement_id)
                         if r["source_id"].startswith("M-") and r["invoice_id"] != invoice_id), Decimal("0"))
    line = bill_milestone(milestone, invoice_id=invoice_id, invoice_date=invoice_date, contract=sow.current,
                          invoiced_to_date=billed_before,
                          billed_milestone_ids=[milestone_id] if holder not in (None, invoice_id) else [])
    tax = determine_tax(ctx.ref.entity(engagement.contracting_entity_id), client, ctx.ref.tax_rates)
    invoice = assemble_invoice(invoice_id=invoice_id, correlation_id=correlation_id, sow_id=sow.sow_id,
                               engagement_id=engagement.engagement_id, client_id=client.client_id,
                               contracting_entity_id=engagement.contracting_entity_id, invoice_date=invoice_date,
                               currency=engagement.currency, contract_version=sow.current.version, lines=[line],
                               tax=tax, customer_vat_id=client.vat_id)
    return {"invoice": invoice.model_dump(mode="json"), "tax_rate": str(tax.rate_percent), "keys": data["keys"],
            "opportunity_id": data["opportunity_id"], "milestone_id": milestone_id}


def register(ctx: FlowContext) -> None:
    engine = ctx.engine

    @engine.step("q2c.milestone.plan")
    def s_plan(event: dict[str, Any], cid: str) -> dict[str, Any]:
        record = ctx.vendors.run(ctx.vendors.psa.get("billing_milestones", event["subject_id"]))
        plan = plan_milestone_invoice(ctx, event, record, cid)
        engine.decide("billing.milestone", {"milestone_id": plan["milestone_id"], "psa_id": record["id"],
                                            "acceptance_state": record.get("acceptance_state")},
                      {"invoice_id": plan["invoice"]["invoice_id"], "amount": plan["invoice"]["net_total"]})
        return plan

    @engine.step("q2c.milestone.tax")
    def s_tax(plan: dict[str, Any]) -> dict[str, Any]:
        return tax_service.quote_tax(ctx, plan)

    @engine.step("q2c.milestone.tax_commit")
    def s_tax_commit(plan: dict[str, Any]) -> dict[str, Any]:
        return tax_service.commit_tax(ctx, plan["invoice"]["invoice_id"])

    @engine.step("q2c.milestone.invoice")
    def s_invoice(plan: dict[str, Any]) -> dict[str, Any]:
        return write_invoice(ctx, plan)

    @engine.step("q2c.milestone.status")
    def s_status(plan: dict[str, Any], ns_invoice: dict[str, Any]) -> dict[str, Any]:
        engine.publish(MILESTONE_APPROVED, {"milestone_id": plan["milestone_id"],
                                            "invoice_id": plan["invoice"]["invoice_id"]},
                       key=f"{MILESTONE_APPROVED}:{plan['milestone_id']}")
        return post_invoice_status(ctx, plan["opportunity_id"], plan["invoice"], ns_invoice["id"])

    def flow(message: dict[str, Any]) -> dict[str, Any]:
        plan = s_plan(message["payload"], message["correlation_id"])
        if tax_service.uses_tax_service(ctx):
            plan = s_tax(plan)
        ns_invoice = s_invoice(plan)
        if tax_service.uses_tax_service(ctx):
            s_tax_commit(plan)
        s_status(plan, ns_invoice)
        return {"status": "invoiced", "invoice_id": plan["invoice"]["invoice_id"], "netsuite_id": ns_invoice["id"]}

    engine.workflow(WORKFLOW)(owned(FLOW, ctx, flow))
