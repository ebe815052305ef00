"""Change Data Capture delivery: the feed behind the long-poll subscription operation (`cdc_events`), with replay ids.

GET /services/data/vXX.X/sim/events/{channel}?replayId=N&wait=S&limit=L
- channel: `ChangeEvents` (every enabled object) or `<Object>ChangeEvent` / `<Name>__ChangeEvent` (custom objects);
- replayId: -1 = only events published from now on, -2 = every retained event, N = events after replay id N;
- wait: seconds (real time, at most 60) to hold the request open when nothing is there yet.
Delivery is at least once: resume from `latestReplayId`. Kernel `duplicate` / `reorder` fault rules (operation =
the channel name) duplicate or reorder events within a delivered batch, drawn from the simulator's seed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .exceptions import NotFound, SalesforceError
from .models import SalesforceBackend, change_event_name

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


async def next_batch(b: SalesforceBackend, replay_id: int, channel: str, limit: int, wait: float
                     ) -> tuple[list[dict], int]:
    """The events after `replay_id` (-1: from now on, -2: every retained one), held open up to `wait` seconds (at
    most MAX_WAIT) while there are none; and the replay id to resume from."""
    if not 1 <= limit <= 1000:
        raise SalesforceError("limit must be between 1 and 1000", "INVALID_INPUT")
    if wait < 0 or wait != wait:
        raise SalesforceError("wait must be zero or more seconds", "INVALID_INPUT")
    if replay_id < -2:
        raise SalesforceError("replayId must be -2, -1 or a replay id", "INVALID_REPLAY_ID")
    channel_object(b, channel)
    after = b.latest_replay() if replay_id == -1 else (0 if replay_id == -2 else replay_id)
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
    return batch, max((e["replayId"] for e in batch), default=after)
