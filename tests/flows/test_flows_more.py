"""Flows (c), (d), (e); a business violation parked then resolved and billed; replay; faults."""

from __future__ import annotations

from decimal import Decimal

import httpx

from q2c_harness.flows.runtime import CoreRuntime
from tests.flows.world import log_and_approve, on_vendors, sell, staff


async def vendor_state(core: CoreRuntime) -> dict:
    """What the vendors hold, read through their APIs (ids and the fields that matter)."""
    async def go():
        ns, psa = core.vendors.ns, core.vendors.psa
        out = {}
        for t in ("customer", "job", "projectTask", "timeBill", "invoice", "salesOrder", "billingSchedule"):
            ids = sorted([int(i["id"]) async for i in ns.list(t)])
            out[t] = ids
        invs = [await ns.get("invoice", str(i)) for i in out["invoice"]]
        out["invoice_totals"] = sorted(str(i["total"]) for i in invs)
        for r in ("workspaces", "stories", "billing_milestones", "budget_change_orders"):
            out[r] = sorted(int(x["id"]) for x in await psa.list_all(r))
        return out
    return await on_vendors(core, go())


async def test_fixed_fee_milestone_change_order_and_payment(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite") as core:
        opp = await sell(core, name="Fixed Co", charge="One-Time",
                         lines=[("Design", "10000.00"), ("Build", "30000.00")])
        await core.poll_once()
        assert not core.exceptions(), [e.message for e in core.exceptions()]
        eng = core.store.engagement_by_opportunity(opp)
        ms_ids = eng["keys"]["milestone_ids"]
        assert len(ms_ids) == 2
        first = sorted(ms_ids.values())[0]
        await on_vendors(core, core.vendors.psa.accept_milestone(first))
        await core.poll_once()
        assert not core.exceptions(), [e.message for e in core.exceptions()]
        billed = core.store.billed(eng["engagement"]["engagement_id"])
        assert len(billed) == 1 and Decimal(billed[0]["amount"]) == Decimal("10000.00")
        # change order: an accepted amendment quote on the same opportunity
        sf = core.vendors.sf
        q = await on_vendors(core, sf.create("SBQQ__Quote__c", {
            "SBQQ__Opportunity2__c": opp, "SBQQ__Type__c": "Amendment", "SBQQ__Status__c": "Draft",
            "SBQQ__NetAmount__c": Decimal("5000.00"), "SBQQ__EndDate__c": "2026-05-31"}))
        await on_vendors(core, sf.update("SBQQ__Quote__c", q, {"SBQQ__Status__c": "Accepted"}))
        await core.poll_once()
        assert not core.exceptions(), [e.message for e in core.exceptions()]
        eng = core.store.engagement_by_opportunity(opp)
        assert eng["sow"]["baseline"]["value"] in ("40000.00", "40000.0", 40000)
        assert Decimal(str(eng["sow"]["current"]["value"])) == Decimal("45000.00")
        ws = await on_vendors(core, core.vendors.psa.get("workspaces", eng["keys"]["workspace_id"]))
        assert ws["price_in_cents"] == 4_500_000
        # payment applied in NetSuite -> status on the Opportunity
        inv_id = core.engine.xref.reverse("netsuite", "invoice", f"INV-{eng['sow']['sow_id']}-M1")
        cust = eng["keys"]["customer_id"]
        await on_vendors(core, core.vendors.ns.create("customerPayment", {
            "customer": {"id": cust}, "payment": Decimal("10000.00"),
            "apply": {"items": [{"doc": {"id": inv_id}, "amount": Decimal("10000.00")}]}}))
        await core.poll_once()
        assert not core.exceptions(), [e.message for e in core.exceptions()]
        rec = await on_vendors(core, sf.get("Opportunity", opp))
        assert rec["Invoice_Status__c"] == "Paid"
        assert {"payment.received", "payment.applied", "change_order.applied", "milestone.approved"} <= {
            e.type for e in core.events()}
        # replay every inbox event: the vendors do not change
        before = await vendor_state(core)
        for ev in core.engine.transactions(limit=1000):
            await core.replay_event(ev["inbox_key"])
        assert await vendor_state(core) == before


async def test_business_violation_parked_resolved_then_billed(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite") as core:
        opp = await sell(core)
        await core.poll_once()
        eng = core.store.engagement_by_opportunity(opp)
        people = await staff(core, [("Grace Hopper", "Consultant", "NA", "US01")], employees=False)
        await log_and_approve(core, eng["keys"]["workspace_id"], [(people["Grace Hopper"], "2026-02-02", 120)])
        await core.poll_once()
        out = await core.run_billing(eng["engagement"]["engagement_id"], "2026-02")
        assert out["status"] == "parked"
        (item,) = core.exceptions(lot="business")
        assert item.code == "MISSING_MASTER_DATA" and item.owner == "billing-ops" and item.correlation_id
        # a person adds the employee in NetSuite, then retries from the queue
        from q2c_harness.flows.provision import ensure_resource
        await on_vendors(core, ensure_resource(core.vendors, people["Grace Hopper"], first="Grace", last="Hopper",
                                               entity_id="US01"))
        done = await core.retry_exception(item.id)
        assert done.status == "resolved"
        runs = core.store.runs(eng["engagement"]["engagement_id"])
        assert [r["status"] for r in runs] == ["posted"]
        assert Decimal(runs[0]["result"]["gross_total"]) == Decimal("300.00")


async def _scenario(core: CoreRuntime) -> None:
    opp = await sell(core)
    await core.poll_once()
    eng = core.store.engagement_by_opportunity(opp)
    people = await staff(core, [("Ada Lovelace", "Consultant", "NA", "US01"),
                                ("Alan Turing", "Architect", "EMEA", "UK01")])
    await log_and_approve(core, eng["keys"]["workspace_id"],
                          [(people["Ada Lovelace"], f"2026-01-{d:02d}", 60 * (d % 8 + 1)) for d in range(5, 20)]
                          + [(people["Alan Turing"], "2026-01-07", 90)])
    await core.poll_once()
    await core.poll_once()
    await core.run_due_billing()


async def test_faults_give_the_same_vendor_state(tmp_path):
    from q2c_simulators.kernel.serving import build_simulators

    async def run(faults: bool, name: str) -> dict:
        sims = build_simulators(seed=7)
        if faults:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(sims["netsuite"].asgi),
                                         base_url="https://netsuite.sim") as a:
                r = await a.post("/__admin/faults", json={"id": "ns-429", "kind": "error", "status": 429,
                                                          "retry_after_seconds": 0, "probability": 0.2})
                assert r.status_code in (200, 201), r.text
                await a.post("/__admin/faults", json={"id": "ns-503", "kind": "error", "status": 503,
                                                      "probability": 0.05, "retry_after_seconds": 0})
                await a.post("/__admin/faults", json={"id": "ns-lat", "kind": "latency", "distribution": "fixed",
                                                      "ms": 5})
            async with httpx.AsyncClient(transport=httpx.ASGITransport(sims["psa"].asgi),
                                         base_url="https://psa.sim") as a:
                await a.post("/__admin/faults", json={"id": "dup", "kind": "duplicate", "copies": 2,
                                                      "probability": 0.5})
                await a.post("/__admin/faults", json={"id": "reo", "kind": "reorder", "window": 3,
                                                      "probability": 0.5})
        async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/{name}.sqlite") as core:
            await _scenario(core)
            assert not core.exceptions(), [(e.code, e.message) for e in core.exceptions()]
            state = await vendor_state(core)
            state["billed"] = [(r["source_id"], r["amount"]) for r in core.store.billed()]
            return state

    clean = await run(False, "clean")
    faulty = await run(True, "faulty")
    assert faulty == clean
    assert len(clean["invoice"]) == 2  # the client invoice and one intercompany cross-charge
