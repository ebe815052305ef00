"""Message (event) contracts: what the ops dashboard and the CRM status consumer expect of the events the core
publishes on its event log (`engine.publish(type, payload, key=...)`).

Provider side: the events the flows really published, never examples written here: `flow_events` runs built-in
scenarios (between them every event type the consumers read) and reads the core's event log; each interaction is
verified against the newest real event of its type. A type the flows never published fails its interaction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pact import Pact, Verifier, match

from .common import EVENTS_PROVIDER, PACT_DIR

DEC = r"^-?\d+(\.\d+)?$"
PRODUCING_SCENARIOS = ("fixed_fee_change_order", "multi_entity_tm")  # milestones; time, invoices, payments

DASHBOARD: dict[str, dict[str, Any]] = {
    "quote.accepted": {"engagement_id": match.like("ENG-1"), "quote_id": match.like("a0C8W0000001"),
                       "client_id": match.like("CRM-1")},
    "project.activated": {"engagement_id": match.like("ENG-1"), "job_id": match.like("301"),
                          "workspace_id": match.like("12")},
    "time.approved": {"event_id": match.like("17"), "sources": match.each_like("T-41")},
    "milestone.approved": {"milestone_id": match.like("7"), "invoice_id": match.like("INV-ENG-1-M1")},
    "invoice.posted": {"invoice_id": match.like("INV-ENG-1-2026-01"), "engagement_id": match.like("ENG-1"),
                       "gross_total": match.regex("1995.00", regex=DEC), "currency": match.regex("GBP", regex="^[A-Z]{3}$")},
    "payment.received": {"payment_id": match.like("301"), "amount": match.regex("500.00", regex=DEC),
                         "invoices": match.each_like({"invoice_id": match.like("INV-2"),
                                                      "open_balance": match.regex("700.00", regex=DEC)})},
}
CRM_STATUS: dict[str, dict[str, Any]] = {
    "invoice.posted": {"invoice_id": match.like("INV-ENG-1-2026-01"), "netsuite_id": match.like("201"),
                       "tran_id": match.like("INV0001"), "gross_total": match.regex("1995.00", regex=DEC)},
    "payment.received": {"payment_id": match.like("301"), "customer_id": match.like("107"),
                         "invoices": match.each_like({"invoice_id": match.like("INV-2"), "status": match.like("paid"),
                                                      "open_balance": match.regex("700.00", regex=DEC)})},
}
CONSUMERS = {"q2c-ops-dashboard": DASHBOARD, "q2c-crm-status": CRM_STATUS}


def description(event_type: str) -> str:
    return f"a {event_type} event"


def message_pact(consumer: str) -> Pact:
    p = Pact(consumer, EVENTS_PROVIDER).with_specification("V4")
    for event_type, body in CONSUMERS[consumer].items():
        (p.upon_receiving(description(event_type), "Async")
         .given("the core published it on the event log")
         .with_body(body, content_type="application/json")
         .with_metadata({"event_type": event_type}))
    return p


def handle(consumer: str):  # the consumer's handler: parse and read the fields it relies on
    def handler(body: str | bytes | None, metadata: dict[str, object]) -> None:
        event = json.loads(body or b"{}")
        expected = CONSUMERS[consumer][str(metadata["event_type"])]
        missing = [k for k in expected if k not in event]
        assert not missing, f"{consumer}: {metadata['event_type']} lacks {missing}"
    return handler


def build_message_pacts(directory: Path = PACT_DIR) -> list[Path]:
    out = []
    for consumer in CONSUMERS:
        p = message_pact(consumer)
        p.verify(handle(consumer), "Async")
        Path(directory).mkdir(parents=True, exist_ok=True)
        p.write_file(directory, overwrite=True)
        out.append(Path(directory) / f"{consumer}-{EVENTS_PROVIDER}.json")
    return out


def flow_events(scenarios: tuple[str, ...] = PRODUCING_SCENARIOS) -> list[Any]:
    """Run built-in scenarios in-process (the flows against the simulators) and return every event the core
    published on its event log."""
    import tempfile

    from q2c_harness.engine.db import Database
    from q2c_harness.engine.events import EventLog
    from q2c_harness.harness.runner import run_scenario
    from q2c_harness.harness.scenario import load_scenario

    out: list[Any] = []
    for name in scenarios:
        workdir = Path(tempfile.mkdtemp(prefix=f"q2c-events-{name}-"))
        result = run_scenario(load_scenario(name), workdir=workdir)
        if result.error:
            raise RuntimeError(f"scenario {name} did not run: {result.error}")
        db = Database(f"sqlite:///{workdir / 'core.sqlite'}")
        try:
            out.extend(EventLog(db).read(0, limit=100_000))
        finally:
            db.dispose()
    return out


def verify_events_provider(directory: Path = PACT_DIR, provider_name: str = EVENTS_PROVIDER,
                           events: list[Any] | None = None):
    """Verify the message pacts against real events (default: `flow_events()`)."""
    from .verify import VerificationReport, _parse

    newest: dict[str, Any] = {}
    for e in events if events is not None else flow_events():
        newest[e.type] = e.payload
    by_desc = {description(t): t for consumer in CONSUMERS.values() for t in consumer}

    def produce(name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        event_type = by_desc[name]
        return {"contents": json.dumps(newest.get(event_type, {})).encode(), "metadata": {"event_type": event_type},
                "content_type": "application/json"}

    v = Verifier(provider_name, host="127.0.0.1").message_handler(produce)
    for consumer in CONSUMERS:
        v.add_source(str(Path(directory) / f"{consumer}-{EVENTS_PROVIDER}.json"))
    try:
        v.verify()
    except RuntimeError:
        pass
    missing = sorted(t for t in by_desc.values() if t not in newest)
    notes = [f"the flows published no {t} event in {', '.join(PRODUCING_SCENARIOS)}" for t in missing]
    return VerificationReport(provider_name, f"events the flows published ({len(newest)} types)",
                              _parse(v.results, ""), v.output(strip_ansi=True), notes)
