"""Flow (a): quote accepted / Opportunity Closed Won -> customer, project, contract and billing schedule in NetSuite,
workspace and stories in the PSA -> project activated, keys written back on the Opportunity.

Message payload: ``{"opportunity_id": "006..."}`` (from a Salesforce ``OpportunityChangeEvent``).
"""

from __future__ import annotations

from typing import Any

from datetime import date
from decimal import Decimal

from q2c_harness.billing import assemble_invoice, determine_tax, round_money, validate_milestone_schedule
from q2c_harness.canonical import Client, Engagement, FxPolicy, InvoiceLine, RetainerPlan, StatementOfWork
from q2c_harness.connectors.mapping import netsuite as nsmap
from q2c_harness.connectors.mapping import psa as psamap
from q2c_harness.connectors.mapping import salesforce as sfmap
from q2c_harness.connectors.mapping.common import external_id
from q2c_harness.engine.events import PROJECT_ACTIVATED, QUOTE_ACCEPTED
from q2c_harness.errors import BusinessError

from .cash_to_crm import post_invoice_status
from .context import FlowContext, load, owned
from .reference import entity_eid, item_eid
from .time_to_invoice import retainer_invoice_id, write_invoice

WORKFLOW = "q2c.flows.quote_to_project"
FLOW = "quote"

RETAINER_FIELD = "Q2C_Retainer_Amount__c"  # on the Opportunity: the retainer the client pays up front
# on the Opportunity: the T&M terms sales agreed (the firm's default rate card and FX policy when left blank)
RATE_CARD_FIELD, FX_TYPE_FIELD, FX_DATE_FIELD, CAP_FIELD = (
    "Q2C_Rate_Card__c", "Q2C_FX_Rate_Type__c", "Q2C_FX_Rate_Date_Rule__c", "Q2C_Not_To_Exceed__c")
SF_KEY_FIELDS = {"engagement": "Q2C_Engagement_Id__c", "project": "NetSuite_Project_Id__c",
                 "workspace": "PSA_Workspace_Id__c"}


def ids_for(opportunity_id: str) -> dict[str, str]:
    return {"engagement_id": f"ENG-{opportunity_id}", "sow_id": f"SOW-{opportunity_id}",
            "billing_plan_id": f"BP-{opportunity_id}"}


def task_eid(line_id: str) -> str:
    return external_id("TASK", line_id)


def contract_eid(sow_id: str) -> str:
    return external_id("CONTRACT", sow_id)


def schedule_eid(billing_plan_id: str) -> str:
    return external_id("BILLPLAN", billing_plan_id)


def read_quote(ctx: FlowContext, opportunity_id: str) -> dict[str, Any]:
    async def go(v: Any) -> dict[str, Any]:
        sf = v.sf
        opp = await sf.get("Opportunity", opportunity_id)
        account = await sf.get("Account", opp["AccountId"])
        quotes = await sf.query_all(
            "SELECT Id, Name, SBQQ__Account__c, SBQQ__Opportunity2__c, SBQQ__Primary__c, SBQQ__Status__c, "
            "SBQQ__Type__c, SBQQ__StartDate__c, SBQQ__EndDate__c, SBQQ__NetAmount__c, CurrencyIsoCode "
            f"FROM SBQQ__Quote__c WHERE SBQQ__Opportunity2__c = '{opportunity_id}'")
        primary = [q for q in quotes if q.get("SBQQ__Primary__c") and q.get("SBQQ__Type__c") != "Amendment"]
        if len(primary) != 1:
            raise BusinessError(f"salesforce: opportunity {opportunity_id} has {len(primary)} primary quotes",
                                system="salesforce", code="NO_PRIMARY_QUOTE", details={"opportunity": opportunity_id})
        lines = await sf.query_all(
            "SELECT Id, Name, SBQQ__Quote__c, SBQQ__Quantity__c, SBQQ__NetPrice__c, SBQQ__NetTotal__c, "
            "SBQQ__ChargeType__c, SBQQ__BillingFrequency__c, SBQQ__StartDate__c, SBQQ__EndDate__c, "
            f"SBQQ__Description__c, SBQQ__Product__c FROM SBQQ__QuoteLine__c WHERE SBQQ__Quote__c = '{primary[0]['Id']}'")
        lines.sort(key=lambda r: r["Id"])
        return {"opportunity": opp, "account": account, "quote": primary[0], "lines": lines}
    return ctx.vendors.call(go)


