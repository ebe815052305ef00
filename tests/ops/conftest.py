from __future__ import annotations

import datetime as dt

import httpx
import pytest

from q2c_harness.engine import Engine, InlineRunner
from q2c_harness.errors import BusinessError, TransientError
from q2c_harness.ops import create_ops_app
from q2c_harness.ops.identity import Identities, token_digest

TOKEN = "test-ops-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ANA = {"Authorization": "Bearer ana-personal-token"}  # per-user tokens (Q2C_OPS_USERS holds their digests)
BO = {"Authorization": "Bearer bo-personal-token"}
USERS = Identities(TOKEN, {"ana@acme.example": token_digest("ana-personal-token"),
                           "bo@acme.example": token_digest("bo-personal-token")})


def seeded_engine(url: str) -> Engine:
    """An engine with one parked business item, one parked transient item, one done transaction and events."""
    engine = Engine(url, runner=InlineRunner(sleep=lambda s: None))
    state = {"fail": True}

    @engine.workflow("demo.t2i")
    def t2i(message: dict) -> str:
        engine.decide("billing.eligible", {"entry": message["event_id"]}, "eligible")
        engine.effect(f"demo/{message['event_id']}/invoice", system="netsuite", operation="invoice.create",
                      request={"entry": message["event_id"]}, call=lambda k: {"id": f"INV-{message['event_id']}"})
        if message["payload"].get("fail") and state["fail"]:
            raise BusinessError("no tax code for GB", code="NO_TAX_CODE", system="netsuite")
        return "ok"

    @engine.workflow("demo.flaky")
    def flaky(message: dict) -> None:
        raise TransientError("503 exhausted", system="psa", code="503")

    engine.handle("psa", "te-1", "time.approved", {}, workflow="demo.t2i", correlation_id="c-ok")
    engine.handle("psa", "te-2", "time.approved", {"fail": True}, workflow="demo.t2i", correlation_id="c-bad")
    engine.handle("psa", "te-3", "time.approved", {}, workflow="demo.flaky", correlation_id="c-flaky")
    t0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)
    h = dt.timedelta(hours=1)
    ev = engine.events
    ev.publish("quote.accepted", {"quote_id": "Q1"}, key="q1", occurred_at=t0)
    ev.publish("project.activated", {"quote_id": "Q1"}, key="p1", occurred_at=t0 + 2 * h)
    ev.publish("time.approved", {"id": "T1", "amount": "100.00", "currency": "USD"}, key="t1", occurred_at=t0)
    ev.publish("time.approved", {"id": "T2", "amount": "50.50", "currency": "USD"}, key="t2", occurred_at=t0)
    ev.publish("invoice.posted", {"source_ids": ["T1"]}, key="i1", occurred_at=t0 + 24 * h)
    ev.publish("invoice.exception", {"reason": "x"}, key="ie1", occurred_at=t0 + 24 * h)
    ev.publish("payment.received", {"payment_id": "P1"}, key="pr1", occurred_at=t0 + 48 * h)
    ev.publish("payment.applied", {"payment_id": "P1"}, key="pa1", occurred_at=t0 + 51 * h)
    ev.publish("payment.received", {"payment_id": "P2"}, key="pr2", occurred_at=t0 + 50 * h)
    engine.state = state  # type: ignore[attr-defined]
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        eng = seeded_engine(f"sqlite:///{tmp_path / 'ops.sqlite'}")
        yield eng
        eng.db.dispose()
        return
    from tests.engine.pg import create_database, drop_database, pg_unreachable_reason

    if reason := pg_unreachable_reason():
        pytest.skip(reason)
    url = create_database("q2c_ops")
    eng = seeded_engine(url)
    yield eng
    eng.db.dispose()
    drop_database(url)


@pytest.fixture
async def client(engine):
    app = create_ops_app(engine, identities=USERS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ops") as c:
        yield c
