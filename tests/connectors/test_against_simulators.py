"""The connectors against the in-process simulators (httpx.ASGITransport, no sockets).

Each block skips with a reason when its simulator package (or the part these tests use) is not there yet.
"""

from __future__ import annotations

import importlib

import httpx

from q2c_harness import correlation
import pytest

from q2c_harness.connectors.errors import BusinessError, RecordNotFoundError
from q2c_harness.connectors.http import CallRecorder


def _load(module: str, *names: str):
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on what has landed
        pytest.skip(f"{module} not available: {exc}")
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:  # pragma: no cover
        pytest.skip(f"{module} lacks {missing}")
    return mod


# ---- PSA ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def psa_sim():
    mod = _load("q2c_simulators.psa.simulator", "PsaSimulator", "mint_token")
    return mod, mod.PsaSimulator(seed=11)  # built once; each test works in its own account (tenant)


@pytest.fixture
async def psa(psa_sim, request):
    mod, sim = psa_sim
    from q2c_harness.connectors.psa import PsaClient

    calls = CallRecorder()
    account = "acct-" + request.node.name.replace("test_", "")[:40].replace("_", "-")
    async with PsaClient("https://psa.sim/api/v1", token=mod.mint_token(account),
                         transport=httpx.ASGITransport(sim.asgi), call_log=calls) as client:
        client.calls = calls
        yield client


async def test_psa_create_list_pages_and_errors(psa):
    for i in range(5):
        await psa.create("workspaces", {"title": f"Engagement {i}", "price_in_cents": 100_000 + i})
    titles = [w["title"] async for w in psa.list("workspaces", per_page=2, order="id:asc")]
    assert titles == [f"Engagement {i}" for i in range(5)]
    assert sum(1 for c in psa.calls.records if c.operation == "list.workspaces") == 3
    with pytest.raises(BusinessError) as info:
        await psa.create("workspaces", {"price_in_cents": 1})
    assert (info.value.code, info.value.status) == ("validation", 422)
    with pytest.raises(RecordNotFoundError):
        await psa.get("workspaces", 999)


async def test_psa_upsert_by_reference_is_idempotent(psa):
    keys = {"service_name": "q2c", "service_model": "Engagement", "service_model_ref": "ENG-7"}
    first, created = await psa.upsert_by_reference("workspaces", {"title": "Rollout"}, **keys)
    again, created_again = await psa.upsert_by_reference("workspaces", {"title": "Rollout v2"}, **keys)
    assert created and not created_again and first["id"] == again["id"] and again["title"] == "Rollout v2"
    assert len(await psa.list_all("workspaces")) == 1


async def test_psa_events_feed_with_cursor(psa):
    with correlation.use("corr-psa-1"):
        ws = await psa.create("workspaces", {"title": "Feed"})
        await psa.update("workspaces", ws["id"], {"title": "Feed 2"})
    events = [e async for e in psa.events(per_page=1)]
    assert [e["event_type"] for e in events] == ["workspace:created", "workspace:updated"]
    cursor = max(int(e["id"]) for e in events)
    await psa.create("stories", {"title": "Design", "workspace_id": int(ws["id"])})
    later = [e["event_type"] async for e in psa.events(since_id=cursor)]
    assert later[0] == "story:created"
    assert {c.correlation_id for c in psa.calls.records[:2]} == {"corr-psa-1"}


def test_psa_webhook_helper_matches_simulator():
    events = _load("q2c_simulators.psa.events", "sign", "verify_signature")
    from q2c_harness.connectors.psa import sign_webhook, verify_webhook_signature

    body = b'{"id":"1"}'
    assert sign_webhook("secret-123", "1700000000", body) == events.sign("secret-123", "1700000000", body)
    headers = {"X-PSA-Timestamp": "1700000000", "X-PSA-Signature": events.sign("secret-123", "1700000000", body)}
    assert verify_webhook_signature("secret-123", body, headers, tolerance_seconds=None)


# ---- Salesforce ---------------------------------------------------------------------------------------------------
SF = "https://acme.sf.sim"


