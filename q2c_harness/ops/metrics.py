"""Prometheus metrics for the ops API. Gauges are read from the database at scrape time (so every worker process
and machine reports the same truth); the request counter and latency histogram are per ops-API process.

| metric | type | labels | meaning |
|---|---|---|---|
| q2c_inbox_events | gauge | status | inbound events by inbox status (received/processing/done/failed) |
| q2c_exception_items | gauge | lot, status | exception-queue items by lot (transient/business) and status |
| q2c_exception_items_overdue | gauge | lot | open items past their lot's SLA (engine/exception_queue.py) |
| q2c_invoice_exception_ratio | gauge | | held invoices / (posted + held), as the KPI page computes it |
| q2c_effects | gauge | status | external writes in the effect ledger by status (pending/done/failed) |
| q2c_event_log_end_offset | gauge | | offset the next published business event will get |
| q2c_consumer_lag_events | gauge | consumer | events published but not yet committed by each consumer |
| q2c_audit_rows | gauge | | rows in the hash-chained audit log |
| q2c_ops_requests_total | counter | method, route, status | ops API requests |
| q2c_ops_request_seconds | histogram | route | ops API latency |
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from q2c_harness.engine import events as ev
from q2c_harness.engine.db import effects, events, sequences


class EngineCollector(Collector):
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        eng = self.engine
        inbox = GaugeMetricFamily("q2c_inbox_events", "Inbound events by inbox status", labels=["status"])
        for status, n in eng.inbox.counts().items():
            inbox.add_metric([status], n)
        yield inbox
        exc = GaugeMetricFamily("q2c_exception_items", "Exception-queue items by lot and status",
                                labels=["lot", "status"])
        for lot, by_status in eng.exceptions.counts().items():
            for status, n in by_status.items():
                exc.add_metric([lot, status], n)
        yield exc
        overdue = GaugeMetricFamily("q2c_exception_items_overdue", "Open exception items past their lot's SLA",
                                    labels=["lot"])
        for lot, n in eng.exceptions.overdue_counts().items():
            overdue.add_metric([lot], n)
        yield overdue
        with eng.db.tx() as conn:  # counted in SQL: a scrape must stay cheap however long the event log is
            by_type = dict(conn.execute(sa.select(events.c.type, sa.func.count()).where(
                events.c.type.in_((ev.INVOICE_POSTED, ev.INVOICE_EXCEPTION))).group_by(events.c.type)).all())
        held, posted = int(by_type.get(ev.INVOICE_EXCEPTION, 0)), int(by_type.get(ev.INVOICE_POSTED, 0))
        yield GaugeMetricFamily("q2c_invoice_exception_ratio", "Held invoices / (posted + held)",
                                value=held / (held + posted) if held + posted else 0.0)
        eff = GaugeMetricFamily("q2c_effects", "External writes in the effect ledger by status", labels=["status"])
        with eng.db.tx() as conn:
            rows = dict(conn.execute(sa.select(effects.c.status, sa.func.count()).group_by(effects.c.status)).all())
            audit_rows = conn.execute(sa.select(sequences.c.next_value).where(sequences.c.name == "audit")
                                      ).scalar_one_or_none()
        for status in ("pending", "done", "failed"):
            eff.add_metric([status], int(rows.get(status, 0)))
        yield eff
        end = eng.events.end_offset()
        yield GaugeMetricFamily("q2c_event_log_end_offset", "Offset the next business event will get", value=end)
        lag = GaugeMetricFamily("q2c_consumer_lag_events", "Events not yet committed per consumer",
                                labels=["consumer"])
        for consumer, pos in eng.events.consumers().items():
            lag.add_metric([consumer], max(0, end - pos))
        yield lag
        yield GaugeMetricFamily("q2c_audit_rows", "Rows in the audit log", value=int(audit_rows or 0))


class OpsMetrics:
    def __init__(self, engine: Any) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(EngineCollector(engine))
        self.requests = Counter("q2c_ops_requests", "Ops API requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("q2c_ops_request_seconds", "Ops API latency", ["route"], registry=self.registry)
