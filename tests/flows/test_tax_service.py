"""Issue 20, core tax: an invoice's tax comes from the tax service (quoted before NetSuite, committed once NetSuite
holds the invoice); a client without the address the service needs is held, never posted untaxed; an outage parks
the run with nothing posted, and the retry bills it once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx

from q2c_harness.flows.runtime import CoreRuntime
from tests.flows.world import log_and_approve, on_vendors, sell, staff

HONOLULU = {"BillingStreet": "1 Aloha Tower Dr", "BillingCity": "Honolulu", "BillingState": "HI",
            "BillingPostalCode": "96813"}


async def _billable(core: CoreRuntime, address: dict[str, str] | None) -> str:
    opp = await sell(core, name="Pacific Co", address=address)
    await core.poll_once()
    eng = core.store.engagement_by_opportunity(opp)
    people = await staff(core, [("Ada Lovelace", "Consultant", "NA", "US01")])
    await log_and_approve(core, eng["keys"]["workspace_id"], [(people["Ada Lovelace"], "2026-01-05", 480)])
    await core.poll_once()
    return eng["engagement"]["engagement_id"]


async def _document(sims, core: CoreRuntime, code: str) -> dict:
    tax = core.vendors.tax
    return await on_vendors(core, tax.get_transaction(code))


async def test_invoice_taxed_by_the_service_and_committed_when_posted(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite", tax_service=True) as core:
        eid = await _billable(core, HONOLULU)
        result = await core.run_billing(eid, "2026-01")
        assert result["status"] == "posted", result
        # 8h x 150 = 1200; Hawaii taxes services: 4 % state GET + 0.5 % Honolulu surcharge = 54.00
        doc = await _document(sims, core, result["invoice_id"])
        assert doc["status"] == "Committed"
        assert Decimal(str(doc["totalTax"])) == Decimal("54.00")
        assert {r["region"] for r in doc["summary"]} == {"HI"}
        inv = await on_vendors(core, core.vendors.ns.get("invoice", result["netsuite_invoice_id"]))
        assert Decimal(str(inv["taxTotal"])) == Decimal("54.00")
        assert Decimal(str(inv["total"])) == Decimal("1254.00") == Decimal(result["gross_total"])


async def test_client_without_a_billing_state_is_held_not_posted_untaxed(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite", tax_service=True) as core:
        eid = await _billable(core, {"BillingCity": "Honolulu"})
        result = await core.run_billing(eid, "2026-01")
        assert result["status"] == "parked" and result["lot"] == "business", result
        [item] = core.exceptions()
        assert item.code == "INCOMPLETE_TAX_ATTRIBUTES" and "billing state" in item.message
        rows = await on_vendors(core, core.vendors.ns.suiteql_all("SELECT id FROM invoice"))
        assert rows == []


async def test_tax_outage_parks_the_run_then_the_retry_bills_once(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite", tax_service=True) as core:
        core.engine.runner._sleep = lambda _s: None  # the engine's step backoff, not slept in a test
        eid = await _billable(core, HONOLULU)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(sims["tax"].asgi), base_url="https://tax.sim") as a:
            r = await a.put("/__admin/faults", json={"seed": 1, "faults": [
                {"id": "tax-down", "kind": "error", "status": 503, "path": "/api/v2/transactions/*"}]})
            r.raise_for_status()
            result = await core.run_billing(eid, "2026-01")
            assert result["status"] == "parked" and result["lot"] == "transient", result
            assert await on_vendors(core, core.vendors.ns.suiteql_all("SELECT id FROM invoice")) == []
            (await a.put("/__admin/faults", json={"seed": 1, "faults": []})).raise_for_status()
        breaker = core.vendors.tax.account.breakers()["POST transactions.create"]
        breaker._opened_at -= breaker.policy.cooldown  # the cool-down has passed: the next call is the probe
        [item] = core.exceptions()
        await core.retry_exception(item.id)
        assert core.exceptions() == []
        rows = await on_vendors(core, core.vendors.ns.suiteql_all("SELECT id, total FROM invoice"))
        assert len(rows) == 1 and Decimal(str(rows[0]["total"])) == Decimal("1254.00")
        [run] = core.store.runs(eid)
        doc = await _document(sims, core, run["result"]["invoice_id"])
        assert doc["status"] == "Committed"
