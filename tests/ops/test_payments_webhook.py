"""The served core's payment-gateway webhook: a delivery whose Stripe-Signature verifies is taken in (2xx); a forged
or stale one is a 400 the gateway retries, and nothing reaches the intake. No bearer token: the signature is the
authentication."""

from __future__ import annotations

import json
import time

import httpx

from q2c_harness.connectors.payments import verify_signature
from q2c_harness.errors import AuthError
from q2c_harness.ops.app import create_ops_app
from q2c_simulators.payments.events import signature_header

SECRET = "whsec_ops_test"


async def test_signed_deliveries_in_forged_or_stale_ones_out(engine):
    taken: list[str] = []

    def hook(body: bytes, headers: dict) -> int:
        if not verify_signature(SECRET, body, headers.get("stripe-signature")):
            raise AuthError("payments: webhook signature does not verify", system="payments", code="BAD_SIGNATURE")
        taken.append(json.loads(body)["id"])
        return 1

    app = create_ops_app(engine, token="t0ken", dashboard=False, gateway_webhook=hook)
    body = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}).encode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ops") as c:
        ok = await c.post("/webhooks/payments", content=body,
                          headers={"Stripe-Signature": signature_header(SECRET, body)})
        forged = await c.post("/webhooks/payments", content=body,
                              headers={"Stripe-Signature": signature_header("whsec_other", body)})
        stale = await c.post("/webhooks/payments", content=body, headers={
            "Stripe-Signature": signature_header(SECRET, body, int(time.time()) - 301)})
    assert ok.status_code == 200 and ok.json()["taken"] == 1
    assert forged.status_code == 400 and stale.status_code == 400
    assert taken == ["evt_1"]
