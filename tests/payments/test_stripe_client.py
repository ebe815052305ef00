"""stripe-python (16.1, unchanged) against the simulator over HTTPS: the global API and StripeClient."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
import stripe

from q2c_simulators.kernel.serving import running_servers
from q2c_simulators.payments import PaymentsSimulator


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    sim = PaymentsSimulator(seed=1)
    sim.webhooks.verify = False  # the receiver below is plain HTTP
    with running_servers({"payments": sim}, tls_dir=tmp_path_factory.mktemp("tls")) as endpoints:
        base = endpoints.base_urls["payments"]
        key = httpx.post(f"{base}/__admin/payments/keys", json={"account": "acme"},
                         verify=endpoints.ca_bundle).json()["secret_key"]
        saved = (stripe.api_base, stripe.api_key, stripe.ca_bundle_path)
        # stripe-python passes verify=stripe.ca_bundle_path itself: REQUESTS_CA_BUNDLE is not read
        stripe.api_base, stripe.api_key, stripe.ca_bundle_path = base, key, endpoints.ca_bundle
        try:
            yield sim, base, key, endpoints.ca_bundle
        finally:
            stripe.api_base, stripe.api_key, stripe.ca_bundle_path = saved


def test_customers_and_paging(served):
    for i in range(5):
        stripe.Customer.create(email=f"p{i}@x.test", metadata={"crm_id": str(i)})
    page = stripe.Customer.list(limit=2)
    assert len(page.data) == 2 and page.has_more
    assert len(page.next_page().data) == 2
    everyone = [c.email for c in stripe.Customer.list(limit=2).auto_paging_iter()]
    assert {f"p{i}@x.test" for i in range(5)} <= set(everyone)
    c = stripe.Customer.retrieve(page.data[0].id)
    assert c.metadata["crm_id"] == page.data[0].metadata["crm_id"]
    assert stripe.Customer.modify(c.id, name="Renamed").name == "Renamed"
    assert stripe.Customer.delete(c.id).deleted is True


def test_payment_intent_lifecycle_declines_and_refunds(served):
    cus = stripe.Customer.create(email="buyer@x.test")
    pi = stripe.PaymentIntent.create(amount=12000, currency="usd", customer=cus.id, payment_method="pm_card_visa",
                                     capture_method="manual", confirm=True, expand=["latest_charge"])
    assert pi.status == "requires_capture" and pi.latest_charge.captured is False
    pi = stripe.PaymentIntent.capture(pi.id, amount_to_capture=10000)
    assert pi.status == "succeeded" and pi.amount_received == 10000
    refund = stripe.Refund.create(payment_intent=pi.id, amount=2500)
    assert refund.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        stripe.Refund.create(payment_intent=pi.id, amount=9000)
    assert too_much.value.code == "amount_too_large"
    with pytest.raises(stripe.CardError) as declined:
        stripe.PaymentIntent.create(amount=5000, currency="usd", payment_method="pm_card_chargeDeclinedInsufficientFunds",
                                    confirm=True)
    assert declined.value.code == "card_declined" and declined.value.error.decline_code == "insufficient_funds"
    assert declined.value.http_status == 402 and declined.value.request_id.startswith("req_")
    failed = stripe.PaymentIntent.retrieve(declined.value.error.payment_intent.id)
    assert failed.status == "requires_payment_method"
    charges = stripe.Charge.list(payment_intent=pi.id)
    assert charges.data[0].amount_refunded == 2500


def test_idempotency_through_the_client(served):
    first = stripe.Customer.create(email="i@x.test", idempotency_key="cust-i-1")
    again = stripe.Customer.create(email="i@x.test", idempotency_key="cust-i-1")
    assert again.id == first.id and again.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError):
        stripe.Customer.create(email="other@x.test", idempotency_key="cust-i-1")


def test_stripe_client_and_events(served):
    sim, base, key, ca = served
    client = stripe.StripeClient(key, base_addresses={"api": base})
    pi = client.v1.payment_intents.create(params={"amount": 900, "currency": "eur", "payment_method": "pm_card_visa",
                                                  "confirm": True})
    assert pi.status == "succeeded"
    events = client.v1.events.list(params={"types": ["payment_intent.succeeded", "charge.succeeded"], "limit": 2})
    assert {e.type for e in events.data} == {"payment_intent.succeeded", "charge.succeeded"}
    assert events.data[0].data.object.id in (pi.id, pi.latest_charge)


def test_a_webhook_endpoint_receives_signed_events_unprompted(served):
    sim, base, key, ca = served
    received: list[tuple[bytes, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers["Stripe-Signature"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = stripe.WebhookEndpoint.create(url=f"http://127.0.0.1:{server.server_port}/hook",
                                                 enabled_events=["customer.created"])
        customer = stripe.Customer.create(email="hook@x.test")
        for _ in range(200):
            if received:
                break
            threading.Event().wait(0.02)
        body, signature = received[0]
        event = stripe.Webhook.construct_event(body, signature, endpoint.secret)
        assert event.type == "customer.created" and event.data.object.id == customer.id
        assert json.loads(body)["object"] == "event"
    finally:
        server.shutdown()
