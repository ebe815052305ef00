from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from q2c_harness.engine.db import audit
from q2c_harness.ops import create_ops_app

from q2c_harness.ops.identity import Identities

from .conftest import ANA, AUTH, BO, TOKEN


async def test_token_required_except_health(client):
    assert (await client.get("/health")).json() == {"status": "ok", "database": "ok"}
    for path in ("/exceptions", "/transactions", "/events", "/kpis", "/audit/verify", "/metrics"):
        r = await client.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
    assert (await client.get("/kpis", headers={"Authorization": "Bearer wrong"})).status_code == 401


def test_app_refuses_to_start_without_a_token(engine, monkeypatch):
    for name in ("Q2C_OPS_TOKEN", "Q2C_OPS_USERS", "Q2C_OPS_JWT_KEY"):
        monkeypatch.delenv(name, raising=False)
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


async def test_exception_actions_over_http_are_recorded_under_the_callers_identity(client, engine):
    items = (await client.get("/exceptions", params={"lot": "business", "status": "open"}, headers=AUTH)).json()
    assert len(items) == 1 and items[0]["correlation_id"] == "c-bad"
    assert items[0]["overdue"] is False and items[0]["age_seconds"] >= 0 and items[0]["due_at"] > items[0]["created_at"]
    bid = items[0]["id"]
    assert (await client.get("/me", headers=ANA)).json() == {"actor": "ana@acme.example"}
    assert (await client.get("/me", headers=AUTH)).json() == {"actor": "ops-token"}
    r = await client.post(f"/exceptions/{bid}/assign", json={"owner": "billing-ops@acme.example"}, headers=ANA)
    assert r.status_code == 200 and r.json()["owner"] == "billing-ops@acme.example"
    assert r.json()["history"][-1]["actor"] == "ana@acme.example"
    r = await client.post(f"/exceptions/{bid}/retry", json={"reason": "try again"}, headers=ANA)
    assert r.status_code == 200 and r.json()["status"] == "open"
    engine.state["fail"] = False
    r = await client.post(f"/exceptions/{bid}/retry", json={}, headers=BO)
    assert r.json()["status"] == "resolved"
    assert [(h["action"], h["actor"]) for h in r.json()["history"]][-3:] == [
        ("retry-failed", "ana@acme.example"), ("retry", "bo@acme.example"), ("retry-succeeded", "bo@acme.example")]
    r = await client.post(f"/exceptions/{bid}/resolve", json={"reason": "x"}, headers=ANA)
    assert r.status_code == 409
    tid = (await client.get("/exceptions", params={"lot": "transient"}, headers=AUTH)).json()[0]["id"]
    r = await client.post(f"/exceptions/{tid}/ignore", json={"reason": "PSA test project"}, headers=BO)
    assert r.json()["status"] == "ignored" and r.json()["history"][-1]["actor"] == "bo@acme.example"
    assert r.json()["owner"] is None  # acting does not make you the owner
    # a body cannot name the actor: the old free-text field is refused, not silently trusted
    r = await client.post(f"/exceptions/{tid}/resolve", json={"reason": "b", "actor": "someone-else"}, headers=ANA)
    assert r.status_code == 422
    assert (await client.post("/exceptions/99/resolve", json={"reason": "b"}, headers=ANA)).status_code == 404
    assert (await client.post(f"/exceptions/{tid}/ignore", json={}, headers=ANA)).status_code == 422
    assert (await client.post(f"/exceptions/{tid}/ignore", content=b"{nope", headers={
        **ANA, "content-type": "application/json"})).status_code == 400
    assert (await client.get(f"/exceptions/{tid}", headers=AUTH)).json()["status"] == "ignored"
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await client.post(f"/exceptions/{tid}/resolve", json={"reason": "b"}, headers=bad)).status_code == 401