@pytest.fixture
async def sf_sim():
    mod = _load("q2c_simulators.salesforce.simulator", "SalesforceSimulator")
    sim = mod.SalesforceSimulator(seed=3)
    transport = httpx.ASGITransport(sim.asgi)
    async with httpx.AsyncClient(transport=transport, base_url=SF) as admin:
        r = await admin.post("/__admin/salesforce/tokens", json={"tenant": "acme", "refresh_token": True})
        if r.status_code == 404:  # pragma: no cover
            pytest.skip("the Salesforce simulator has no token admin endpoint yet")
        assert r.status_code == 201, r.text
        token = r.json()
        r = await admin.post("/__admin/salesforce/orgs/acme/fields", json={
            "object": "Account", "name": "Q2C_Client_Id__c", "type": "string", "length": 80, "external_id": True,
            "unique": True})
        assert r.status_code == 201, r.text
        yield sim, transport, admin, token


async def test_salesforce_upsert_query_errors_and_cdc(sf_sim):
    from q2c_harness.connectors.salesforce import SalesforceClient

    sim, transport, admin, token = sf_sim
    calls = CallRecorder()
    async with SalesforceClient(SF, auth=token["access_token"], transport=transport, call_log=calls) as sf:
        first = await sf.upsert("Account", "Q2C_Client_Id__c", "CL-1001 A", {"Name": "Acme GmbH"})
        again = await sf.upsert("Account", "Q2C_Client_Id__c", "CL-1001 A", {"Name": "Acme GmbH & Co"})
        assert first.created and not again.created and first.id == again.id
        got = await sf.get_by_external_id("Account", "Q2C_Client_Id__c", "CL-1001 A")
        assert got["Name"] == "Acme GmbH & Co"
        rows = await sf.query_all("SELECT Id, Name FROM Account WHERE Q2C_Client_Id__c = 'CL-1001 A'")
        assert [r["Id"] for r in rows] == [first.id]
        with pytest.raises(BusinessError) as info:
            await sf.create("Account", {"Website": "https://acme.example"})
        assert info.value.code == "REQUIRED_FIELD_MISSING"
        with pytest.raises(RecordNotFoundError):
            await sf.get("Account", "001000000000000AAA")
        opp = await sf.create("Opportunity", {"Name": "Rollout", "StageName": "Prospecting",
                                              "CloseDate": "2026-03-31", "AccountId": first.id})
        await sf.update("Opportunity", opp, {"StageName": "Closed Won"})
        events = [e async for e in sf.change_events("/data/OpportunityChangeEvent")]
        assert [e["payload"]["ChangeEventHeader"]["changeType"] for e in events] == ["CREATE", "UPDATE"]
        assert sf.account.api_usage is not None  # Sforce-Limit-Info seen
    assert all(c.correlation_id for c in calls.records)


async def test_salesforce_expired_session_refreshes_once(sf_sim):
    from q2c_harness.connectors.salesforce import SalesforceAuth, SalesforceClient

    sim, transport, admin, token = sf_sim
    if "refresh_token" not in token:  # pragma: no cover
        pytest.skip("the Salesforce simulator did not issue a refresh token")
    auth = SalesforceAuth(session_token=token["access_token"], grant="refresh_token", client_id="q2c",
                          refresh_token=token["refresh_token"], login_url=SF)
    async with SalesforceClient(SF, auth=auth, transport=transport) as sf:
        await sf.limits()
        r = await admin.post("/__admin/salesforce/orgs/acme/sessions/expire")
        assert r.status_code == 204
        await sf.limits()  # 401 INVALID_SESSION_ID -> refresh grant -> retried
    assert auth.access_token != token["access_token"]


# ---- NetSuite -----------------------------------------------------------------------------------------------------
NS_ACCOUNT = "123456_SB1"
NS = "https://123456-sb1.suitetalk.api.netsuite.com"


@pytest.fixture
async def ns_sim():
    mod = _load("q2c_simulators.netsuite.simulator", "NetSuiteSimulator")
    sim = mod.NetSuiteSimulator(seed=5)
    transport = httpx.ASGITransport(sim.asgi)
    async with httpx.AsyncClient(transport=transport, base_url=NS) as admin:
        prefix = f"/__admin/netsuite/accounts/{NS_ACCOUNT}"
        r = await admin.post(f"{prefix}/integrations", json={})
        if r.status_code == 404:  # pragma: no cover
            pytest.skip("the NetSuite simulator has no integration admin endpoint yet")
        integration = r.json()
        token = (await admin.post(f"{prefix}/tokens", json={"consumer_key": integration["consumer_key"]})).json()
        yield sim, transport, admin, integration, token


