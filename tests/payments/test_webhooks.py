"""Webhooks: Stripe's signature (checked by stripe-python itself), at-least-once delivery with retries and backoff on
the virtual clock, seeded duplicates and reordering, and delivery without being asked."""

from __future__ import annotations

import asyncio
import json

import httpx
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from q2c_simulators.kernel.faults import fault_rule_adapter
from q2c_simulators.payments import signature_header, verify_header

RECEIVER = "https://receiver.test"


class Receiver:
    """An endpoint that verifies with stripe-python and fails its first `fail_first` deliveries."""

    def __init__(self, secret: str = "", fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.attempts = 0
        self.events: list[str] = []
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        self.attempts += 1
        body = await request.body()
        event = stripe.Webhook.construct_event(body, request.headers["stripe-signature"], self.secret)
        if self.attempts <= self.fail_first:
            return Response(status_code=500)
        self.events.append(event["type"])
        return Response(status_code=200)


async def subscribe(sim, api, receiver: Receiver, events=("*",)) -> dict:
    sim.webhooks.transports[RECEIVER] = httpx.ASGITransport(receiver.app)
    form = {"url": f"{RECEIVER}/hook", **{f"enabled_events[{i}]": e for i, e in enumerate(events)}}
    endpoint = (await api.post("/v1/webhook_endpoints", data=form)).json()
    receiver.secret = endpoint["secret"]
    return endpoint


def test_signature_round_trip_and_tolerance():
    body = b'{"id":"evt_1","object":"event"}'
    header = signature_header("whsec_abc", body)
    assert verify_header("whsec_abc", body, header)
    assert not verify_header("whsec_abc", body + b" ", header)
    old = signature_header("whsec_abc", body, timestamp=1)
    assert not verify_header("whsec_abc", body, old) and verify_header("whsec_abc", body, old, tolerance=0)
    event = stripe.Webhook.construct_event(body.decode(), header, "whsec_abc")
    assert event.id == "evt_1"


async def test_delivery_signed_and_filtered_by_enabled_events(sim, api):
    receiver = Receiver()
    endpoint = await subscribe(sim, api, receiver, events=("customer.created",))
    assert endpoint["secret"].startswith("whsec_") and "secret" not in (
        await api.get(f"/v1/webhook_endpoints/{endpoint['id']}")).json()
    await api.post("/v1/customers", data={"email": "a@x"})
    await api.post("/v1/payment_intents", data={"amount": "100", "currency": "usd"})
    assert await sim.webhooks.deliver_due() == 1
    assert receiver.events == ["customer.created"]
    event = (await api.get("/v1/events", params={"type": "customer.created"})).json()["data"][0]
    assert event["pending_webhooks"] == 0


async def test_failures_retry_with_backoff_on_the_virtual_clock(sim, api):
    receiver = Receiver(fail_first=2)
    await subscribe(sim, api, receiver)
    await api.post("/v1/customers", data={"email": "a@x"})
    assert await sim.webhooks.deliver_due() == 1 and receiver.events == []
    assert await sim.webhooks.deliver_due() == 0  # not due before the backoff
    sim.clock.advance(3599)
    assert await sim.webhooks.deliver_due() == 0
    sim.clock.advance(1)
    assert await sim.webhooks.deliver_due() == 1 and receiver.events == []
    sim.clock.advance(7200)
    assert await sim.webhooks.deliver_due() == 1 and receiver.events == ["customer.created"]
    delivery = sim.tenants.get("acme").store.records("webhook_deliveries")[0]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3


async def test_a_delivery_that_never_succeeds_fails_after_the_schedule(sim, api):
    receiver = Receiver(fail_first=100)
    await subscribe(sim, api, receiver)
    await api.post("/v1/customers")
    for wait in (0, 3600, 7200, 14400):
        sim.clock.advance(wait)
        await sim.webhooks.deliver_due()
    assert receiver.attempts == 4
    assert sim.tenants.get("acme").store.records("webhook_deliveries")[0]["status"] == "failed"


async def test_seeded_duplicates_and_reordering(sim, api):
    sim.faults.add(fault_rule_adapter.validate_python({"id": "dup", "kind": "duplicate", "operation": "webhooks",
                                                       "copies": 1, "probability": 0.5}))
    sim.faults.add(fault_rule_adapter.validate_python({"id": "shuffle", "kind": "reorder", "operation": "webhooks",
                                                       "window": 4}))

    async def run() -> list[str]:
        receiver = Receiver()
        await subscribe(sim, api, receiver, events=("customer.created",))
        for i in range(8):
            await api.post("/v1/customers", data={"email": f"c{i}@x"})
        await sim.webhooks.deliver_due()
        return receiver.events, receiver.attempts

    events, attempts = await run()
    assert attempts > 8 and len(events) == attempts  # duplicates, every copy signed and verified
    assert sim.tenants.get("acme").store.count("webhook_deliveries") == 8  # one delivery record per event

    sim.reset()
    sim.faults.seed = 7
    for rule in ({"id": "dup", "kind": "duplicate", "operation": "webhooks", "copies": 1, "probability": 0.5},
                 {"id": "shuffle", "kind": "reorder", "operation": "webhooks", "window": 4}):
        sim.faults.add(fault_rule_adapter.validate_python(rule))
    assert (await run())[1] == attempts  # the same seed, the same run


async def test_reordering_changes_the_order_deterministically(sim, api):
    async def order(reorder: bool) -> list[str]:
        sim.reset()
        sim.faults.seed = 7
        if reorder:
            sim.faults.add(fault_rule_adapter.validate_python({"id": "shuffle", "kind": "reorder",
                                                               "operation": "webhooks", "window": 6}))
        seen: list[str] = []

        async def hook(request: Request) -> Response:
            seen.append(json.loads(await request.body())["data"]["object"]["email"])
            return Response(status_code=200)

        sim.webhooks.transports[RECEIVER] = httpx.ASGITransport(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
        await api.post("/v1/webhook_endpoints", data={"url": f"{RECEIVER}/hook", "enabled_events[0]": "customer.created"})
        for i in range(10):
            await api.post("/v1/customers", data={"email": f"c{i}"})
        await sim.webhooks.deliver_due()
        return seen

    plain = await order(False)
    assert plain == [f"c{i}" for i in range(10)]
    shuffled = await order(True)
    assert sorted(shuffled) == sorted(plain) and shuffled != plain
    assert await order(True) == shuffled


async def test_delivered_without_being_asked(sim, api):
    sim.webhooks.auto = True
    receiver = Receiver()
    await subscribe(sim, api, receiver)
    await api.post("/v1/customers", data={"email": "a@x"})
    for _ in range(100):
        if receiver.events:
            break
        await asyncio.sleep(0.02)
    assert receiver.events == ["customer.created"]
    sim.webhooks.auto = False
    sim.webhooks.stop()


async def test_disabled_endpoints_get_nothing(sim, api):
    receiver = Receiver()
    endpoint = await subscribe(sim, api, receiver)
    await api.post(f"/v1/webhook_endpoints/{endpoint['id']}", data={"disabled": "true"})
    await api.post("/v1/customers")
    await sim.webhooks.deliver_due()
    assert receiver.attempts == 0


async def test_the_typed_admin_client_drives_keys_and_deliveries(sim):
    from q2c_harness.harness.sim_admin import AsyncSimAdmin

    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://payments.sim") as http:
        admin = AsyncSimAdmin(http)
        key = await admin.payments_key("globex")
        auth = {"Authorization": f"Bearer {key.secret_key}"}
        receiver = Receiver(fail_first=1)
        sim.webhooks.transports[RECEIVER] = httpx.ASGITransport(receiver.app)
        endpoint = (await http.post("/v1/webhook_endpoints", headers=auth,
                                    data={"url": f"{RECEIVER}/hook", "enabled_events[0]": "*"})).json()
        receiver.secret = endpoint["secret"]
        config = await admin.configure_webhooks(retry_schedule_seconds=[60])
        assert config["retry_schedule_seconds"] == [60]
        await http.post("/v1/customers", headers=auth)
        assert await admin.deliver_webhooks("globex") == 1
        [pending] = await admin.webhook_deliveries("globex", "pending")
        assert pending["attempts"] == 1 and pending["last_status"] == 500
        await admin.advance_clock(60)
        assert await admin.deliver_webhooks() == 1
        assert [d["status"] for d in await admin.webhook_deliveries("globex")] == ["delivered"]
