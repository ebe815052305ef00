"""Webhooks: Stripe's signature and the delivery schedule, on the virtual clock.

Signature (stripe-python `_webhook.py`, docs.stripe.com/webhooks#verify-manually): `Stripe-Signature:
t=<unix seconds>,v1=<hex HMAC-SHA256 keyed with the whole whsec_ secret over "{t}.{raw body}">`. `t` is the wall
clock at the attempt, because `construct_event` compares it with `time.time()` (tolerance 300 s); the exact bytes
sent are the bytes signed.

Delivery (docs.stripe.com/webhooks, /webhooks/process-undelivered-events): at least once, in no guaranteed order.
Every event an endpoint subscribes to gets a delivery record (written with the event, in the same atomic block);
the dispatcher attempts whatever is due on the virtual clock, unprompted, in the running event loop. A non-2xx
answer, a timeout or a connection error is a failure, retried after `retry_schedule_seconds` (virtual time; the
default is the test-mode stand-in of three retries over hours: 1 h, 2 h, 4 h). Seeded faults on the stream
`webhooks`: `duplicate` sends a delivered event `copies` more times, `reorder` lets an event fall up to `window`
places behind later ones in a batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from .simulator import PaymentsSimulator

STREAM = "webhooks"
DEFAULT_RETRY_SCHEDULE = (3600.0, 7200.0, 14400.0)
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def signature_header(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_header(secret: str, payload: bytes, header: str, tolerance: float = 300, now: float | None = None) -> bool:
    """True when one `v1` of the header signs `payload` and `t` is within `tolerance` seconds of `now`."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if not stamps or not stamps[0].isdigit():
        return False
    t = int(stamps[0])
    if tolerance and t < (time.time() if now is None else now) - tolerance:
        return False
    expected = signature_header(secret, payload, t).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


def event_body(event: dict[str, Any]) -> bytes:
    public = {k: v for k, v in event.items() if k[0] != "_"}
    return json.dumps(public, indent=2).encode()  # Stripe sends indented JSON


class WebhookDispatcher:
    def __init__(self, sim: PaymentsSimulator) -> None:
        self.sim = sim
        self.retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
        self.timeout = 10.0
        self.auto = True  # deliver in the background; off: only `deliver_due()` (tests, the admin endpoint) sends
        self.verify: bool | str = True
        self.transports: dict[str, httpx.AsyncBaseTransport] = {}  # base URL -> in-process transport
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None

    # -- the background loop ------------------------------------------------------------------------------------
    def wake(self) -> None:
        """A new event: make sure the loop runs in the current event loop and look at once."""
        if not self.auto:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a backend used directly): deliveries wait for deliver_due()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="payments-webhooks")
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        while self.auto:
            try:
                await self.deliver_due()
            except Exception:  # noqa: BLE001 - a failed attempt is recorded on its delivery; keep going
                pass
            assert self._wake is not None
            self._wake.clear()
            try:  # poll the virtual clock for retries coming due, or wake at once for a new event
                await asyncio.wait_for(self._wake.wait(), timeout=0.2)
            except asyncio.TimeoutError:
                pass

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    # -- attempts -----------------------------------------------------------------------------------------------
    def due(self, tenant: str) -> list[dict[str, Any]]:
        store = self.sim.tenants.get(tenant).store
        now = self.sim.clock.timestamp()
        rows = [d for d in store.records("webhook_deliveries") if d["status"] == "pending" and d["next_attempt_at"] <= now]
        rows.sort(key=lambda d: (d["next_attempt_at"], d["event_seq"]))
        keyed = []
        for position, d in enumerate(rows):
            shift = sum(rule.window * u for rule, u in self.sim.faults.event_rules(tenant, STREAM, "reorder"))
            keyed.append((position + shift, position, d))
        return [d for _, _, d in sorted(keyed)]

    async def deliver_due(self, tenant: str | None = None) -> int:
        """Attempt every delivery due now (virtual clock); the number of attempts made."""
        attempts = 0
        for tid in [tenant] if tenant else self.sim.tenants.ids():
            if tid not in self.sim.tenants:
                continue
            store = self.sim.tenants.get(tid).store
            for d in self.due(tid):
                store.put("webhook_deliveries", d["id"], {**d, "status": "in_flight"})  # claimed
                await self._attempt(tid, d)
                attempts += 1
        return attempts

    async def _attempt(self, tenant: str, d: dict[str, Any]) -> None:
        store = self.sim.tenants.get(tenant).store
        event = store.get("events", d["event_id"])
        endpoint = store.get("webhook_endpoints", d["endpoint_id"])
        if event is None or endpoint is None or endpoint.get("_deleted") or endpoint["status"] != "enabled":
            store.put("webhook_deliveries", d["id"], {**d, "status": "failed", "last_error": "endpoint gone or disabled"})
            return
        body = event_body(event)
        status, error = await self._post(endpoint, body)
        attempt = d["attempts"] + 1
        if status is not None and 200 <= status < 300:
            copies = sum(rule.copies for rule, _ in self.sim.faults.event_rules(tenant, STREAM, "duplicate"))
            for _ in range(copies):
                await self._post(endpoint, body)
            store.put("webhook_deliveries", d["id"], {
                **d, "status": "delivered", "attempts": attempt, "last_status": status, "last_error": None,
                "delivered_at": self.sim.clock.timestamp(), "duplicates_sent": copies})
            store.put("events", event["id"], {**event, "pending_webhooks": max(0, event["pending_webhooks"] - 1)})
            return
        retry = attempt <= len(self.retry_schedule)
        store.put("webhook_deliveries", d["id"], {
            **d, "status": "pending" if retry else "failed", "attempts": attempt, "last_status": status,
            "last_error": error, "next_attempt_at": self.sim.clock.timestamp() + (
                self.retry_schedule[attempt - 1] if retry else 0)})

    async def _post(self, endpoint: dict[str, Any], body: bytes) -> tuple[int | None, str | None]:
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   "Accept": "*/*; q=0.5, application/xml", "Cache-Control": "no-cache",
                   "Stripe-Signature": signature_header(endpoint["_secret"], body)}
        url = endpoint["url"]
        transport = next((t for base, t in self.transports.items() if url.startswith(base)), None)
        try:
            async with httpx.AsyncClient(transport=transport, verify=self.verify, timeout=self.timeout) as client:
                response = await client.post(url, content=body, headers=headers)
            return response.status_code, None if response.is_success else f"HTTP {response.status_code}"
        except Exception as exc:  # noqa: BLE001 - any transport failure is a failed attempt, retried later
            return None, f"{type(exc).__name__}: {exc}"
