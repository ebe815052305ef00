from __future__ import annotations

import pytest
import sqlalchemy as sa

from q2c_harness import correlation
from q2c_harness.engine.audit import AuditLog
from q2c_harness.engine.db import audit as audit_table
from q2c_harness.engine.idempotency import EffectLedger, external_id_for, key_for, uuid_for
from q2c_harness.errors import BusinessError, TransientError


def test_key_for_is_deterministic_and_safe():
    k = key_for("time_to_invoice", "eng-7/2026-01", "create_invoice")
    assert k == key_for("time_to_invoice", "eng-7/2026-01", "create_invoice")
    assert k != key_for("time_to_invoice", "eng-7/2026-01", "post_invoice")
    assert len(key_for("f", "x" * 1000, "s")) < 120
    assert uuid_for(k) == uuid_for(k) and len(uuid_for(k)) == 36
    assert external_id_for(k) == external_id_for(k).lower()
    with pytest.raises(ValueError):
        key_for("a/b", "x", "s")


class FakeVendor:
    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}
        self.calls = 0

    def upsert(self, key: str, body: dict) -> dict:
        self.calls += 1
        self.rows.setdefault(key, {"id": f"INV-{len(self.rows) + 1}", **body})
        return self.rows[key]


def test_effect_runs_once_and_replays_the_recorded_result(db):
    audit = AuditLog(db)
    ledger = EffectLedger(db, audit)
    vendor = FakeVendor()
    key = key_for("t2i", "eng-1", "create_invoice")
    with correlation.use("c-42"):
        first = ledger.run_once(key, system="netsuite", operation="invoice.upsert", request={"amount": "10.00"},
                                call=lambda k: vendor.upsert(k, {"amount": "10.00"}))
        again = ledger.run_once(key, system="netsuite", operation="invoice.upsert", request={"amount": "10.00"},
                                call=lambda k: vendor.upsert(k, {"amount": "10.00"}))
    assert vendor.calls == 1
    assert (first.status, first.result_ref, first.replayed) == ("done", "INV-1", False)
    assert (again.result, again.replayed) == (first.result, True)
    rows = audit.for_correlation("c-42")
    assert [(r.kind, r.system, r.operation, r.outcome) for r in rows] == [
        ("write", "netsuite", "invoice.upsert", "ok")]
    assert rows[0].inputs == {"idempotency_key": key}
    with pytest.raises(BusinessError) as exc:
        ledger.run_once(key, system="netsuite", operation="invoice.upsert", request={"amount": "11.00"},
                        call=lambda k: vendor.upsert(k, {}))
    assert exc.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_failed_attempt_is_retried_with_the_same_key_and_lookup_adopts_an_earlier_write(db):
    ledger = EffectLedger(db, AuditLog(db))
    vendor = FakeVendor()
    key = key_for("q2p", "opp-1", "create_project")

    def crash_after_write(k: str) -> dict:
        vendor.upsert(k, {"name": "P"})
        raise TransientError("connection reset after the write", system="psa")

    with pytest.raises(TransientError):
        ledger.run_once(key, system="psa", operation="project.create", request={"name": "P"},
                        call=crash_after_write)
    assert ledger.get(key)["status"] == "failed"
    eff = ledger.run_once(key, system="psa", operation="project.create", request={"name": "P"},
                          call=lambda k: vendor.upsert(k, {"name": "P"}), lookup=lambda k: vendor.rows.get(k))
    assert eff.replayed is True and eff.result_ref == "INV-1" and vendor.calls == 1
    assert len(vendor.rows) == 1 and ledger.get(key)["attempts"] == 1
    assert ledger.list(status="done")[0]["key"] == key


def test_audit_chain_verifies_and_detects_tampering(db):
    audit = AuditLog(db)
    for i in range(5):
        audit.record_decision(rule="billing.cap", inputs={"billed": str(i)}, outcome={"hold": i > 3},
                              correlation_id="c-1")
    audit.record_write(system="netsuite", operation="invoice.create", request={"a": 1}, response={"id": 7})
    assert audit.verify_chain() == []
    assert [r.seq for r in audit.for_correlation("c-1")] == [0, 1, 2, 3, 4]
    with db.tx() as conn:  # somebody edits an outcome in place
        conn.execute(sa.update(audit_table).where(audit_table.c.seq == 2).values(outcome={"hold": True}))
    problems = audit.verify_chain()
    assert problems and problems[0]["seq"] == 2 and "hash" in problems[0]["problem"]


def test_audit_detects_deleted_and_truncated_rows(db):
    audit = AuditLog(db)
    for i in range(4):
        audit.record_decision(rule="r", inputs={"i": i}, outcome="ok")
    with db.tx() as conn:
        conn.execute(sa.delete(audit_table).where(audit_table.c.seq == 1))
    assert any("gap" in p["problem"] for p in audit.verify_chain())
    with db.tx() as conn:
        conn.execute(sa.delete(audit_table).where(audit_table.c.seq >= 2))
    assert any("head" in p["problem"] for p in audit.verify_chain())


def test_audit_summaries_are_bounded(db):
    audit = AuditLog(db)
    rec = audit.record_write(system="s", operation="o", request={"blob": "x" * 10000})
    assert rec.request_summary["truncated"] is True
    assert audit.verify_chain() == []
