"""Q2C KPIs computed from event-log timestamps (``occurred_at``). No standard definitions exist; ours are:

- ``quote_to_project_activation``: for each ``project.activated`` event, seconds since the ``quote.accepted``
  event with the same ``payload.quote_id`` (or, when either lacks one, the same correlation id). Distribution.
- ``billing_cycle_latency``: for each source item (``payload.source_ids`` of an ``invoice.posted`` event), seconds
  from that item's approval (``time.approved`` / ``milestone.approved`` with ``payload.id``) to the posting.
- ``invoice_exception_rate``: ``invoice.exception`` events / (``invoice.posted`` + ``invoice.exception``).
- ``unbilled_backlog``: approved items (``time.approved``, ``milestone.approved``) whose id is in no
  ``invoice.posted`` ``source_ids``: count, and Σ ``payload.amount`` per ``payload.currency`` (Decimal strings).
- ``cash_application_lag``: for each ``payment.applied``, seconds since the ``payment.received`` with the same
  ``payload.payment_id``; ``unapplied`` counts received payments with no application yet.

Distributions report count, mean, p50, p90 and max (seconds; nearest-rank percentiles); null when empty.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from q2c_harness.engine import events as ev
from q2c_harness.engine.db import parse_iso


def _dist(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "max": None}
    s = sorted(values)

    def pct(p: float) -> float:
        return s[max(0, math.ceil(p * len(s)) - 1)]

    return {"count": len(s), "mean": round(sum(s) / len(s), 3), "p50": round(pct(0.5), 3),
            "p90": round(pct(0.9), 3), "max": round(s[-1], 3)}


def _secs(a: str, b: str) -> float:
    try:
        return (parse_iso(b) - parse_iso(a)).total_seconds()
    except ValueError:
        return float("nan")


def _payload(e: Any) -> dict[str, Any]:
    return e.payload if isinstance(e.payload, dict) else {}


def compute_kpis(events: Iterable[Any]) -> dict[str, Any]:
    quotes_by_id: dict[str, str] = {}
    quotes_by_cid: dict[str, str] = {}
    approvals: dict[str, Any] = {}
    posted_sources: set[str] = set()
    activation: list[float] = []
    latency: list[float] = []
    received: dict[str, str] = {}
    applied: set[str] = set()
    cash_lag: list[float] = []
    posted = exceptions = 0
    evs = sorted(events, key=lambda e: e.offset)
    for e in evs:
        p = _payload(e)
        if e.type == ev.QUOTE_ACCEPTED:
            if p.get("quote_id") is not None:
                quotes_by_id.setdefault(str(p["quote_id"]), e.occurred_at)
            if e.correlation_id:
                quotes_by_cid.setdefault(e.correlation_id, e.occurred_at)
        elif e.type in (ev.TIME_APPROVED, ev.MILESTONE_APPROVED) and p.get("id") is not None:
            approvals.setdefault(str(p["id"]), e)
        elif e.type == ev.PAYMENT_RECEIVED and p.get("payment_id") is not None:
            received.setdefault(str(p["payment_id"]), e.occurred_at)
    for e in evs:
        p = _payload(e)
        if e.type == ev.PROJECT_ACTIVATED:
            start = quotes_by_id.get(str(p["quote_id"])) if p.get("quote_id") is not None else None
            start = start or (quotes_by_cid.get(e.correlation_id) if e.correlation_id else None)
            if start:
                activation.append(_secs(start, e.occurred_at))
        elif e.type == ev.INVOICE_POSTED:
            posted += 1
            for sid in p.get("source_ids") or []:
                posted_sources.add(str(sid))
                if str(sid) in approvals:
                    latency.append(_secs(approvals[str(sid)].occurred_at, e.occurred_at))
        elif e.type == ev.INVOICE_EXCEPTION:
            exceptions += 1
        elif e.type == ev.PAYMENT_APPLIED and p.get("payment_id") is not None:
            pid = str(p["payment_id"])
            if pid in received and pid not in applied:
                cash_lag.append(_secs(received[pid], e.occurred_at))
            applied.add(pid)
    backlog_amounts: dict[str, Decimal] = defaultdict(Decimal)
    backlog = 0
    for sid, e in approvals.items():
        if sid in posted_sources:
            continue
        backlog += 1
        p = _payload(e)
        try:
            backlog_amounts[str(p.get("currency") or "n/a")] += Decimal(str(p.get("amount", "0")))
        except InvalidOperation:
            pass
    total = posted + exceptions
    return {
        "quote_to_project_activation_seconds": _dist([v for v in activation if not math.isnan(v)]),
        "billing_cycle_latency_seconds": _dist([v for v in latency if not math.isnan(v)]),
        "invoice_exception_rate": {"posted": posted, "exceptions": exceptions,
                                   "rate": None if total == 0 else round(exceptions / total, 4)},
        "unbilled_backlog": {"items": backlog, "amount_by_currency": {c: str(a) for c, a in
                                                                      sorted(backlog_amounts.items())}},
        "cash_application_lag_seconds": {**_dist([v for v in cash_lag if not math.isnan(v)]),
                                         "unapplied": len(set(received) - applied)},
        "events_considered": len(evs),
    }


BUCKETS = {"hour": 3600, "day": 86400}


def kpi_history(events: Iterable[Any], bucket: str = "hour", limit: int = 48) -> dict[str, Any]:
    """KPIs over time: for each of the last ``limit`` buckets (hour or day, aligned to UTC) that end at or after the
    first event, the KPIs computed over every event that occurred before the bucket's end (a running view "as of"
    that time), flattened to the figures the dashboard charts."""
    import datetime as dt

    from q2c_harness.engine.db import iso

    step = BUCKETS[bucket]
    evs = []
    for e in events:
        try:
            evs.append((parse_iso(e.occurred_at).timestamp(), e))
        except ValueError:
            continue
    evs.sort(key=lambda p: (p[0], p[1].offset))
    if not evs:
        return {"bucket": bucket, "points": []}
    first = int(evs[0][0] // step) * step
    last = int(evs[-1][0] // step) * step
    starts = list(range(max(first, last - (limit - 1) * step), last + step, step))
    points = []
    i = 0
    for start in starts:
        end = start + step
        while i < len(evs) and evs[i][0] < end:
            i += 1
        k = compute_kpis([p[1] for p in evs[:i]])
        points.append({
            "start": iso(dt.datetime.fromtimestamp(start, dt.timezone.utc)),
            "end": iso(dt.datetime.fromtimestamp(end, dt.timezone.utc)),
            "events": i,
            "activation_seconds_p50": k["quote_to_project_activation_seconds"]["p50"],
            "billing_cycle_latency_seconds_p50": k["billing_cycle_latency_seconds"]["p50"],
            "invoice_exception_rate": k["invoice_exception_rate"]["rate"],
            "unbilled_backlog_items": k["unbilled_backlog"]["items"],
            "cash_application_lag_seconds_p50": k["cash_application_lag_seconds"]["p50"],
        })
    return {"bucket": bucket, "points": points}
