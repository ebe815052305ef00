from __future__ import annotations

import pytest

from q2c_harness.engine.compensation import CompensationFailed, SagaLog
from q2c_harness.engine.db import NotFound
from q2c_harness.engine.events import EventLog
from q2c_harness.engine.exception_queue import ExceptionQueue, InvalidAction
from q2c_harness.errors import BusinessError, ContractError, TransientError


def test_exception_lots_follow_the_taxonomy(db):
    q = ExceptionQueue(db)
    t = q.park(TransientError("503 after 5 attempts", system="netsuite", code="503"), {"p": 1},
               correlation_id="c-1", handler="h")
    b = q.park(BusinessError("customer has no subsidiary", code="MISSING_SUBSIDIARY"), {"p": 2}, handler="h")
    c = q.park(ContractError("unknown field"), {"p": 3})
    bug = q.park(ZeroDivisionError("oops"), {"p": 4})
    assert [q.get(i).lot for i in (t, b, c, bug)] == ["transient", "business", "business", "business"]
    item = q.get(t)
    assert (item.error_class, item.code, item.system, item.status, item.correlation_id) == (
        "TransientError", "503", "netsuite", "open", "c-1")
    assert [h.action for h in item.history] == ["parked"]
    assert {i.id for i in q.list(lot="business")} == {b, c, bug}
    assert q.counts()["transient"]["open"] == 1


def test_exception_actions_retry_resolve_ignore(db):
    q = ExceptionQueue(db)
    calls: list = []

    def handler(payload, item):
        calls.append(payload)
        if payload["fail"]:
            raise BusinessError("still broken", code="STILL")

    q.register_handler("h", handler)
    ok = q.park(TransientError("timeout"), {"fail": False}, handler="h", source_key="k1")
    bad = q.park(BusinessError("bad"), {"fail": True}, handler="h", source_key="k2")
    assert q.retry(ok, actor="ops@x", reason="vendor back").status == "resolved"
    again = q.retry(bad, actor="ops@x")
    assert (again.status, again.code) == ("open", "STILL")
    assert [h.action for h in again.history] == ["parked", "retry", "retry-failed"]
    with pytest.raises(InvalidAction):
        q.retry(ok)  # resolved items cannot be retried
    res = q.resolve(bad, reason="fixed the customer in NetSuite", actor="ana")
    assert (res.status, res.owner, res.history[-1].actor, res.history[-1].reason) == (
        "resolved", None, "ana", "fixed the customer in NetSuite")  # who acted is not made the owner
    ign = q.park(BusinessError("dup"), {}, handler="h")
    assert q.ignore(ign, reason="test record", actor="bo").status == "ignored"
    with pytest.raises(NotFound):
        q.resolve(999, reason="x", actor="y")
    no_handler = q.park(BusinessError("x"), {}, handler="unknown")
    with pytest.raises(InvalidAction):
        q.retry(no_handler)
    assert q.get(no_handler).status == "open"


def test_assign_sets_the_owner_and_records_who_assigned(db):
    q = ExceptionQueue(db)
    item = q.park(BusinessError("no tax code"), {}, handler="h")
    got = q.assign(item, owner="billing-ops@acme", actor="ana")
    assert (got.status, got.owner) == ("open", "billing-ops@acme")
    assert (got.history[-1].action, got.history[-1].actor) == ("assign", "ana")
    closed = q.resolve(item, reason="tax code added", actor="bo")
    assert closed.owner == "billing-ops@acme" and closed.history[-1].actor == "bo"
    with pytest.raises(InvalidAction):
        q.assign(item, owner="x", actor="y")  # a closed item has nobody left to act


def test_age_due_and_overdue_follow_the_lot_sla(db):
    import datetime as dt

    now = {"t": dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)}
    db.clock = lambda: now["t"]
    q = ExceptionQueue(db, sla={"business": 3600})
    biz = q.park(BusinessError("no tax code"), {})
    tra = q.park(TransientError("503"), {})
    now["t"] += dt.timedelta(minutes=61)
    b, t = q.get(biz), q.get(tra)
    assert (b.age_seconds, b.due_at, b.overdue) == (3660, "2026-11-30T10:00:00.000000Z", True)
    assert (t.age_seconds, t.overdue) == (3660, False)  # transient: 4 h by default
    assert q.overdue_counts() == {"transient": 0, "business": 1}
    q.resolve(biz, reason="fixed", actor="ana")
    now["t"] += dt.timedelta(hours=5)
    b, t = q.get(biz), q.get(tra)
    assert (b.overdue, b.age_seconds) == (False, 3660)  # closed: its age stops at the close
    assert t.overdue and q.overdue_counts() == {"transient": 1, "business": 0}


