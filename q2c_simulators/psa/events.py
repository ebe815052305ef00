"""Subscribed events (Kantata's pull feed) and push webhooks (this simulator's addition).

The feed (`GET /api/v1/subscribed_events.json`): every write appends an event to the account's store:
`{id, event_type, subject_type, subject_id, workspace_id, created_at, previous_payload, current_payload,
payload_changes}`; `payload_changes` maps each changed wire field to `[old, new]`. Events are kept 9 days on the
virtual clock (vendor-apis.md section 3). Delivery is at least once, possibly duplicated and out of order: kernel
fault rules of kind `duplicate` / `reorder` with `operation: subscribed_events` act on each page read (seeded, so
the same seed and reads give the same page). Reordering stays inside one page, so a consumer that pages with
`since_id` (or `created_after`) and dedupes by event id sees every event.

Webhooks (Kantata has no push; see docs/psa.md): subscriptions per account with a secret; each matching event is
queued as a delivery and POSTed as the event's JSON by `WebhookDispatcher.pump()`. Signature (see
`verify_signature`): `X-PSA-Signature: sha256=<hex HMAC-SHA256(secret, "<X-PSA-Timestamp>." + raw body)>`.
Non-2xx or a transport error schedules a retry on the virtual clock: 10 s, 20 s, 40 s ... after the failed attempt;
after `MAX_ATTEMPTS` the delivery is `failed`. A `duplicate` fault rule with `operation: webhooks` re-sends a
successful delivery (same delivery id).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from q2c_simulators.kernel import Store

from .schema import ResourceType, to_wire

if TYPE_CHECKING:
    from .simulator import PsaSimulator

RETENTION_DAYS = 9
FEED_STREAM = "subscribed_events"
WEBHOOK_STREAM = "webhooks"
BACKOFF_BASE_SECONDS = 10
MAX_ATTEMPTS = 6
SIGNATURE_HEADER = "X-PSA-Signature"
TIMESTAMP_HEADER = "X-PSA-Timestamp"

EVENT_TYPES = (
    "workspace:created", "workspace:updated", "workspace:deleted",
    "story:created", "story:updated", "story:deleted",
    "time_entry:created", "time_entry:updated", "time_entry:deleted",
    "timesheet_submission:created", "timesheet_submission:approved", "timesheet_submission:rejected",
    "timesheet_submission:canceled",
    "expense:created", "expense:updated", "expense:deleted", "expense:submitted", "expense:approved",
    "expense:rejected",
    "expense_report_submission:created", "expense_report_submission:approved", "expense_report_submission:rejected",
    "billing_milestone:created", "billing_milestone:updated", "billing_milestone:deleted",
    "billing_milestone:accepted", "billing_milestone:rejected",
    "invoice:created", "invoice:updated", "invoice:canceled",
    "budget_change_order:created", "schedule_change_order:created",
    "participation:created", "participation:updated", "participation:deleted",
    "assignment:created", "assignment:updated", "assignment:deleted",
    "rate_card:created", "rate_card:updated", "rate_card:deleted",
    "rate_card_version:created", "rate_card_version:updated", "rate_card_version:deleted",
    "external_reference:created", "external_reference:updated", "external_reference:deleted",
    "user:created", "user:updated", "user:deleted", "role:created", "role:updated", "role:deleted",
)


def iso(moment: datetime) -> str:
    """Timestamps are compared as strings: always UTC with microseconds, so the text order is the time order."""
    return moment.isoformat(timespec="microseconds")


# ---- the feed ---------------------------------------------------------------------------------------------------
def record_event(store: Store, rt: ResourceType, action: str, before: dict | None, after: dict | None,
                 now_iso: str) -> dict:
    prev = to_wire(rt, before) if before is not None else None
    cur = to_wire(rt, after) if after is not None else None
    changes: dict[str, list] = {}
    if prev is None and cur is not None:
        changes = {k: [None, v] for k, v in cur.items() if v is not None and k not in ("created_at", "updated_at")}
    elif prev is not None and cur is not None:
        changes = {k: [prev.get(k), v] for k, v in cur.items() if prev.get(k) != v and k != "updated_at"}
    subject = cur or prev or {}
    eid = str(store.next_id("events"))
    event = {
        "id": eid, "event_type": f"{rt.singular}:{action}", "subject_type": rt.subject_type,
        "subject_id": subject.get("id"), "workspace_id": subject.get("workspace_id"), "created_at": now_iso,
        "previous_payload": prev, "current_payload": cur, "payload_changes": changes,
    }
    store.put("events", eid, event)
    enqueue_deliveries(store, event, now_iso)
    return event


def prune(store: Store, cutoff: datetime) -> int:
    """Drop events (and their finished deliveries) older than the retention window."""
    limit = iso(cutoff)
    dropped = 0
    for eid in store.ids("events"):
        if store.get("events", eid)["created_at"] >= limit:
            break
        store.delete("events", eid)
        dropped += 1
    if dropped:
        for did in store.ids("webhook_deliveries"):
            d = store.get("webhook_deliveries", did)
            if d["created_at"] >= limit:
                break
            if d["status"] in ("delivered", "failed"):
                store.delete("webhook_deliveries", did)
    return dropped


def select(store: Store, *, created_after: str | None, since_id: int | None,
           event_types: Iterable[str] | None) -> list[dict]:
    rows = store.records("events")
    if since_id is not None:
        rows = [e for e in rows if int(e["id"]) > since_id]
    if created_after is not None:
        rows = [e for e in rows if e["created_at"] > created_after]
    if event_types:
        wanted = set(event_types)
        rows = [e for e in rows if e["event_type"] in wanted or e["event_type"].split(":")[0] + ":*" in wanted]
    return rows


def apply_feed_faults(sim: PsaSimulator, tenant: str | None, page: list[dict]) -> list[dict]:
    """Duplicate and reorder one page of events as the kernel's seeded `duplicate`/`reorder` rules say."""
    if not sim.faults.has_rules():  # the common case: no rules, no work
        return page
    out: list[dict] = []
    for event in page:
        out.append(event)
        for rule, _u in sim.faults.event_rules(tenant, FEED_STREAM, "duplicate"):
            out.extend([event] * rule.copies)
    keyed = []
    for pos, event in enumerate(out):
        shift = 0.0
        for rule, u in sim.faults.event_rules(tenant, FEED_STREAM, "reorder"):
            shift = max(shift, 1.5 + int(u * (rule.window - 1)))  # lands after the next `shift` events
        keyed.append((pos + shift, pos, event))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [e for _, _, e in keyed]


