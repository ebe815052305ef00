from __future__ import annotations

import pytest
import sqlalchemy as sa

from q2c_harness.engine.db import audit
from q2c_harness.ops import create_ops_app

from .conftest import AUTH


async def test_token_required_except_health(client):
    assert (await client.get("/health")).json() == {"status": "ok", "database": "ok"}
    for path in ("/exceptions", "/transactions", "/events", "/kpis", "/audit/verify", "/metrics"):
        r = await client.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
    assert (await client.get("/kpis", headers={"Authorization": "Bearer wrong"})).status_code == 401


def test_app_refuses_to_start_without_a_token(engine, monkeypatch):
    monkeypatch.delenv("Q2C_OPS_TOKEN", raising=False)
    with pytest.raises(RuntimeError):
        create_ops_app(engine)


async def test_transaction_timeline(client):
    r = await client.get("/transactions/c-bad", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    kinds = [t["kind"] for t in body["timeline"]]
    assert kinds[0] == "inbox" and "audit.write" in kinds and "audit.decision" in kinds and "exception" in kinds
    assert [t["at"] for t in body["timeline"]] == sorted(t["at"] for t in body["timeline"])
    assert body["exceptions"][0]["code"] == "NO_TAX_CODE"
    assert (await client.get("/transactions/nope", headers=AUTH)).status_code == 404
    recent = (await client.get("/transactions", params={"status": "failed"}, headers=AUTH)).json()
    assert {t["inbox_key"] for t in recent} == {"psa:te-2", "psa:te-3"}


async def test_exception_actions_over_http(client, engine):
    items = (await client.get("/exceptions", params={"lot": "business", "status": "open"}, headers=AUTH)).json()
    assert len(items) == 1 and items[0]["correlation_id"] == "c-bad"
    bid = items[0]["id"]
    r = await client.post(f"/exceptions/{bid}/retry", json={"owner": "ana", "reason": "try again"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "open"
    engine.state["fail"] = False
    r = await client.post(f"/exceptions/{bid}/retry", json={"owner": "ana"}, headers=AUTH)
    assert r.json()["status"] == "resolved"
    r = await client.post(f"/exceptions/{bid}/resolve", json={"owner": "ana", "reason": "x"}, headers=AUTH)
    assert r.status_code == 409
    tid = (await client.get("/exceptions", params={"lot": "transient"}, headers=AUTH)).json()[0]["id"]
    r = await client.post(f"/exceptions/{tid}/ignore", json={"owner": "bo", "reason": "PSA test project"},
                          headers=AUTH)
    assert r.json()["status"] == "ignored" and r.json()["history"][-1]["actor"] == "bo"
    assert (await client.post("/exceptions/99/resolve", json={"owner": "a", "reason": "b"},
                              headers=AUTH)).status_code == 404
    assert (await client.post(f"/exceptions/{tid}/ignore", json={"owner": "a"}, headers=AUTH)).status_code == 422
    assert (await client.post(f"/exceptions/{tid}/ignore", content=b"{nope", headers={
        **AUTH, "content-type": "application/json"})).status_code == 400
    assert (await client.get(f"/exceptions/{tid}", headers=AUTH)).json()["status"] == "ignored"


async def test_bulk_replay_and_replay(client, engine):
    engine.state["fail"] = False
    r = await client.post("/exceptions/replay", json={"owner": "ops", "lot": "business"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["resolved"] == 1
    assert (await client.post("/exceptions/replay", json={"owner": "ops"}, headers=AUTH)).status_code == 422
    r = await client.post("/replay", json={"inbox_key": "psa:te-1"}, headers=AUTH)
    assert r.status_code == 202 and r.json()["workflow_id"] == "inbox:psa:te-1:replay:1"
    r = await client.post("/replay", json={"workflow_id": "inbox:psa:te-1"}, headers=AUTH)
    assert r.status_code == 202
    assert (await client.post("/replay", json={"inbox_key": "psa:none"}, headers=AUTH)).status_code == 404
    assert (await client.post("/replay", json={"workflow_id": "nope"}, headers=AUTH)).status_code == 404
    assert len(engine.ledger.list(status="done")) == 2  # te-1 and te-2 invoices, each written once


async def test_events_kpis_audit_metrics(client, engine):
    evs = (await client.get("/events", params={"from_offset": 4}, headers=AUTH)).json()
    assert [e["offset"] for e in evs] == [4, 5, 6, 7, 8]
    only = (await client.get("/events", params={"type": "invoice.posted"}, headers=AUTH)).json()
    assert [e["event_key"] for e in only] == ["i1"]
    k = (await client.get("/kpis", headers=AUTH)).json()
    assert k["quote_to_project_activation_seconds"]["p50"] == 7200
    assert k["billing_cycle_latency_seconds"] == {"count": 1, "mean": 86400, "p50": 86400, "p90": 86400,
                                                  "max": 86400}
    assert k["invoice_exception_rate"] == {"posted": 1, "exceptions": 1, "rate": 0.5}
    assert k["unbilled_backlog"] == {"items": 1, "amount_by_currency": {"USD": "50.50"}}
    assert k["cash_application_lag_seconds"]["max"] == 3 * 3600 and k["cash_application_lag_seconds"]["unapplied"] == 1
    assert (await client.get("/audit/verify", headers=AUTH)).json() == {"ok": True, "problems": []}
    with engine.db.tx() as conn:
        conn.execute(sa.update(audit).where(audit.c.seq == 1).values(rule="tampered"))
    v = (await client.get("/audit/verify", headers=AUTH)).json()
    assert v["ok"] is False and v["problems"][0]["seq"] == 1
    text = (await client.get("/metrics", headers=AUTH)).text
    for line in ('q2c_inbox_events{status="failed"} 2.0', 'q2c_exception_items{lot="business",status="open"} 1.0',
                 'q2c_effects{status="done"} 2.0', "q2c_event_log_end_offset 9.0", "q2c_audit_rows"):
        assert line in text, line
    assert 'q2c_ops_requests_total{method="GET",route="/kpis",status="200"} 1.0' in text


async def test_text_postgresql_cannot_store_is_refused_with_422(client, engine):
    """NUL in a path or query value, and an owner longer than its column, are the caller's error (422) on every back
    end: PostgreSQL would refuse them with a 500 (text fields cannot contain NUL; value too long)."""
    for path in ("/events?type=%00", "/transactions/a%00b", "/transactions/a%00b/trace", "/transactions/" + "x" * 101):
        r = await client.get(path, headers=AUTH)
        assert r.status_code == 422, (path, r.text)
    item = (await client.get("/exceptions", headers=AUTH)).json()[0]
    r = await client.post(f"/exceptions/{item['id']}/resolve", headers=AUTH, json={"owner": "o" * 101, "reason": "x"})
    assert r.status_code == 422 and "owner" in r.json()["detail"][0]["loc"]
    r = await client.post(f"/exceptions/{item['id']}/resolve", headers=AUTH, json={"owner": "o" * 100, "reason": "x"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
