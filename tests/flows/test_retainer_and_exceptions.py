"""Issue 8: retainer billing (received up front, drawn down, never overdrawn) and the two exception routes (a PSA
rate that is not the rate card's; a rejected milestone), each parked then billed exactly once after resolution."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from q2c_harness.connectors.mapping import netsuite as nsmap
from q2c_harness.flows.runtime import CoreRuntime
from tests.flows.world import on_vendors, sell, staff


async def _ns_invoice(core: CoreRuntime, invoice_id: str) -> dict | None:
    return await asyncio.to_thread(core.ctx.ns_lookup, "invoice", nsmap.invoice_external_id(invoice_id))


async def _log(core: CoreRuntime, ws: str, user: str, days: list[str], minutes: int = 480,
               rate_in_cents: int | None = None) -> list[str]:
    psa = core.vendors.psa

    async def go() -> list[str]:
        ids = []
        for d in days:
            body = {"workspace_id": int(ws), "user_id": int(user), "date_performed": d, "time_in_minutes": minutes}
            if rate_in_cents is not None:
                body["rate_in_cents"] = rate_in_cents
            ids.append(str((await psa.create("time_entries", body))["id"]))
        sub = await psa.create("timesheet_submissions", {"user_id": int(user), "workspace_id": int(ws),
                                                         "start_date": min(days), "end_date": max(days)})
        await psa.approve_timesheet(sub["id"])
        return ids
    return await on_vendors(core, go())


async def test_retainer_received_then_drawn_down_never_overdrawn(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite") as core:
        sf = core.vendors.sf
        opp = await sell(core, name="Retainer Co", close=False)
        await on_vendors(core, sf.update("Opportunity", opp, {"Q2C_Retainer_Amount__c": 3000,
                                                              "StageName": "Closed Won"}))
        await core.poll_once()
        assert not core.exceptions(), [e.message for e in core.exceptions()]
        eng = core.store.engagement_by_opportunity(opp)
        eid = eng["engagement"]["engagement_id"]
        assert eng["sow"]["billing_plan"]["kind"] == "retainer"
        retainer = await _ns_invoice(core, f"INV-{eid}-RETAINER")
        assert retainer is not None and Decimal(str(retainer["total"])) == Decimal("3000.00")
        # no cash yet: nothing to draw down, the time is billed as overage
        people = await staff(core, [("Rita Moreno", "Consultant", "NA", "US01")])
        user = people["Rita Moreno"]
        await _log(core, eng["keys"]["workspace_id"], user, ["2026-01-05"])
        await core.poll_once()
        dec = await core.run_billing(eid, "2026-01")
        assert dec["status"] == "posted" and Decimal(dec["gross_total"]) == Decimal("1200.00")
        # the client pays the retainer; next months draw it down: 2,400 then 1,200 of which 600 is covered
        await on_vendors(core, core.vendors.ns.create("customerPayment", {
            "customer": {"id": eng["keys"]["customer_id"]}, "payment": Decimal("3000.00"),
            "apply": {"items": [{"doc": {"id": str(retainer["id"])}, "amount": Decimal("3000.00")}]}}))
        await core.poll_once()
        await _log(core, eng["keys"]["workspace_id"], user, ["2026-02-02", "2026-02-03"])
        await core.poll_once()
        feb = await core.run_billing(eid, "2026-02")
        assert Decimal(feb["gross_total"]) == Decimal("0.00")
        await _log(core, eng["keys"]["workspace_id"], user, ["2026-03-02"])
        await core.poll_once()
        mar = await core.run_billing(eid, "2026-03")
        assert Decimal(mar["gross_total"]) == Decimal("600.00")  # overage beyond the balance
        assert not core.exceptions(), [e.message for e in core.exceptions()]
        drawdowns = [Decimal(r["amount"]) for r in core.store.billed(eid) if r["source_id"].startswith("R-")]
        assert sorted(drawdowns) == [Decimal("600.00"), Decimal("2400.00")]
        received, balance = Decimal("3000.00"), Decimal("3000.00")
        for d in drawdowns:  # applied <= balance at each drawdown, the balance never negative
            assert d <= balance
            balance -= d
            assert balance >= 0
        assert sum(drawdowns) <= received
        # NetSuite shows the drawdown on the invoices, and the balance it left
        inv = await on_vendors(core, core.vendors.ns.get("invoice", feb["netsuite_invoice_id"],
                                                          expand_sub_resources=True))
        lines = inv["item"]["items"]
        assert any("Retainer" in ln["description"] and "3000.00 -> 600.00" in ln["description"] for ln in lines)
        # a second run for the same period draws nothing again
        assert await core.run_billing(eid, "2026-03") is None


async def test_rate_mismatch_parked_with_traceability_then_billed_once(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite") as core:
        opp = await sell(core)
        await core.poll_once()
        eng = core.store.engagement_by_opportunity(opp)
        eid = eng["engagement"]["engagement_id"]
        people = await staff(core, [("Sam Carter", "Consultant", "NA", "US01")])
        ws, user = eng["keys"]["workspace_id"], people["Sam Carter"]
        good = await _log(core, ws, user, ["2026-01-05", "2026-01-07"])
        bad = await _log(core, ws, user, ["2026-01-06"], rate_in_cents=17500)
        await core.poll_once()
        out = await core.run_billing(eid, "2026-01")
        assert out["status"] == "parked"
        (item,) = core.exceptions(lot="business")
        assert item.code == "rate_card_mismatch" and item.error_class == "RateCardMismatch"
        assert item.owner == "billing-ops" and item.correlation_id and item.payload
        assert f"time entry {bad[0]}" in item.message and "175.00" in item.message and "150.00" in item.message
        assert await _ns_invoice(core, f"INV-{eid}-2026-01-1") is None  # nothing billed while parked
        assert await core.run_billing(eid, "2026-01") is None  # the parked run holds its sources
        # retry without a fix: still parked
        again = await core.retry_exception(item.id)
        assert again.status == "open"
        # billing-ops: the rate card applies; retry -> billed once
        (mm,) = core.rate_mismatches(eid)
        core.correct_rate(eid, mm["source_id"], actor="billing-ops", reason="rate typed by hand")
        done = await core.retry_exception(item.id)
        assert done.status == "resolved"
        inv = await _ns_invoice(core, f"INV-{eid}-2026-01-1")
        assert Decimal(str(inv["total"])) == Decimal("3600.00")  # 3 x 8 h x 150
        billed = [r["source_id"] for r in core.store.billed(eid)]
        assert sorted(billed) == sorted(f"T-{i}" for i in good + bad)
        assert await core.run_billing(eid, "2026-01") is None
        assert not core.exceptions()
        assert any(d.rule == "billing.rate_correction" for d in core.engine.audit.recent(1000)
                   if getattr(d, "rule", None))


async def test_rejected_milestone_not_billed_then_billed_once_after_acceptance(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite") as core:
        opp = await sell(core, name="Fixed Co", charge="One-Time", lines=[("Design", "10000.00"),
                                                                          ("Build", "30000.00")])
        await core.poll_once()
        eng = core.store.engagement_by_opportunity(opp)
        sow_id = eng["sow"]["sow_id"]
        first = sorted(eng["keys"]["milestone_ids"].values())[0]
        psa = core.vendors.psa
        await on_vendors(core, psa._action("billing_milestones", first, "reject", {"reason": "criteria 3 not met"}))
        await core.poll_once()
        (item,) = core.exceptions(lot="business")
        assert item.code == "milestone_rejected" and item.owner == "delivery" and item.correlation_id
        assert "criteria 3 not met" in item.message
        assert not core.store.billed(eng["engagement"]["engagement_id"])
        assert await _ns_invoice(core, f"INV-{sow_id}-M1") is None
        # rework accepted by the client; the item is retried, and the acceptance event arrives too: one invoice
        await on_vendors(core, psa.accept_milestone(first))
        done = await core.retry_exception(item.id)
        assert done.status == "resolved"
        await core.poll_once()
        assert not core.exceptions()
        billed = core.store.billed(eng["engagement"]["engagement_id"])
        assert [(b["source_id"], Decimal(b["amount"])) for b in billed] == [(f"M-{sow_id}-M1", Decimal("10000.00"))]
        inv = await _ns_invoice(core, f"INV-{sow_id}-M1")
        assert Decimal(str(inv["total"])) == Decimal("10000.00")