# ---- webhooks ---------------------------------------------------------------------------------------------------
def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, body: bytes, headers: Mapping[str, str], *,
                     tolerance_seconds: float | None = None, now: float | None = None) -> bool:
    """True when `X-PSA-Signature` is `sha256=` + HMAC-SHA256(secret, `X-PSA-Timestamp` + "." + body) in hex.

    With `tolerance_seconds`, also refuse a timestamp further than that from `now` (replay protection)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER.lower())
    timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    if not signature or not timestamp:
        return False
    if tolerance_seconds is not None:
        try:
            ts = float(timestamp)
        except ValueError:
            return False
        current = now if now is not None else datetime.now().timestamp()
        if abs(current - ts) > tolerance_seconds:
            return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def enqueue_deliveries(store: Store, event: dict, now_iso: str) -> None:
    if not store.count("webhook_subscriptions"):
        return
    for sub in store.records("webhook_subscriptions"):
        if not sub["active"]:
            continue
        types = sub.get("event_types")
        if types and event["event_type"] not in types and event["event_type"].split(":")[0] + ":*" not in types:
            continue
        did = str(store.next_id("webhook_deliveries"))
        store.put("webhook_deliveries", did, {
            "id": did, "subscription_id": sub["id"], "event_id": event["id"], "event_type": event["event_type"],
            "status": "pending", "attempts": 0, "next_attempt_at": now_iso, "created_at": now_iso,
            "last_status": None, "last_error": None, "delivered_at": None, "duplicates_sent": 0,
        })


def new_subscription(store: Store, url: str, event_types: list[str] | None, secret: str | None, now_iso: str) -> dict:
    sid = str(store.next_id("webhook_subscriptions"))
    sub = {"id": sid, "url": url, "event_types": event_types or None, "secret": secret or secrets.token_hex(24),
           "active": True, "created_at": now_iso}
    store.put("webhook_subscriptions", sid, sub)
    return sub


class WebhookDispatcher:
    """Sends due webhook deliveries. Nothing is sent until something pumps: `await pump()`, the admin endpoint
    `POST /__admin/psa/webhooks/pump`, or the optional background pumper (`start_autopump`)."""

    def __init__(self, sim: PsaSimulator) -> None:
        self.sim = sim
        self.transports: dict[tuple[str, str], httpx.AsyncBaseTransport] = {}
        self.verify: bool | str = True  # TLS verification for real URLs (a CA bundle path also works)
        self.timeout = 10.0
        self._autopump: asyncio.Task | None = None

    def subscribe(self, tenant: str, url: str, *, event_types: list[str] | None = None, secret: str | None = None,
                  app: Any = None, transport: httpx.AsyncBaseTransport | None = None) -> dict:
        """Subscribe `url`; pass an ASGI `app` or an httpx `transport` to deliver in-process instead of over TCP."""
        backend = self.sim.tenants.get(tenant)
        sub = new_subscription(backend.store, url, event_types, secret, iso(self.sim.clock.now()))
        if app is not None:
            transport = httpx.ASGITransport(app)
        if transport is not None:
            self.transports[(tenant, sub["id"])] = transport
        return sub

    def unsubscribe(self, tenant: str, sub_id: str) -> bool:
        self.transports.pop((tenant, sub_id), None)
        backend = self.sim.tenants.get(tenant)
        return backend.store.delete("webhook_subscriptions", sub_id) is not None

    def body_of(self, event: dict) -> bytes:
        return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()

    def _due(self, tenant: str) -> list[dict]:
        store = self.sim.tenants.get(tenant).store
        if not store.count("webhook_deliveries"):
            return []
        now = iso(self.sim.clock.now())
        return [d for d in store.records("webhook_deliveries") if d["status"] == "pending" and d["next_attempt_at"] <= now]

    async def pump(self, tenant: str | None = None) -> int:
        """Attempt every delivery that is due now (virtual clock); returns the number of attempts made."""
        attempts = 0
        for tid in [tenant] if tenant else self.sim.tenants.ids():
            if tid not in self.sim.tenants:
                continue
            store = self.sim.tenants.get(tid).store
            for d in self._due(tid):
                store.put("webhook_deliveries", d["id"], {**d, "status": "in_flight"})  # claim it
                await self._attempt(tid, store, d)
                attempts += 1
        return attempts

    async def _attempt(self, tenant: str, store: Store, d: dict) -> None:
        sub = store.get("webhook_subscriptions", d["subscription_id"])
        event = store.get("events", d["event_id"])
        if sub is None or event is None or not sub["active"]:
            store.put("webhook_deliveries", d["id"], {**d, "status": "failed", "last_error": "subscription or event gone"})
            return
        body = self.body_of(event)
        attempt = d["attempts"] + 1
        status, error = await self._post(tenant, sub, d, event, body, attempt)
        now = self.sim.clock.now()
        if status is not None and 200 <= status < 300:
            dupes = sum(rule.copies for rule, _ in self.sim.faults.event_rules(tenant, WEBHOOK_STREAM, "duplicate"))
            for _ in range(dupes):
                await self._post(tenant, sub, d, event, body, attempt)
            store.put("webhook_deliveries", d["id"], {
                **d, "status": "delivered", "attempts": attempt, "last_status": status, "last_error": None,
                "delivered_at": iso(now), "duplicates_sent": dupes})
            return
        done = attempt >= MAX_ATTEMPTS
        store.put("webhook_deliveries", d["id"], {
            **d, "status": "failed" if done else "pending", "attempts": attempt, "last_status": status,
            "last_error": error,
            "next_attempt_at": iso(now + timedelta(seconds=BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))})

    async def _post(self, tenant: str, sub: dict, d: dict, event: dict, body: bytes,
                    attempt: int) -> tuple[int | None, str | None]:
        timestamp = str(int(self.sim.clock.timestamp()))
        headers = {
            "Content-Type": "application/json", "User-Agent": "q2c-psa-sim-webhooks/1",
            "X-PSA-Event-Id": event["id"], "X-PSA-Event-Type": event["event_type"], "X-PSA-Delivery-Id": d["id"],
            "X-PSA-Delivery-Attempt": str(attempt), "X-PSA-Subscription-Id": sub["id"],
            TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(sub["secret"], timestamp, body),
        }
        transport = self.transports.get((tenant, sub["id"]))
        try:
            async with httpx.AsyncClient(transport=transport, verify=self.verify, timeout=self.timeout) as client:
                response = await client.post(sub["url"], content=body, headers=headers)
            return response.status_code, None if response.is_success else f"HTTP {response.status_code}"
        except Exception as exc:  # noqa: BLE001 - any transport failure is a failed attempt, retried later
            return None, f"{type(exc).__name__}: {exc}"

    def start_autopump(self, interval_seconds: float) -> None:
        """Pump every `interval_seconds` of real time in the running event loop (real servers, load tests)."""
        self.stop_autopump()

        async def loop() -> None:
            while True:
                try:
                    await self.pump()
                except Exception:  # noqa: BLE001 - keep pumping; a bad delivery is recorded on the delivery
                    pass
                await asyncio.sleep(interval_seconds)

        self._autopump = asyncio.get_running_loop().create_task(loop())

    def stop_autopump(self) -> None:
        if self._autopump is not None:
            self._autopump.cancel()
            self._autopump = None