def _tba(integration, token):
    from q2c_harness.connectors.netsuite import NetSuiteTBA

    return NetSuiteTBA(NS_ACCOUNT, integration["consumer_key"], integration["consumer_secret"], token["token_id"],
                       token["token_secret"])


async def test_netsuite_tba_upsert_errors_suiteql_and_async(ns_sim):
    from q2c_harness.connectors.netsuite import NetSuiteClient

    sim, transport, admin, integration, token = ns_sim
    async with NetSuiteClient(NS_ACCOUNT, auth=_tba(integration, token), transport=transport) as ns:
        first = await ns.upsert("customer", "Q2C-CLIENT-CL-1", {"companyName": "Acme", "subsidiary": {"id": "1"}})
        again = await ns.upsert("customer", "Q2C-CLIENT-CL-1", {"companyName": "Acme 2", "subsidiary": {"id": "1"}})
        assert first == again
        rec = await ns.get_by_external_id("customer", "Q2C-CLIENT-CL-1")
        assert rec["companyName"] == "Acme 2" and rec["currency"]["refName"]
        with pytest.raises(BusinessError) as info:
            await ns.create("customer", {"companyName": "X", "subsidiary": {"id": "999"}})
        assert info.value.code == "INVALID_KEY_OR_REF"
        with pytest.raises(RecordNotFoundError):
            await ns.get("customer", "4242")
        rows = await ns.suiteql_all("SELECT id, companyName FROM customer")
        assert [r["id"] for r in rows] == [first]
        ids = [item["id"] async for item in ns.list("customer")]
        assert ids == [first]
        job = await ns.submit_async("POST", "/record/v1/customer", idempotency_key="job-key-1",
                                    json={"companyName": "Async Co", "subsidiary": {"id": "1"}})
        await ns.wait_for_job(job.id)
        result = await ns.job_result(job.id)
        assert result.status_code == 204 and "/record/v1/customer/" in result.headers["Location"]
        twice = await ns.submit_async("POST", "/record/v1/customer", idempotency_key="job-key-1",
                                      json={"companyName": "Async Co", "subsidiary": {"id": "1"}})
        assert twice.reused and twice.id == job.id


async def test_netsuite_concurrency_budget_keeps_under_the_account_limit(ns_sim):
    import asyncio

    from q2c_harness.connectors.errors import TransientError
    from q2c_harness.connectors.http import RetryPolicy, VendorAccount
    from q2c_harness.connectors.netsuite import NetSuiteClient

    sim, transport, admin, integration, token = ns_sim
    r = await admin.put(f"/__admin/netsuite/accounts/{NS_ACCOUNT}/concurrency", json={"limit": 2})
    assert r.status_code == 200, r.text
    r = await admin.post("/__admin/faults", json={"kind": "latency", "ms": 20})  # so calls overlap in-process
    assert r.status_code == 201, r.text

    async def burst(concurrency: int) -> tuple[CallRecorder, VendorAccount, list]:
        calls = CallRecorder()
        budget = VendorAccount("netsuite", f"{NS_ACCOUNT}-{concurrency}", concurrency=concurrency)
        async with NetSuiteClient(NS_ACCOUNT, auth=_tba(integration, token), transport=transport,
                                  vendor_account=budget, call_log=calls, retry=RetryPolicy(max_attempts=1)) as ns:
            out = await asyncio.gather(*(ns.suiteql_all("SELECT id FROM customer") for _ in range(8)),
                                       return_exceptions=True)
        return calls, budget, out

    calls, budget, out = await burst(8)  # control: a budget above the account's limit meets NetSuite's 429
    assert any(c.status == 429 for c in calls.records) and any(isinstance(o, TransientError) for o in out)
    calls, budget, out = await burst(2)  # the account's own limit: never a 429
    assert [c.status for c in calls.records] == [200] * 8 and budget.max_in_flight == 2
