"""Change Data Capture delivery: a long-poll subscription endpoint with replay ids.

GET /services/data/vXX.X/sim/events/{channel}?replayId=N&wait=S&limit=L
- channel: `ChangeEvents` (every enabled object) or `<Object>ChangeEvent` / `<Name>__ChangeEvent` (custom objects);
- replayId: -1 = only events published from now on, -2 = every retained event, N = events after replay id N;
- wait: seconds (real time, at most 60) to hold the request open when nothing is there yet.
Delivery is at least once: resume from `latestReplayId`. Kernel `duplicate` / `reorder` fault rules (operation =
the channel name) duplicate or reorder events within a delivered batch, drawn from the simulator's seed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from .exceptions import NotFound, SalesforceError
from .models import SalesforceBackend, change_event_name
from .responses import Json

if TYPE_CHECKING:
    from .simulator import SalesforceSimulator

MAX_WAIT = 60.0


def channel_object(b: SalesforceBackend, channel: str) -> str | None:
    """The object a channel carries (None for ChangeEvents); NotFound when no enabled object has that channel."""
    if channel == "ChangeEvents":
        return None
    for name in b.org["cdc"]:
        if change_event_name(name) == channel:
            return name
    raise NotFound(f"Unknown or disabled change event channel: /data/{channel}")


def apply_delivery_faults(sim: SalesforceSimulator, tenant: str, channel: str, events: list[dict]) -> list[dict]:
    """Seeded duplicates and reorders of one delivered batch (at-least-once, out-of-order delivery)."""
    if not events or not sim.faults.rules():
        return events
    out: list[dict] = []
    for event in events:
        out.append(event)
        for rule, _u in sim.faults.event_rules(tenant, channel, "duplicate"):
            out.extend([event] * rule.copies)
    for i in range(len(out)):
        fired = sim.faults.event_rules(tenant, channel, "reorder")
        if fired and i + 1 < len(out):
            rule, u = fired[0]
            shift = 1 + int(u * (rule.window - 1))
            j = min(i + shift, len(out) - 1)
            out.insert(j, out.pop(i))
    return out


def add_event_routes(sim: SalesforceSimulator, app: FastAPI, add: Any, auth: Any) -> None:
    async def events(request: Request, version: str, channel: str, replayId: int = -1, wait: float = 0,
                     limit: int = 100) -> Response:  # noqa: N803 - Salesforce's replayId
        b, _, _ = auth(request, version)
        if not 1 <= limit <= 1000:
            raise SalesforceError("limit must be between 1 and 1000", "INVALID_INPUT")
        if wait < 0 or wait != wait:
            raise SalesforceError("wait must be zero or more seconds", "INVALID_INPUT")
        if replayId < -2:
            raise SalesforceError("replayId must be -2, -1 or a replay id", "INVALID_REPLAY_ID")
        channel_object(b, channel)
        after = b.latest_replay() if replayId == -1 else (0 if replayId == -2 else replayId)
        batch = b.events_after(after, channel, limit)
        if not batch and wait > 0:
            waiter = asyncio.Event()
            b.waiters.append(waiter)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + min(wait, MAX_WAIT)
            try:
                while not batch:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        await asyncio.wait_for(waiter.wait(), timeout=remaining)
                    except asyncio.TimeoutError:
                        break
                    waiter.clear()
                    batch = b.events_after(after, channel, limit)
            finally:
                if waiter in b.waiters:
                    b.waiters.remove(waiter)
        latest = max((e["replayId"] for e in batch), default=after)
        tenant = request.scope["state"]["tenant"]
        delivered = apply_delivery_faults(sim, tenant, channel, batch)
        return Json({"channel": f"/data/{channel}", "events": delivered, "latestReplayId": latest})

    add("GET", "/services/data/{version}/sim/events/{channel}", "cdc_events", events, tags=["events"],
        responses={200: {"description": "Change events after replayId; resume from latestReplayId", "content": {
            "application/json": {"schema": {"type": "object", "required": ["channel", "events", "latestReplayId"],
                                            "properties": {"channel": {"type": "string"},
                                                           "events": {"type": "array"},
                                                           "latestReplayId": {"type": "integer"}}}}}}},
        summary="Change Data Capture subscription (long poll with replay id)")
