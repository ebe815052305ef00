"""Each flow end to end against the in-process simulators (InlineRunner: every workflow runs inside its trigger)."""

from __future__ import annotations

from decimal import Decimal

from q2c_harness.flows.runtime import CoreRuntime
from tests.flows.world import log_and_approve, on_vendors, sell, staff


async def test_quote_to_project_then_time_to_invoice(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite") as core:
        opp = await sell(core)
        polled = await core.poll_once()
        assert polled["salesforce"] >= 1, polled
        assert not core.exceptions(), [e.message for e in core.exceptions()]
        eng = core.store.engagement_by_opportunity(opp)
        assert eng is not None
        people = await staff(core, [("Ada Lovelace", "Consultant", "NA", "US01"),
                                    ("Alan Turing", "Architect", "EMEA", "UK01")])
        ws = eng["keys"]["workspace_id"]
        await log_and_approve(core, ws, [(people["Ada Lovelace"], "2026-01-05", 480),
                                         (people["Ada Lovelace"], "2026-01-06", 240),
                                         (people["Alan Turing"], "2026-01-06", 60)])
        polled = await core.poll_once()
        assert polled["psa"] >= 1
        assert not core.exceptions(), [e.message for e in core.exceptions()]
        result = await core.run_billing(eng["engagement"]["engagement_id"], "2026-01")
        assert result["status"] == "posted", result
        # 8h x 150 + 4h x 150 + 1h x 195 = 1995
        assert result["gross_total"] == "1995.00"
        inv = await on_vendors(core, core.vendors.ns.get("invoice", result["netsuite_invoice_id"]))
        assert Decimal(str(inv["total"])) == Decimal("1995.00")
        assert len(result["intercompany"]) == 1
        opp_rec = await on_vendors(core, core.vendors.sf.get("Opportunity", opp))
        assert opp_rec["Invoice_Status__c"] == "Invoiced"
        assert opp_rec["Q2C_Engagement_Id__c"] == eng["engagement"]["engagement_id"]
        assert {e.type for e in core.events()} >= {"quote.accepted", "project.activated", "time.approved",
                                                  "billing_event.created", "invoice.posted"}
        # nothing more to bill
        assert await core.run_billing(eng["engagement"]["engagement_id"], "2026-01") is None
