"""Subscribed events: at least once, duplicated and reordered under seeded faults, kept 9 days; push webhooks."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from q2c_simulators.kernel.faults import fault_rule_adapter
from q2c_simulators.psa import verify_signature

from .conftest import ACCOUNT, client_for, create, fresh_sim


async def _busy_account(sim, n: int = 30) -> None:
    async with client_for(sim) as api:
        ws = await create(api, "workspaces", "workspace", title="Feed")
        user = await create(api, "users", "user", full_name="Ann", email_address="ann@x.test")
        entries = [{"workspace_id": ws["id"], "user_id": user["id"], "date_performed": "2024-02-01",
                    "time_in_minutes": 15 + i} for i in range(n)]
        r = await api.post("/api/v1/time_entries.json", json={"time_entries": entries})
        assert r.status_code == 201 and r.json()["count"] == n


def _faulty(sim) -> None:
    # Explicit rule ids: every draw hashes (seed, rule id, tenant, n), so the same ids keep the run reproducible.
    for rule in ({"id": "dup", "kind": "duplicate", "operation": "subscribed_events", "probability": 0.3, "copies": 1},
                 {"id": "shuffle", "kind": "reorder", "operation": "subscribed_events", "probability": 0.4, "window": 4}):
        sim.faults.add(fault_rule_adapter.validate_python(rule))


async def _consume(sim) -> tuple[list[str], set[str]]:
    """A consumer that pages with since_id and dedupes by event id; returns (delivery order, distinct ids)."""
    delivered: list[str] = []
    seen: set[str] = set()
    cursor = 0
    async with client_for(sim) as api:
        while True:
            body = (await api.get(f"/api/v1/subscribed_events.json?since_id={cursor}&per_page=10")).json()
            ids = [r["id"] for r in body["results"]]
            if not ids:
                return delivered, seen
            delivered.extend(ids)
            seen.update(ids)
            cursor = max(int(i) for i in ids)


async def test_events_duplicated_and_reordered_are_all_delivered(sim):
    await _busy_account(sim)
    _faulty(sim)
    delivered, seen = await _consume(sim)
    assert seen == {str(i) for i in range(1, 33)}  # workspace, user, 30 time entries: every one arrives
    assert len(delivered) > len(seen)  # some arrived twice
    assert delivered != sorted(delivered, key=int)  # and not in order


async def test_same_seed_same_event_order():
    orders = []
    for _ in range(2):
        sim = fresh_sim(seed=42)
        await _busy_account(sim)
        _faulty(sim)
        orders.append((await _consume(sim))[0])
    assert orders[0] == orders[1]
    other = fresh_sim(seed=43)
    await _busy_account(other)
    _faulty(other)
    assert (await _consume(other))[0] != orders[0]


async def test_event_shape_filters_and_nine_day_retention(sim):
    async with client_for(sim) as api:
        ws = await create(api, "workspaces", "workspace", title="Old", budget_in_cents=1000)
        sim.clock.advance(86400)
        await api.put(f"/api/v1/workspaces/{ws['id']}.json", json={"workspace": {"budget_in_cents": 2000}})
        body = (await api.get("/api/v1/subscribed_events.json?event_types=workspace:updated")).json()
        [event] = body["subscribed_events"].values()
        assert event["subject_type"] == "Workspace" and event["subject_id"] == ws["id"]
        assert event["payload_changes"]["budget_in_cents"] == [1000, 2000]
        assert event["previous_payload"]["budget_in_cents"] == 1000
        assert event["current_payload"]["budget_in_cents"] == 2000
        after = (await api.get("/api/v1/subscribed_events.json",
                               params={"created_after": "2024-03-01T12:00:00Z"})).json()
        assert [e["event_type"] for e in after["subscribed_events"].values()] == ["workspace:updated"]
        sim.clock.advance(8.5 * 86400)  # the create is now 9.5 days old, the update 8.5
        kept = (await api.get("/api/v1/subscribed_events.json")).json()
        assert [e["event_type"] for e in kept["subscribed_events"].values()] == ["workspace:updated"]


class Receiver:
    """An in-process webhook receiver that fails the first `failures` deliveries with 500."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        self.calls.append((await request.body(), dict(request.headers)))
        return Response(status_code=500 if len(self.calls) <= self.failures else 200)


async def test_webhook_retries_with_backoff_until_2xx(sim):
    receiver = Receiver(failures=2)
    sub = sim.webhooks.subscribe(ACCOUNT, "https://receiver.test/hook", event_types=["workspace:created"],
                                 app=receiver.app)
    async with client_for(sim) as api:
        await create(api, "workspaces", "workspace", title="Hooked")
        await create(api, "roles", "role", name="Not subscribed")
    assert await sim.webhooks.pump() == 1 and len(receiver.calls) == 1  # 500
    assert await sim.webhooks.pump() == 0  # the retry waits 10 s of virtual time
    sim.clock.advance(10)
    assert await sim.webhooks.pump() == 1 and len(receiver.calls) == 2  # 500 again
    sim.clock.advance(19)
    assert await sim.webhooks.pump() == 0  # next retry is 20 s after the second attempt
    sim.clock.advance(1)
    assert await sim.webhooks.pump() == 1 and len(receiver.calls) == 3  # 200
    body, headers = receiver.calls[-1]
    assert headers["x-psa-delivery-attempt"] == "3"
    assert json.loads(body)["event_type"] == "workspace:created"
    assert verify_signature(sub["secret"], body, headers)
    assert not verify_signature(sub["secret"], body.replace(b"Hooked", b"Hacked"), headers)
    assert not verify_signature("another-secret", body, headers)
    assert len({c[1]["x-psa-delivery-id"] for c in receiver.calls}) == 1  # one delivery, three attempts
    sim.clock.advance(3600)
    assert await sim.webhooks.pump() == 0  # delivered: nothing more to send


async def test_webhook_duplicate_fault_and_admin_api(sim):
    receiver = Receiver(failures=0)
    sim.faults.add(fault_rule_adapter.validate_python({"kind": "duplicate", "operation": "webhooks", "copies": 1}))
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://psa.sim") as admin:
        r = await admin.post("/__admin/psa/webhooks", json={"account": ACCOUNT, "url": "https://receiver.test/hook",
                                                            "secret": "s3cret-value"})
        assert r.status_code == 201
        sim.webhooks.transports[(ACCOUNT, r.json()["id"])] = httpx.ASGITransport(receiver.app)
        async with client_for(sim) as api:
            await create(api, "roles", "role", name="Architect")
        assert (await admin.post("/__admin/psa/webhooks/pump", json={})).json() == {"attempts": 1}
        assert len(receiver.calls) == 2 and receiver.calls[0] == receiver.calls[1]  # same bytes, same headers
        body, headers = receiver.calls[0]
        assert verify_signature("s3cret-value", body, headers)
        deliveries = (await admin.get(f"/__admin/psa/webhooks/deliveries?account={ACCOUNT}")).json()["deliveries"]
        assert [d["status"] for d in deliveries] == ["delivered"]


async def test_webhook_to_a_real_url(sim):
    received: list[tuple[bytes, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append((self.rfile.read(int(self.headers["Content-Length"])), dict(self.headers)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sub = sim.webhooks.subscribe(ACCOUNT, f"http://127.0.0.1:{server.server_address[1]}/hook")
        async with client_for(sim) as api:
            await create(api, "roles", "role", name="PM")
        assert await sim.webhooks.pump() == 1
        [(body, headers)] = received
        assert verify_signature(sub["secret"], body, headers)
    finally:
        server.shutdown()
        server.server_close()
