"""Issue 20, core cash: gateway payments (event list or signed webhook) -> canonical payment -> cash application ->
a NetSuite customer payment applied to the invoices it names (partial, then the rest; over-payment unapplied;
refunds net off) -> status on the opportunity. Duplicated or reordered events never apply cash twice."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import httpx
import pytest

from q2c_harness.connectors.payments import form_encode
from q2c_harness.errors import AuthError
from q2c_harness.flows.runtime import CoreRuntime
from q2c_simulators.payments.events import signature_header
from tests.flows.world import log_and_approve, on_vendors, sell, staff


class Client:
    """The client paying through the gateway's pay-by-link page (a Stripe-style API)."""

    def __init__(self, sims, key: str) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(sims["payments"].asgi),
                                      base_url="https://payments.sim", headers={"Authorization": f"Bearer {key}"})

    async def post(self, path: str, params: dict) -> dict:
        r = await self.http.post(path, content=str(httpx.QueryParams(form_encode(params))).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code < 300, r.text
        return r.json()

    async def pay(self, invoice_id: str, amount_cents: int) -> dict:
        return await self.post("/v1/payment_intents", {
            "amount": amount_cents, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
            "metadata": {"q2c_invoices": invoice_id}})

    async def refund(self, intent_id: str, amount_cents: int) -> dict:
        return await self.post("/v1/refunds", {"payment_intent": intent_id, "amount": amount_cents})


async def _invoice(core: CoreRuntime) -> tuple[str, dict]:
    opp = await sell(core, name="Gateway Co")
    await core.poll_once()
    eng = core.store.engagement_by_opportunity(opp)
    people = await staff(core, [("Ada Lovelace", "Consultant", "NA", "US01")])
    await log_and_approve(core, eng["keys"]["workspace_id"], [(people["Ada Lovelace"], "2026-01-05", 480)])
    await core.poll_once()
    result = await core.run_billing(eng["engagement"]["engagement_id"], "2026-01")
    assert result["status"] == "posted" and result["gross_total"] == "1200.00"
    return opp, result


async def _ns_payments(core: CoreRuntime) -> list[dict]:
    rows = await on_vendors(core, core.vendors.ns.suiteql_all("SELECT id FROM customerpayment ORDER BY id"))
    return [await on_vendors(core, core.vendors.ns.get("customerPayment", r["id"], expand_sub_resources=True))
            for r in rows]


async def test_partial_then_the_rest_then_a_refund_each_applied_once(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite", payments="acme") as core:
        opp, result = await _invoice(core)
        client = Client(sims, core.vendors.config.payments_key)
        first = await client.pay(result["invoice_id"], 50000)
        await core.poll_once()
        await core.poll_once()  # nothing new: the cursor moved past the event
        opp_rec = await on_vendors(core, core.vendors.sf.get("Opportunity", opp))
        assert (opp_rec["Invoice_Status__c"], Decimal(str(opp_rec["Amount_Paid__c"]))) == ("Partially Paid",
                                                                                           Decimal("500"))
        second = await client.pay(result["invoice_id"], 90000)  # 200.00 more than is open
        await core.poll_once()
        pays = await _ns_payments(core)
        assert [(Decimal(str(p["payment"])), Decimal(str(p["unapplied"]))) for p in pays] == [
            (Decimal("500.00"), Decimal("0.00")), (Decimal("900.00"), Decimal("200.00"))]
        opp_rec = await on_vendors(core, core.vendors.sf.get("Opportunity", opp))
        assert opp_rec["Invoice_Status__c"] == "Paid"
        # the over-payment and 100.00 of the invoice go back: the invoice is open for 100.00 again
        await client.refund(second["id"], 30000)
        await core.poll_once()
        pays = await _ns_payments(core)
        assert (Decimal(str(pays[1]["payment"])), Decimal(str(pays[1]["unapplied"]))) == (Decimal("600.00"),
                                                                                         Decimal("0.00"))
        inv = await on_vendors(core, core.vendors.ns.get("invoice", result["netsuite_invoice_id"]))
        assert Decimal(str(inv["amountRemaining"])) == Decimal("100.00")
        opp_rec = await on_vendors(core, core.vendors.sf.get("Opportunity", opp))
        assert (opp_rec["Invoice_Status__c"], Decimal(str(opp_rec["Amount_Paid__c"]))) == ("Partially Paid",
                                                                                           Decimal("1100"))
        assert first["status"] == "succeeded" and not core.exceptions()


async def test_signed_webhooks_duplicated_and_reordered_apply_once(sims, tmp_path):
    async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp_path}/core.sqlite", payments="acme") as core:
        _, result = await _invoice(core)
        core.gateway_webhook_secret = "whsec_test_secret"
        client = Client(sims, core.vendors.config.payments_key)
        intent = await client.pay(result["invoice_id"], 120000)
        refund = await client.refund(intent["id"], 20000)
        events = {e["type"]: e for e in (await client.http.get("/v1/events", params={"limit": 100})).json()["data"]}

        def deliver(event: dict, *, secret: str = "whsec_test_secret", at: int | None = None) -> int:
            body = json.dumps(event).encode()
            return core.receive_gateway_webhook_sync(body, {"Stripe-Signature": signature_header(secret, body, at)})

        # the refund arrives first, then the payment twice: the payment is applied once, net of the refund
        for ev in (events["refund.created"], events["payment_intent.succeeded"], events["payment_intent.succeeded"]):
            await asyncio.to_thread(deliver, ev)
        pays = await _ns_payments(core)
        assert len(pays) == 1 and Decimal(str(pays[0]["payment"])) == Decimal("1000.00")
        assert refund["status"] == "succeeded" and not core.exceptions()
        # a forged signature, or a genuine one replayed after the 300 s window, is refused
        with pytest.raises(AuthError):
            deliver(events["payment_intent.succeeded"], secret="whsec_other")
        with pytest.raises(AuthError):
            deliver(events["payment_intent.succeeded"], at=int(time.time()) - 301)
        # the event list afterwards changes nothing
        await core.poll_once()
        assert len(await _ns_payments(core)) == 1