def test_recurrence_folds_into_the_open_item_and_bulk_replay(db):
    q = ExceptionQueue(db)
    q.register_handler("h", lambda payload, item: None)
    a = q.park(TransientError("t1"), {"n": 1}, handler="h", source_key="inbox:psa:1")
    assert q.park(TransientError("t2"), {"n": 1}, handler="h", source_key="inbox:psa:1") == a
    assert q.get(a).occurrences == 2 and q.get(a).message == "t2"
    b = q.park(TransientError("t3"), {"n": 2}, handler="h", source_key="inbox:psa:2")
    q.park(BusinessError("b"), {"n": 3}, handler="h")
    out = q.bulk_replay(lot="transient", actor="ops")
    assert out["attempted"] == 2 and out["resolved"] == 2 and {r["id"] for r in out["results"]} == {a, b}
    assert q.list(lot="business", status="open")[0].status == "open"
    assert q.bulk_replay(ids=[a, 12345])["results"][1]["status"] == "skipped"


def test_event_log_offsets_idempotent_publish_and_consumers(db):
    log = EventLog(db)
    assert log.publish("quote.accepted", {"q": 1}, key="sf:Q-1") == (0, True)
    assert log.publish("quote.accepted", {"q": 1}, key="sf:Q-1") == (0, False)
    assert log.publish("project.activated", {"p": 1}, key="psa:P-1", correlation_id="c-9") == (1, True)
    assert log.publish("invoice.posted", {"i": 1})[0] == 2
    assert log.publish("invoice.posted", {"i": 1}) == (2, False)  # default key: type + payload hash
    assert [e.offset for e in log.read(1)] == [1, 2]
    assert [e.type for e in log.read(0, types=["invoice.posted"])] == ["invoice.posted"]
    assert log.read(0, limit=1)[0].event_key == "sf:Q-1"
    assert log.end_offset() == 3
    seen: list = []
    assert log.consume("billing", seen.append, limit=2) == 2
    assert log.position("billing") == 2
    assert log.consume("billing", seen.append) == 1 and log.consume("billing", seen.append) == 0
    assert [e.offset for e in seen] == [0, 1, 2] and log.consumers() == {"billing": 3}
    assert log.read(0, correlation_id="c-9")[0].type == "project.activated"


def test_compensations_run_last_in_first_out_once(db):
    sagas = SagaLog(db)
    undone: list = []
    sagas.register_compensation("delete", lambda system, ref: undone.append((system, ref)))
    with pytest.raises(BusinessError):
        with sagas.run("co-1"):
            sagas.register("co-1", "psa.budget", "delete", system="psa", ref="B-1")
            sagas.register("co-1", "netsuite.so", "delete", system="netsuite", ref="SO-1")
            sagas.register("co-1", "netsuite.so", "delete", system="netsuite", ref="SO-1")  # no-op
            raise BusinessError("salesforce rejected the amendment")
    assert undone == [("netsuite", "SO-1"), ("psa", "B-1")]
    assert sagas.compensate("co-1") == [] and len(undone) == 2  # each compensation once
    with sagas.run("co-2"):
        sagas.register("co-2", "a", "delete", system="x", ref="1")
    assert [s.status for s in sagas.steps("co-2")] == ["discarded"]
    with pytest.raises(KeyError):
        sagas.register("co-3", "a", "nope")


def test_failed_compensation_resumes_where_it_stopped(db):
    sagas = SagaLog(db)
    order: list = []
    state = {"fail": True}

    def flaky(ref):
        if state["fail"]:
            raise TransientError("503")
        order.append(ref)

    sagas.register_compensation("flaky", flaky)
    sagas.register_compensation("ok", lambda ref: order.append(ref))
    sagas.register("s", "one", "ok", ref="1")
    sagas.register("s", "two", "flaky", ref="2")
    with pytest.raises(CompensationFailed):
        sagas.compensate("s")
    assert order == [] and sagas.steps("s")[1].error["error_class"] == "TransientError"
    state["fail"] = False
    assert sagas.compensate("s") == ["two", "one"] and order == ["2", "1"]