async def test_jwt_bearer_from_an_identity_provider_names_the_actor(engine):
    """An OIDC access token signed by the firm's IdP: verified with its public key, audience and issuer; the actor
    is preferred_username. Expired, wrongly signed or wrong-audience tokens are 401."""
    import datetime as dt

    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from q2c_harness.ops.identity import JwtVerifier

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    ids = Identities(None, {}, JwtVerifier(public, audience="q2c-ops", issuer="https://idp.acme.example"))
    now = dt.datetime.now(dt.timezone.utc)

    def token(signer=key, **claims) -> dict[str, str]:
        body = {"sub": "00u1", "preferred_username": "ana@acme.example", "aud": "q2c-ops",
                "iss": "https://idp.acme.example", "exp": now + dt.timedelta(minutes=5), **claims}
        return {"Authorization": "Bearer " + jwt.encode(body, signer, algorithm="ES256")}

    app = create_ops_app(engine, identities=ids)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ops") as c:
        assert (await c.get("/me", headers=token())).json() == {"actor": "ana@acme.example"}
        for bad in (token(exp=now - dt.timedelta(minutes=1)), token(aud="another-app"),
                    token(signer=ec.generate_private_key(ec.SECP256R1())), {"Authorization": f"Bearer {TOKEN}"}):
            assert (await c.get("/me", headers=bad)).status_code == 401


async def test_events_kpis_audit_metrics(client, engine):
    evs = (await client.get("/events", params={"from_offset": 4}, headers=AUTH)).json()
    assert [e["offset"] for e in evs] == [4, 5, 6, 7, 8]
    only = (await client.get("/events", params={"type": "invoice.posted"}, headers=AUTH)).json()
    assert [e["event_key"] for e in only] == ["i1"]
    # the KPI values are checked on the real flows' events against the vendors (tests/ops/test_dashboard_api.py)
    k = (await client.get("/kpis", headers=AUTH)).json()
    assert k["invoice_exception_rate"] == {"posted": 1, "exceptions": 1, "rate": 0.5}  # demo runs are no billing runs
    assert (await client.get("/audit/verify", headers=AUTH)).json() == {"ok": True, "problems": []}
    with engine.db.tx() as conn:
        conn.execute(sa.update(audit).where(audit.c.seq == 1).values(rule="tampered"))
    v = (await client.get("/audit/verify", headers=AUTH)).json()
    assert v["ok"] is False and v["problems"][0]["seq"] == 1
    text = (await client.get("/metrics", headers=AUTH)).text
    for line in ('q2c_inbox_events{status="failed"} 2.0', 'q2c_exception_items{lot="business",status="open"} 1.0',
                 'q2c_effects{status="done"} 2.0', "q2c_event_log_end_offset 9.0", "q2c_audit_rows",
                 'q2c_exception_items_overdue{lot="business"} 0.0', "q2c_invoice_exception_ratio 0.5"):
        assert line in text, line
    assert 'q2c_ops_requests_total{method="GET",route="/kpis",status="200"} 1.0' in text


def test_shipped_alert_rules_name_only_metrics_the_ops_api_serves():
    """The alert rules file is valid Prometheus rule YAML whose every metric exists in /metrics (a renamed gauge
    would otherwise leave an alert that can never fire)."""
    import re
    from importlib.resources import files

    import yaml

    from q2c_harness.ops.metrics import __doc__ as metrics_doc

    rules = yaml.safe_load(files("q2c_harness.ops").joinpath("alerts/q2c-alerts.yml").read_text())
    served = set(re.findall(r"\| (q2c_[a-z_]+) \|", metrics_doc or ""))
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert {"Q2CExceptionSLABreached", "Q2CInvoiceExceptionRateHigh"} <= {r["alert"] for r in alerts}
    for r in alerts:
        assert r["expr"] and r["annotations"]["summary"] and r["labels"]["severity"]
        used = set(re.findall(r"q2c_[a-z_]+", r["expr"]))
        assert used and used <= served, (r["alert"], used - served)


async def test_an_overdue_item_shows_in_the_metric_the_sla_alert_fires_on(engine):
    import datetime as dt

    later = engine.db.clock() + dt.timedelta(days=2)
    engine.db.clock = lambda: later
    app = create_ops_app(engine, identities=Identities(TOKEN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ops") as c:
        text = (await c.get("/metrics", headers=AUTH)).text
        items = (await c.get("/exceptions", params={"status": "open"}, headers=AUTH)).json()
    assert 'q2c_exception_items_overdue{lot="business"} 1.0' in text
    assert 'q2c_exception_items_overdue{lot="transient"} 1.0' in text
    assert all(i["overdue"] for i in items) and all(i["age_seconds"] >= 2 * 86400 for i in items)


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
    assert r.status_code == 200 and r.json()["status"] == "resolved" and r.json()["owner"] == "o" * 100
