"""Flow (d): change order signed in the CRM (an accepted CPQ amendment quote on the engagement's opportunity) ->
new contract version (baseline kept) -> budget and contract value in the PSA (a budget change order), contract
value and billing plan in NetSuite (a contract line per change order; the not-to-exceed cap or an extra milestone).

Message payload: ``{"quote_id": "a0q..."}`` (from a Salesforce ``SBQQ__Quote__cChangeEvent``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from q2c_harness.billing import apply_change_order
from q2c_harness.canonical import ChangeOrder, Milestone, StatementOfWork
from q2c_harness.connectors.mapping import psa as psamap
from q2c_harness.connectors.mapping.common import to_cents, to_decimal
from q2c_harness.engine.events import CHANGE_ORDER_APPLIED
from q2c_harness.errors import BusinessError

from .context import FlowContext, load, owned
from .quote_to_project import write_contract

WORKFLOW = "q2c.flows.change_order"
FLOW = "change_order"


def read_amendment(ctx: FlowContext, quote_id: str) -> dict[str, Any]:
    return ctx.vendors.run(ctx.vendors.sf.get("SBQQ__Quote__c", quote_id))


def apply(ctx: FlowContext, quote: dict[str, Any], cid: str) -> dict[str, Any]:
    """Fold the change order into the stored statement of work once (a replay finds it applied)."""
    opp_id = quote.get("SBQQ__Opportunity2__c")
    data = ctx.store.engagement_by_opportunity(str(opp_id))
    if data is None:
        raise BusinessError(f"salesforce: amendment {quote['Id']} is on opportunity {opp_id}, which has no "
                            "activated engagement", system="salesforce", code="UNKNOWN_ENGAGEMENT")
    co_id = f"CO-{quote['Id']}"
    existing = next((c for c in data["change_orders"] if c["change_order_id"] == co_id), None)
    if existing is not None:
        return {"data": data, "co": existing}
    sow = load(StatementOfWork, data["sow"])
    delta = to_decimal(quote.get("SBQQ__NetAmount__c") or 0, what="SBQQ__NetAmount__c", system="salesforce")
    co = ChangeOrder(correlation_id=cid, xref={"salesforce": quote["Id"]}, change_order_id=co_id, sow_id=sow.sow_id,
                     number=len(data["change_orders"]) + 1, value_delta=delta, budget_delta=delta,
                     approval_state="approved", asc606_classification="prospective")
    new_sow = apply_change_order(sow, co)
    plan = new_sow.billing_plan
    if plan.kind == "time_and_materials" and plan.not_to_exceed is not None:
        plan = plan.model_copy(update={"not_to_exceed": plan.not_to_exceed + delta})
    elif plan.kind == "fixed_fee":
        due = quote.get("SBQQ__EndDate__c") or (plan.milestones[-1].due_date.isoformat() if plan.milestones else None)
        ms = load(Milestone, {"correlation_id": cid, "xref": {"salesforce": quote["Id"]},
                              "milestone_id": f"{sow.sow_id}-{co_id}", "sow_id": sow.sow_id,
                              "name": f"Change order {co.number}", "amount": str(delta), "due_date": due})
        plan = plan.model_copy(update={"fee": plan.fee + delta, "milestones": [*plan.milestones, ms]})
    new_sow = new_sow.model_copy(update={"billing_plan": plan})
    entry = {"change_order_id": co_id, "number": co.number, "value_delta": str(delta), "budget_delta": str(delta),
             "version": new_sow.current.version, "quote_id": quote["Id"]}
    data = {**data, "sow": new_sow.model_dump(mode="json"), "change_orders": [*data["change_orders"], entry]}
    ctx.store.save_engagement(data["engagement"]["engagement_id"], data["opportunity_id"],
                              data["keys"]["workspace_id"], data)
    ctx.engine.decide("change_order.apply", {"change_order_id": co_id, "delta": str(delta)},
                      {"version": new_sow.current.version, "value": str(new_sow.current.value),
                       "baseline": str(new_sow.baseline.value)})
    return {"data": data, "co": entry}


def register(ctx: FlowContext) -> None:
    engine = ctx.engine

    @engine.step("q2c.co.read")
    def s_read(quote_id: str) -> dict[str, Any]:
        return read_amendment(ctx, quote_id)

    @engine.step("q2c.co.apply")
    def s_apply(quote: dict[str, Any], cid: str) -> dict[str, Any]:
        return apply(ctx, quote, cid)

    @engine.step("q2c.co.psa")
    def s_psa(applied: dict[str, Any]) -> dict[str, Any]:
        data, co = applied["data"], applied["co"]
        sow = load(StatementOfWork, data["sow"])
        ws = data["keys"]["workspace_id"]
        psa = ctx.vendors.psa
        fields = {"workspace_id": int(ws), "new_budget_in_cents": to_cents(sow.current.budget),
                  "new_price_in_cents": to_cents(sow.current.value), "reason": f"{co['change_order_id']}"}

        async def find() -> Any:
            refs = await psa.find_external_references(service_name=psamap.SERVICE_NAME,
                                                      service_model="ChangeOrder",
                                                      service_model_ref=co["change_order_id"])
            return {"id": str(refs[0]["subject_id"])} if refs else None

        async def create() -> Any:
            found = await find()
            if found:
                return found
            rec = await psa.create("budget_change_orders", fields)
            await psa.create("external_references", {"subject_type": "Workspace", "subject_id": int(ws),
                                                     "service_name": psamap.SERVICE_NAME,
                                                     "service_model": "ChangeOrder",
                                                     "service_model_ref": co["change_order_id"]})
            return {"id": str(rec["id"])}

        out = ctx.write(FLOW, co["change_order_id"], "psa-budget", system="psa", operation="budget_change_order",
                        request=fields, call=lambda k: ctx.vendors.run(create()),
                        lookup=lambda k: ctx.vendors.run(find()))
        if sow.billing_plan.kind == "fixed_fee":
            ms = sow.billing_plan.milestones[-1]
            mf = psamap.milestone_payload(ms, workspace_id=ws)
            rec = ctx.write(FLOW, ms.milestone_id, "psa-milestone", system="psa", operation="milestone.upsert",
                            request=mf, call=lambda k: ctx.vendors.run(psa.upsert_by_reference(
                                "billing_milestones", mf, service_name=psamap.SERVICE_NAME,
                                service_model="Milestone", service_model_ref=ms.milestone_id))[0])
            ids = {**data["keys"].get("milestone_ids", {}), ms.milestone_id: str(rec["id"])}
            data = {**data, "keys": {**data["keys"], "milestone_ids": ids}}
            ctx.store.save_engagement(data["engagement"]["engagement_id"], data["opportunity_id"], ws, data)
        return {"budget_change_order_id": out["id"]}

    @engine.step("q2c.co.netsuite")
    def s_netsuite(applied: dict[str, Any]) -> dict[str, Any]:
        data = ctx.store.engagement(applied["data"]["engagement"]["engagement_id"])
        assert data is not None
        out = write_contract(ctx, data, data["keys"]["customer_id"], data["keys"])
        co = applied["co"]
        engine.publish(CHANGE_ORDER_APPLIED, {"change_order_id": co["change_order_id"],
                                              "engagement_id": data["engagement"]["engagement_id"],
                                              "version": co["version"], "value_delta": co["value_delta"],
                                              "current_value": data["sow"]["current"]["value"],
                                              "baseline_value": data["sow"]["baseline"]["value"]},
                       key=f"{CHANGE_ORDER_APPLIED}:{co['change_order_id']}")
        return out

    def flow(message: dict[str, Any]) -> dict[str, Any]:
        quote = s_read(message["payload"]["quote_id"])
        if quote.get("SBQQ__Type__c") != "Amendment" or quote.get("SBQQ__Status__c") != "Accepted":
            return {"status": "ignored", "reason": "not an accepted amendment"}
        applied = s_apply(quote, message["correlation_id"])
        psa = s_psa(applied)
        ns = s_netsuite(applied)
        return {"status": "applied", **applied["co"], **psa, **ns}

    engine.workflow(WORKFLOW)(owned(FLOW, ctx, flow))