def tm_terms(ctx: FlowContext, opp: dict[str, Any]) -> dict[str, Any]:
    """Rate card, FX policy and cap of a time-and-materials contract, from the opportunity, else the firm's
    defaults (BusinessError when the rate card is unknown)."""
    card = opp.get(RATE_CARD_FIELD) or ctx.ref.default_rate_card
    if card not in ctx.ref.rate_cards:
        raise BusinessError(f"opportunity {opp['Id']} names rate card {card!r}, which is not published",
                            system="salesforce", code="UNKNOWN_RATE_CARD", details={"rate_card": card})
    policy = ctx.ref.fx_policy
    if opp.get(FX_TYPE_FIELD) or opp.get(FX_DATE_FIELD):
        try:
            policy = FxPolicy(rate_type=opp.get(FX_TYPE_FIELD) or policy.rate_type,
                              rate_date_rule=opp.get(FX_DATE_FIELD) or policy.rate_date_rule)
        except ValueError as exc:
            raise BusinessError(f"opportunity {opp['Id']}: FX policy {opp.get(FX_TYPE_FIELD)!r}/"
                                f"{opp.get(FX_DATE_FIELD)!r} is not one the core knows", system="salesforce",
                                code="BAD_FX_POLICY") from exc
    cap = opp.get(CAP_FIELD)
    return {"rate_card_id": card, "fx_policy": policy,
            "not_to_exceed": round_money(Decimal(str(cap)), opp.get("CurrencyIsoCode") or "USD")
            if cap not in (None, "") else None}


def plan_engagement(ctx: FlowContext, data: dict[str, Any], correlation_id: str) -> dict[str, Any]:
    """Pure: the canonical client, engagement and statement of work for a closed-won quote (raises BusinessError)."""
    opp, account, quote, lines = data["opportunity"], data["account"], data["quote"], data["lines"]
    if opp.get("StageName") != "Closed Won":
        raise BusinessError(f"opportunity {opp['Id']} is {opp.get('StageName')!r}, not Closed Won",
                            system="salesforce", code="NOT_CLOSED_WON")
    ids = ids_for(opp["Id"])
    client = sfmap.client_from_account(account, correlation_id=correlation_id,
                                       default_currency=quote.get("CurrencyIsoCode"))
    client = client.model_copy(update={"client_id": account["Id"]})
    entity = ctx.ref.contracting_entity(client.country)
    terms = sfmap.quote_terms(opp, quote, lines)
    if not terms.lines:
        raise BusinessError(f"quote {quote['Id']} has no lines", system="salesforce", code="EMPTY_QUOTE")
    plan = sfmap.billing_plan_from_quote(terms, billing_plan_id=ids["billing_plan_id"], sow_id=ids["sow_id"],
                                         correlation_id=correlation_id, **tm_terms(ctx, opp))
    if plan.kind == "fixed_fee":
        validate_milestone_schedule(plan, terms.currency)
    retainer = opp.get(RETAINER_FIELD)
    if retainer not in (None, "", 0) and plan.kind == "time_and_materials":
        # a retainer: the client pays it up front (a liability), approved time at the rate card draws it down
        plan = RetainerPlan(correlation_id=correlation_id, billing_plan_id=ids["billing_plan_id"],
                            retainer_amount=round_money(Decimal(str(retainer)), terms.currency),
                            rate_card_id=plan.rate_card_id, fx_policy=plan.fx_policy)
    engagement = sfmap.engagement_from_quote(terms, engagement_id=ids["engagement_id"], client_id=client.client_id,
                                             contracting_entity_id=entity.entity_id, correlation_id=correlation_id)
    sow = sfmap.statement_of_work_from_quote(terms, sow_id=ids["sow_id"], engagement_id=ids["engagement_id"],
                                             billing_plan=plan, correlation_id=correlation_id)
    return {"client": client.model_dump(mode="json"), "engagement": engagement.model_dump(mode="json"),
            "sow": sow.model_dump(mode="json"), "original_baseline": sow.baseline.model_dump(mode="json"),
            "lines": [{"line_id": ln.line_id, "description": ln.description, "quantity": str(ln.quantity),
                       "net_total": str(ln.net_total), "start": ln.start_date.isoformat() if ln.start_date else None,
                       "end": ln.end_date.isoformat() if ln.end_date else None, "unit_price": str(ln.unit_price),
                       # a Usage line billed monthly in arrears is metered: the PSA reports its units
                       "metered": ln.charge == "time_and_materials" and ln.billing_frequency is not None}
                      for ln in terms.lines],
            "opportunity_id": opp["Id"], "quote_id": quote["Id"], "change_orders": []}


