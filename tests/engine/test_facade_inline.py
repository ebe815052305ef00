"""The Engine facade on the InlineRunner (no durability): the event path, parking, retry and replay."""

from __future__ import annotations

import pytest

from q2c_harness.engine import Engine, InlineRunner, key_for
from q2c_harness.retry import RetryPolicy
from q2c_harness.errors import BusinessError, TransientError

FAST = RetryPolicy(max_attempts=3, base_delay=0.0)


@pytest.fixture
def engine(db):
    return Engine(db.url.replace("postgresql+psycopg://", "postgresql://"), runner=InlineRunner(sleep=lambda s: None))


def test_event_runs_once_and_effects_are_audited(engine):
    vendor: list = []
    flaky = {"n": 0}

    @engine.step("create", retry=FAST)
    def create(n: int) -> dict:
        def call(key: str) -> dict:
            flaky["n"] += 1
            if flaky["n"] == 1:
                raise TransientError("503", system="netsuite", retry_after=0)
            vendor.append(key)
            return {"id": f"SO-{n}"}
        return engine.effect(key_for("q2p", str(n), "create"), system="netsuite", operation="salesOrder.create",
                             request={"n": n}, call=call).result

    @engine.workflow("q2p")
    def q2p(message: dict) -> dict:
        engine.decide("q2p.eligible", {"quote": message["payload"]["n"]}, "yes")
        out = create(message["payload"]["n"])
        engine.publish("project.activated", {"quote_id": message["payload"]["n"]}, key=f"act:{message['event_id']}")
        return out

    h = engine.handle("salesforce", "ev-1", "quote.accepted", {"n": 1}, workflow="q2p", correlation_id="c-1")
    assert h.accepted and h.workflow_id == "inbox:salesforce:ev-1"
    assert engine.runner.result(h.workflow_id) == {"id": "SO-1"}
    dup = engine.handle("salesforce", "ev-1", "quote.accepted", {"n": 1}, workflow="q2p")
    assert dup.accepted is False and dup.correlation_id == "c-1"
    assert vendor == [key_for("q2p", "1", "create")]
    assert engine.inbox.get("salesforce", "ev-1").status == "done"
    tx = engine.transaction("c-1")
    assert [t["kind"] for t in tx["timeline"]][:1] == ["inbox"]
    assert {t["kind"] for t in tx["timeline"]} >= {"inbox", "audit.decision", "audit.write", "event"}
    writes = [a for a in tx["audit"] if a["kind"] == "write"]
    assert [w["outcome"] for w in writes] == ["error", "ok"]  # the 503 attempt and the write
    # replaying the event re-runs the workflow; the vendor is not written again
    new_id = engine.replay_event("salesforce:ev-1")
    assert new_id == "inbox:salesforce:ev-1:replay:1" and engine.runner.result(new_id) == {"id": "SO-1"}
    assert len(vendor) == 1 and engine.events.end_offset() == 1
    forked = engine.replay_workflow(h.workflow_id)
    assert engine.runner.status(forked).status == "success" and len(vendor) == 1
    assert engine.transactions(limit=5)[0]["inbox_key"] == "salesforce:ev-1"


def test_business_error_is_parked_and_retry_runs_the_workflow_again(engine):
    state = {"missing": True}

    @engine.workflow("t2i")
    def t2i(message: dict) -> str:
        if state["missing"]:
            raise BusinessError("no rate card for role Architect", code="NO_RATE", system="psa")
        return "invoiced"

    h = engine.handle("psa", "te-9", "time.approved", {"hours": "8"}, workflow="t2i", correlation_id="c-9")
    parked = engine.runner.result(h.workflow_id)
    assert parked["status"] == "parked" and parked["lot"] == "business"
    item = engine.exceptions.get(parked["exception_id"])
    assert (item.code, item.correlation_id, item.source_key) == ("NO_RATE", "c-9", h.workflow_id)
    assert engine.inbox.get("psa", "te-9").status == "failed"
    assert engine.audit.for_correlation("c-9")[-1].rule == "engine.park"
    again = engine.exceptions.retry(item.id, actor="ops", reason="still missing?")
    assert again.status == "open" and again.history[-1].action == "retry-failed"
    state["missing"] = False
    done = engine.exceptions.retry(item.id, actor="ops", reason="rate card added")
    assert done.status == "resolved"
    assert engine.inbox.get("psa", "te-9").status == "done"


def test_transient_exhaustion_lands_in_the_transient_lot(engine):
    @engine.step("always503", retry=FAST)
    def always() -> None:
        raise TransientError("503", system="netsuite")

    @engine.workflow("w")
    def w(message: dict) -> None:
        always()

    h = engine.handle("netsuite", "x", "invoice.posted", {}, workflow="w")
    assert engine.runner.result(h.workflow_id)["lot"] == "transient"
    assert engine.exceptions.list(lot="transient")[0].error_class == "TransientError"
