"""DbosRunner in this process (DBOS is process-global: one module-scoped engine, SQLite; PostgreSQL is covered by
the crash-safety subprocess test)."""

from __future__ import annotations

import pytest

from q2c_harness.engine import DbosRunner, DurableRunner, Engine
from q2c_harness.engine.durable import dbos_system_url
from q2c_harness.errors import BusinessError, TransientError

from . import toy_workflows


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('dbos') / 'engine.sqlite'}"
    eng = Engine.durable(url)
    toy_workflows.register(eng)
    state = {"fail": True}

    @eng.workflow("dbos.business")
    def business(message: dict) -> str:
        if state["fail"]:
            raise BusinessError("missing subsidiary", code="NO_SUB")
        return "ok"

    attempts = {"n": 0}

    @eng.step("dbos.flaky", retry=toy_workflows.FAST)
    def flaky() -> int:
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise TransientError("429", retry_after=0.01)
        return attempts["n"]

    @eng.workflow("dbos.retrying")
    def retrying(message: dict) -> int:
        return flaky()

    eng.state = state  # type: ignore[attr-defined]
    eng.launch()
    yield eng
    eng.shutdown()


def test_runner_is_the_port(engine):
    assert isinstance(engine.runner, DbosRunner) and isinstance(engine.runner, DurableRunner)
    assert dbos_system_url("sqlite:////x/q.sqlite") == "sqlite:////x/q.dbos.sqlite"
    assert dbos_system_url("postgresql+psycopg://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(RuntimeError):
        DbosRunner("sqlite:////tmp/other.sqlite")  # process-global


def test_workflow_runs_once_per_inbox_key(engine):
    h = engine.handle("toy", "a1", "toy.event", {"n": 1001}, workflow="toy.flow", correlation_id="c-a1")
    assert engine.runner.result(h.workflow_id, timeout=20) == 1001
    again = engine.handle("toy", "a1", "toy.event", {"n": 1001}, workflow="toy.flow")
    assert again.accepted is False and engine.runner.result(again.workflow_id, timeout=20) == 1001
    counts = toy_workflows.vendor_counts(engine)
    assert [counts[k] for k in counts if k.startswith("toy/1001/")] == [1, 1, 1]
    info = engine.runner.status(h.workflow_id)
    assert (info.status, info.name) == ("success", "toy.flow")
    assert [s["name"] for s in engine.runner.steps(h.workflow_id)].count("toy.write") == 3
    assert any(w.workflow_id == h.workflow_id for w in engine.runner.list(status="success"))
    # several statuses in one read (what "is anything still in flight?" asks)
    assert h.workflow_id in {w.workflow_id for w in engine.runner.list(status=("pending", "success"))}
    assert h.workflow_id not in {w.workflow_id for w in engine.runner.list(status=("enqueued", "pending"))}
    # replay through the same idempotent handlers: a new workflow id, no new vendor writes
    forked = engine.replay_workflow(h.workflow_id)
    replayed = engine.replay_event("toy:a1")
    assert engine.runner.result(forked, timeout=20) == 1001 and engine.runner.result(replayed, timeout=20) == 1001
    assert toy_workflows.vendor_counts(engine) == counts
    assert engine.inbox.get("toy", "a1").status == "done"


def test_enqueue_on_a_queue_registered_after_launch(engine):
    engine.runner.register_queue("late", worker_concurrency=2)
    ids = [engine.handle("toy", f"q{i}", "toy.event", {"n": 2000 + i}, workflow="toy.flow", queue="late").workflow_id
           for i in range(3)]
    assert [engine.runner.result(w, timeout=20) for w in ids] == [2000, 2001, 2002]
    with pytest.raises(LookupError):
        engine.runner.enqueue("toy.flow", "x", {}, queue="never-registered")


def test_transient_retried_inside_the_step(engine):
    h = engine.handle("t", "r1", "x", {}, workflow="dbos.retrying")
    assert engine.runner.result(h.workflow_id, timeout=20) == 3


def test_business_error_parks_then_retry_from_the_queue(engine):
    h = engine.handle("psa", "b1", "time.approved", {"h": 1}, workflow="dbos.business", correlation_id="c-b1")
    parked = engine.runner.result(h.workflow_id, timeout=20)
    assert parked["status"] == "parked" and parked["lot"] == "business"
    item = engine.exceptions.get(parked["exception_id"])
    assert item.code == "NO_SUB" and [h.action for h in item.history] == ["parked"]
    assert engine.exceptions.retry(item.id, actor="ops").status == "open"
    engine.state["fail"] = False
    assert engine.exceptions.retry(item.id, actor="ops", reason="subsidiary set").status == "resolved"
    assert engine.inbox.get("psa", "b1").status == "done"
    assert engine.audit.verify_chain() == []