def register(ctx: FlowContext) -> None:
    engine = ctx.engine
    step = engine.step

    @step("q2c.quote.read")
    def s_read(opportunity_id: str) -> dict[str, Any]:
        return read_quote(ctx, opportunity_id)

    @step("q2c.quote.plan")
    def s_plan(data: dict[str, Any], cid: str) -> dict[str, Any]:
        plan = plan_engagement(ctx, data, cid)
        engine.decide("quote.contracting_entity", {"client_country": plan["client"]["country"],
                                                  "opportunity": plan["opportunity_id"]},
                      {"contracting_entity": plan["engagement"]["contracting_entity_id"]})
        return plan

    @step("q2c.quote.customer")
    def s_customer(plan: dict[str, Any]) -> dict[str, Any]:
        client = load(Client, plan["client"])
        eng = load(Engagement, plan["engagement"])
        sub = ctx.ns_id("subsidiary", entity_eid(eng.contracting_entity_id), what="subsidiary")
        cur = ctx.currency_id(eng.currency)
        body = nsmap.customer_payload(client, subsidiary_id=sub, currency_id=cur)
        eid = nsmap.customer_external_id(client.client_id)
        return ctx.write(FLOW, client.client_id, "ns-customer", system="netsuite", operation="customer.upsert",
                         request=body, call=lambda k: ctx.ns_put("customer", eid, body))

    @step("q2c.quote.project")
    def s_project(plan: dict[str, Any], customer_id: str) -> dict[str, Any]:
        eng = load(Engagement, plan["engagement"])
        sow = load(StatementOfWork, plan["sow"])
        sub = ctx.ns_id("subsidiary", entity_eid(eng.contracting_entity_id), what="subsidiary")
        body = nsmap.job_payload(eng, customer_id=customer_id, subsidiary_id=sub,
                                 currency_id=ctx.currency_id(eng.currency), sow=sow)
        body["entityStatus"] = "2"
        job = ctx.write(FLOW, eng.engagement_id, "ns-job", system="netsuite", operation="job.upsert", request=body,
                        call=lambda k: ctx.ns_put("job", nsmap.job_external_id(eng.engagement_id), body))
        tasks = {}
        for ln in plan["lines"]:
            tbody = {"title": ln["description"][:256], "project": {"id": job["id"]},
                     "plannedWork": ln["quantity"], "status": "NOTSTART", "startDate": ln["start"],
                     "endDate": ln["end"]}
            tbody = {k: v for k, v in tbody.items() if v is not None}
            tasks[ln["line_id"]] = ctx.write(
                FLOW, f"{eng.engagement_id}:{ln['line_id']}", "ns-task", system="netsuite",
                operation="projectTask.upsert", request=tbody,
                call=lambda k, tb=tbody, lid=ln["line_id"]: ctx.ns_put("projectTask", task_eid(lid), tb))["id"]
        return {"job_id": job["id"], "task_ids": tasks}

    @step("q2c.quote.workspace")
    def s_workspace(plan: dict[str, Any]) -> dict[str, Any]:
        eng = load(Engagement, plan["engagement"])
        sow = load(StatementOfWork, plan["sow"])
        client = load(Client, plan["client"])
        fields = psamap.workspace_payload(eng, sow, client_name=client.name)
        fields["status"] = "in_progress"
        psa = ctx.vendors.psa
        keys = psamap.engagement_reference(eng.engagement_id)
        ws = ctx.write(FLOW, eng.engagement_id, "psa-workspace", system="psa", operation="workspace.upsert",
                       request=fields, call=lambda k: ctx.vendors.run(psa.upsert_by_reference(
                           "workspaces", fields, **keys))[0])
        ws_id = str(ws["id"])
        stories = {}
        for ln in plan["lines"]:
            sfields = {"title": ln["description"][:255], "workspace_id": int(ws_id), "story_type": "deliverable"}
            rec = ctx.write(FLOW, f"{eng.engagement_id}:{ln['line_id']}", "psa-story", system="psa",
                            operation="story.upsert", request=sfields,
                            call=lambda k, sf_=sfields, lid=ln["line_id"]: ctx.vendors.run(psa.upsert_by_reference(
                                "stories", sf_, service_name=psamap.SERVICE_NAME, service_model="QuoteLine",
                                service_model_ref=lid))[0])
            stories[ln["line_id"]] = str(rec["id"])
        milestones = {}
        if sow.billing_plan.kind == "fixed_fee":
            for m in sow.billing_plan.milestones:
                mfields = psamap.milestone_payload(m, workspace_id=ws_id)
                rec = ctx.write(FLOW, m.milestone_id, "psa-milestone", system="psa", operation="milestone.upsert",
                                request=mfields,
                                call=lambda k, mf=mfields, mid=m.milestone_id: ctx.vendors.run(
                                    psa.upsert_by_reference("billing_milestones", mf,
                                                            service_name=psamap.SERVICE_NAME,
                                                            service_model="Milestone", service_model_ref=mid))[0])
                milestones[m.milestone_id] = str(rec["id"])
        return {"workspace_id": ws_id, "story_ids": stories, "milestone_ids": milestones}

    @step("q2c.quote.contract")
    def s_contract(plan: dict[str, Any], customer_id: str, project: dict[str, Any]) -> dict[str, Any]:
        return write_contract(ctx, plan, customer_id, project)

    @step("q2c.quote.activate")
    def s_activate(plan: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
        eng = load(Engagement, plan["engagement"])
        data = {**plan, "keys": keys}
        ctx.store.save_engagement(eng.engagement_id, plan["opportunity_id"], keys["workspace_id"], data)
        xr = engine.xref
        xr.link("salesforce", "Opportunity", plan["opportunity_id"], eng.engagement_id)
        xr.link("netsuite", "job", keys["job_id"], eng.engagement_id)
        xr.link("psa", "workspace", keys["workspace_id"], eng.engagement_id)
        xr.link("netsuite", "customer", keys["customer_id"], plan["client"]["client_id"])
        fields = {SF_KEY_FIELDS["engagement"]: eng.engagement_id, SF_KEY_FIELDS["project"]: keys["job_id"],
                  SF_KEY_FIELDS["workspace"]: keys["workspace_id"]}
        ctx.write(FLOW, eng.engagement_id, "sf-keys", system="salesforce", operation="Opportunity.update",
                  request=fields, call=lambda k: ctx.vendors.run(ctx.vendors.sf.update(
                      "Opportunity", plan["opportunity_id"], fields)) or {"id": plan["opportunity_id"]})
        common = {"engagement_id": eng.engagement_id, "opportunity_id": plan["opportunity_id"],
                  "quote_id": plan["quote_id"], "client_id": plan["client"]["client_id"]}
        engine.publish(QUOTE_ACCEPTED, common, key=f"{QUOTE_ACCEPTED}:{plan['quote_id']}")
        engine.publish(PROJECT_ACTIVATED, {**common, **keys}, key=f"{PROJECT_ACTIVATED}:{eng.engagement_id}")
        return {"status": "activated", **common, **keys}

    @step("q2c.quote.retainer_invoice")
    def s_retainer(plan: dict[str, Any], keys: dict[str, Any], cid: str) -> dict[str, Any]:
        rated = retainer_invoice(ctx, plan, keys, cid)
        ns_invoice = write_invoice(ctx, rated)
        engine.decide("billing.retainer_invoice", {"billing_plan_id": plan["sow"]["billing_plan"]["billing_plan_id"]},
                      {"invoice_id": rated["invoice"]["invoice_id"], "amount": rated["invoice"]["net_total"]})
        post_invoice_status(ctx, plan["opportunity_id"], rated["invoice"], ns_invoice["id"])
        return {"invoice_id": rated["invoice"]["invoice_id"], "netsuite_id": ns_invoice["id"]}

    def flow(message: dict[str, Any]) -> dict[str, Any]:
        opp_id = message["payload"]["opportunity_id"]
        data = s_read(opp_id)
        plan = s_plan(data, message["correlation_id"])
        customer = s_customer(plan)
        project = s_project(plan, customer["id"])
        ws = s_workspace(plan)
        contract = s_contract(plan, customer["id"], project)
        keys = {"customer_id": customer["id"], **project, **ws, **contract}
        out = s_activate(plan, keys)
        if plan["sow"]["billing_plan"]["kind"] == "retainer":
            out["retainer_invoice"] = s_retainer(plan, keys, message["correlation_id"])
        return out

    engine.workflow(WORKFLOW)(owned(FLOW, ctx, flow))


def retainer_invoice(ctx: FlowContext, plan: dict[str, Any], keys: dict[str, Any], correlation_id: str
                     ) -> dict[str, Any]:
    """The retainer invoiced up front (``INV-<engagement>-RETAINER``, one line for the retainer amount); what the
    client pays on it is the retainer received, a liability that billing runs draw down."""
    eng = load(Engagement, plan["engagement"])
    sow = load(StatementOfWork, plan["sow"])
    client = load(Client, plan["client"])
    bp = sow.billing_plan
    invoice_id = retainer_invoice_id(eng.engagement_id)
    line = InvoiceLine(line_id=f"{invoice_id}-1", kind="adjustment", description=f"Retainer {bp.billing_plan_id} "
                       "paid in advance (drawn down by approved time)", quantity=Decimal("1"),
                       unit_price=bp.retainer_amount, amount=bp.retainer_amount, source_ids=[bp.billing_plan_id],
                       contract_version=sow.current.version)
    tax = determine_tax(ctx.ref.entity(eng.contracting_entity_id), client, ctx.ref.tax_rates)
    start = next((ln["start"] for ln in plan["lines"] if ln.get("start")), None)
    invoice = assemble_invoice(invoice_id=invoice_id, correlation_id=correlation_id, sow_id=sow.sow_id,
                               engagement_id=eng.engagement_id, client_id=client.client_id,
                               contracting_entity_id=eng.contracting_entity_id,
                               invoice_date=date.fromisoformat(start) if start else date.today(),
                               currency=eng.currency, contract_version=sow.current.version, lines=[line], tax=tax,
                               customer_vat_id=client.vat_id)
    return {"invoice": invoice.model_dump(mode="json"), "tax_rate": str(tax.rate_percent), "keys": keys}


def write_contract(ctx: FlowContext, plan: dict[str, Any], customer_id: str, project: dict[str, Any]
                   ) -> dict[str, Any]:
    """The contract (a NetSuite sales order for the current contract value, one line per contract version) and,
    for fixed fee, the billing schedule (one milestone per billing-plan milestone), linked from the project."""
    eng = load(Engagement, plan["engagement"])
    sow = load(StatementOfWork, plan["sow"])
    job_id = project["job_id"]
    item = ctx.ns_id("serviceSaleItem", item_eid("milestone" if sow.billing_plan.kind == "fixed_fee" else "time"),
                     what="service item")
    lines = [{"item": {"id": item}, "quantity": "1", "rate": str(sow.baseline.value), "job": {"id": job_id},
              "description": f"{sow.sow_id} baseline v1"}]
    for co in plan.get("change_orders", []):
        lines.append({"item": {"id": item}, "quantity": "1", "rate": co["value_delta"], "job": {"id": job_id},
                      "description": f"{sow.sow_id} change order {co['change_order_id']} v{co['version']}"})
    header = {"entity": {"id": customer_id}, "job": {"id": job_id},
              "subsidiary": {"id": ctx.ns_id("subsidiary", entity_eid(eng.contracting_entity_id))},
              "currency": {"id": ctx.currency_id(eng.currency)},
              "memo": f"q2c contract {sow.sow_id} v{sow.current.version} value {sow.current.value}"}
    version = sow.current.version
    so = ctx.write(FLOW, f"{sow.sow_id}:v{version}", "ns-contract", system="netsuite", operation="salesOrder.put",
                   request={**header, "item": lines},
                   call=lambda k: ctx.ns_put("salesOrder", contract_eid(sow.sow_id), header, {"item": lines}))
    out: dict[str, Any] = {"contract_id": so["id"]}
    if sow.billing_plan.kind == "fixed_fee":
        ms_lines = []
        for m in sow.billing_plan.milestones:
            task = project.get("task_ids", {}).get(m.xref.get("salesforce", ""))
            entry = {"milestoneDate": m.due_date.isoformat(), "milestoneAmount": str(m.amount),
                     "comments": f"{m.milestone_id} {m.name}"[:999]}
            if task:
                entry["projectTask"] = {"id": task}
            ms_lines.append(entry)
        bs_header = {"name": f"{sow.sow_id} milestones"[:100], "scheduleType": "FBM", "project": {"id": job_id}}
        bs = ctx.write(FLOW, f"{sow.sow_id}:v{version}", "ns-billing-schedule", system="netsuite",
                       operation="billingSchedule.put", request={**bs_header, "milestone": ms_lines},
                       call=lambda k: ctx.ns_put("billingSchedule", schedule_eid(sow.billing_plan.billing_plan_id),
                                                 bs_header, {"milestone": ms_lines}))
        ctx.write(FLOW, f"{sow.sow_id}:v{version}", "ns-job-schedule", system="netsuite", operation="job.update",
                  request={"billingSchedule": bs["id"]},
                  call=lambda k: ctx.ns_put("job", nsmap.job_external_id(eng.engagement_id),
                                            {"billingSchedule": {"id": bs["id"]}}))
        out["billing_schedule_id"] = bs["id"]
    return out
