"""Q2C KPIs computed from the events the flows publish (``occurred_at``: the core's clock, the simulators' virtual
clock in scenarios) and the exception queue. No standard definitions exist; ours are:

- ``quote_to_project_activation``: for each ``project.activated`` event, seconds since the ``quote.accepted``
  event with the same ``payload.quote_id`` (or, when either lacks one, the same correlation id). Distribution.
- ``billing_cycle_latency``: for each approved item (``time.approved`` ``payload.sources``), seconds from its
  approval to the ``invoice.posted`` of the invoice its ``billing_event.created`` put it on.
- ``invoice_exception_rate``: billing runs held in the exception queue (any status: each hold is one exception) plus
  ``invoice.exception`` events, over those plus ``invoice.posted`` events.
- ``unbilled_backlog``: approved items on no ``billing_event.created``: count, and the sum of their value at the
  PSA's own rate (``time.approved`` ``payload.items``) per currency (Decimal strings).
- ``cash_application_lag``: for each ``payment.applied``, seconds since the ``payment.received`` with the same
  ``payload.payment_id`` (whichever was published first; never negative); ``unapplied`` counts received payments with
  no application yet.

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


BILLING_RUN = "billing-run:"  # the billing workflow's key in an exception item's source key (flows/intake.py)


def held_billing_runs(items: Iterable[Any]) -> int:
    """Exception items that hold a billing run (each a held invoice)."""
    return sum(1 for i in items if BILLING_RUN in (getattr(i, "source_key", None) or ""))


def compute_kpis(events: Iterable[Any], *, held_runs: int = 0) -> dict[str, Any]:
    quotes_by_id: dict[str, str] = {}
    quotes_by_cid: dict[str, str] = {}
    approved_at: dict[str, str] = {}
    approved_value: dict[str, tuple[str, Decimal]] = {}
    invoice_sources: dict[str, list[str]] = {}
    posted_at: dict[str, str] = {}
    activation: list[float] = []
    received: dict[str, str] = {}
    applied_at: dict[str, str] = {}
    posted = exceptions = 0
    evs = sorted(events, key=lambda e: e.offset)
    for e in evs:
        p = _payload(e)
        if e.type == ev.QUOTE_ACCEPTED:
            if p.get("quote_id") is not None:
                quotes_by_id.setdefault(str(p["quote_id"]), e.occurred_at)
            if e.correlation_id:
                quotes_by_cid.setdefault(e.correlation_id, e.occurred_at)
        elif e.type == ev.TIME_APPROVED:
            for sid in p.get("sources") or []:
                approved_at.setdefault(str(sid), e.occurred_at)
            for item in p.get("items") or []:
                try:
                    approved_value[str(item["id"])] = (str(item.get("currency") or "n/a"), Decimal(str(item["amount"])))
                except (KeyError, InvalidOperation):
                    continue
        elif e.type == ev.BILLING_EVENT_CREATED and p.get("invoice_id") is not None:
            invoice_sources[str(p["invoice_id"])] = [str(s) for s in p.get("sources") or []]
        elif e.type == ev.INVOICE_POSTED:
            posted += 1
            if p.get("invoice_id") is not None:
                posted_at.setdefault(str(p["invoice_id"]), e.occurred_at)
        elif e.type == ev.INVOICE_EXCEPTION:
            exceptions += 1
        elif e.type == ev.PAYMENT_RECEIVED and p.get("payment_id") is not None:
            received.setdefault(str(p["payment_id"]), e.occurred_at)
        elif e.type == ev.PAYMENT_APPLIED and p.get("payment_id") is not None:
            applied_at.setdefault(str(p["payment_id"]), e.occurred_at)
        elif e.type == ev.PROJECT_ACTIVATED:
            start = quotes_by_id.get(str(p["quote_id"])) if p.get("quote_id") is not None else None
            start = start or (quotes_by_cid.get(e.correlation_id) if e.correlation_id else None)
            if start:
                activation.append(_secs(start, e.occurred_at))
    latency = [_secs(approved_at[sid], posted_at[inv]) for inv, sids in invoice_sources.items() if inv in posted_at
               for sid in sids if sid in approved_at]
    billed = {sid for sids in invoice_sources.values() for sid in sids}
    unbilled = [sid for sid in approved_at if sid not in billed]
    backlog_amounts: dict[str, Decimal] = defaultdict(Decimal)
    for sid in unbilled:
        if sid in approved_value:
            currency, amount = approved_value[sid]
            backlog_amounts[currency] += amount
    cash_lag = [max(0.0, _secs(received[pid], at)) for pid, at in applied_at.items() if pid in received]
    held = exceptions + held_runs
    total = posted + held
    return {
        "quote_to_project_activation_seconds": _dist([v for v in activation if not math.isnan(v)]),
        "billing_cycle_latency_seconds": _dist([v for v in latency if not math.isnan(v)]),
        "invoice_exception_rate": {"posted": posted, "exceptions": held,
                                   "rate": None if total == 0 else round(held / total, 4)},
        "unbilled_backlog": {"items": len(unbilled), "amount_by_currency": {c: str(a) for c, a in
                                                                            sorted(backlog_amounts.items())}},
        "cash_application_lag_seconds": {**_dist([v for v in cash_lag if not math.isnan(v)]),
                                         "unapplied": len(set(received) - set(applied_at))},
        "events_considered": len(evs),
    }


BUCKETS = {"hour": 3600, "day": 86400}


def kpi_history(events: Iterable[Any], bucket: str = "hour", limit: int = 48,
                held: Iterable[Any] = ()) -> dict[str, Any]:
    """KPIs over time: for each of the last ``limit`` buckets (hour or day, aligned to UTC) that end at or after the
    first event, the KPIs computed over every event that occurred (and every billing run ``held`` that was parked)
    before the bucket's end (a running view "as of" that time), flattened to the figures the dashboard charts."""
    import datetime as dt

    from q2c_harness.engine.db import iso

    step = BUCKETS[bucket]
    held_items = list(held)
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
        before = iso(dt.datetime.fromtimestamp(end, dt.timezone.utc))
        k = compute_kpis([p[1] for p in evs[:i]], held_runs=held_billing_runs(
            h for h in held_items if h.created_at < before))
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
