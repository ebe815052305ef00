"""The JSON routes the dashboard uses (trace, KPI history, simulator status) and the dashboard's own serving,
against a stack populated by running the flows end to end (tests/ops/stack.py)."""

from __future__ import annotations

import httpx
import pytest

from .stack import TOKEN, Stack

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    st = Stack(tmp_path_factory.mktemp("dash")).start()
    yield st
    st.stop()


@pytest.fixture
async def client(stack):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.app), base_url="http://ops", timeout=30) as c:
        yield c


async def test_trace_spans_the_engagement_across_systems(client, stack):
    r = await client.get(f"/transactions/{stack.info['quote_cid']}/trace", headers=AUTH)
    assert r.status_code == 200
    t = r.json()
    assert t["stages"][:6] == ["proposal line", "project task", "time entries", "billing event", "invoice line",
                               "payment"]
    assert len(t["correlation_ids"]) == 4  # quote, time approval, billing run, payment
    assert stack.info["parked_cid"] not in t["correlation_ids"]  # another engagement
    assert [e["at"] for e in t["entries"]] == sorted(e["at"] for e in t["entries"])
    groups = {e["group"] for e in t["entries"]}
    assert groups == {"CRM", "PSA", "ERP", "core"}
    kinds = {e["kind"] for e in t["entries"]}
    assert {"inbound", "call", "write", "decision", "event"} <= kinds
    calls = [e for e in t["entries"] if e["kind"].startswith("call")]
    assert any("/projectTask/" in e["summary"] and e["stage"] == "project task" for e in calls)
    assert any("/timeBill/" in e["summary"] and e["stage"] == "time entries" for e in calls)
    assert any("/invoice/" in e["summary"] and e["stage"] == "invoice line" for e in calls)
    assert any("customerPayment" in e["summary"] and e["stage"] == "payment" for e in calls)
    alone = (await client.get(f"/transactions/{stack.info['quote_cid']}/trace", params={"linked": "false"},
                              headers=AUTH)).json()
    assert alone["correlation_ids"] == [stack.info["quote_cid"]]
    assert (await client.get("/transactions/nope/trace", headers=AUTH)).status_code == 404
    assert (await client.get(f"/transactions/{stack.info['quote_cid']}/trace")).status_code == 401


async def test_trace_shows_the_parked_run_and_its_retry(client, stack):
    t = (await client.get(f"/transactions/{stack.info['parked_cid']}/trace", headers=AUTH)).json()
    exc = [e for e in t["entries"] if e["kind"] == "exception"]
    assert exc and "parked" in exc[0]["summary"] and "MISSING_MASTER_DATA" in exc[0]["summary"]


async def test_kpi_history_and_simulator_status(client, stack):
    h = (await client.get("/kpis/history", params={"bucket": "hour"}, headers=AUTH)).json()
    assert h["bucket"] == "hour" and h["points"]
    last = h["points"][-1]
    assert last["events"] >= 10 and last["invoice_exception_rate"] == 0.5  # one invoice posted, one run held
    assert last["activation_seconds_p50"] is not None
    assert (await client.get("/kpis/history", params={"bucket": "week"}, headers=AUTH)).status_code == 422
    sims = (await client.get("/simulators", headers=AUTH)).json()
    assert [s["name"] for s in sims] == ["netsuite", "psa", "salesforce"]
    assert all(s["ok"] for s in sims)
    ns = sims[0]
    assert ns["quotas"][0]["name"] == "concurrency" and "used" in ns["quotas"][0]
    assert [f["id"] for f in ns["faults"]] == ["ns-invoice-503"]



async def test_simulator_view_shows_each_tenants_own_quota_use(client, stack):
    """Quota use per tenant: the org the core works in shows the API requests it made, as Salesforce's own /limits
    reports them to that org (the view once read the use of no tenant: 0 of 100,000)."""
    limits = stack.core.vendors.run(stack.core.vendors.sf.limits())
    remaining = limits["DailyApiRequests"]["Remaining"]
    sims = {s["name"]: s for s in (await client.get("/simulators", headers=AUTH)).json()}
    (acme,) = [t for t in sims["salesforce"]["tenants"] if t["tenant"] == "acme"]
    daily = next(q for q in acme["quotas"] if q["name"] == "DailyApiRequests")
    assert daily["used"] > 0 and daily["remaining"] == remaining
    assert {t["tenant"] for t in sims["netsuite"]["tenants"]} == {"Q2C_SB1"}


async def test_dashboard_is_served_with_its_assets(client):
    r = await client.get("/dashboard")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "/dashboard/static/app.js" in r.text and "script-src 'self'" in r.headers["content-security-policy"]
    js = await client.get("/dashboard/static/app.js")
    assert js.status_code == 200 and "sessionStorage" in js.text
    assert (await client.get("/dashboard/static/style.css")).status_code == 200
    assert (await client.get("/")).headers["location"] == "/dashboard"
    spec = (await client.get("/openapi.json")).json()
    assert "/dashboard" not in spec["paths"]
    assert {"/transactions/{correlation_id}/trace", "/kpis/history", "/simulators"} <= set(spec["paths"])


async def test_every_dashboard_call_is_an_ops_api_route(client):
    """The page only calls the JSON API: each path it fetches is a documented route."""
    import re

    js = (await client.get("/dashboard/static/app.js")).text
    spec = (await client.get("/openapi.json")).json()
    called = set(re.findall(r'api\(["`](/[a-z/]+)', js))
    routes = {re.sub(r"\{[^}]+\}", "", p).rstrip("/") for p in spec["paths"]}
    for path in called:
        assert path.rstrip("/") in routes or any(r.startswith(path.rstrip("/")) for r in routes), path


async def test_kpis_from_the_flows_events_match_what_the_vendors_hold(client, stack):
    """The KPIs of the real flows' events (no fabricated ones), each checked against the vendors: NetSuite's
    invoices, the PSA's approved entries that no NetSuite invoice line names, valued at the contract rate card the
    stack runs with (RC-STD, Architect/NA 210.00) for the PSA's minutes; the held billing run; latencies not negative."""
    from decimal import Decimal

    from q2c_harness.flows.reference import demo_reference

    core = stack.core

    async def read() -> tuple[list[dict], list[dict], dict[str, str]]:
        ns, psa = core.vendors.ns, core.vendors.psa
        invoices = [await ns.get("invoice", i["id"], expand_sub_resources=True) async for i in ns.list("invoice")]
        roles = {str(r["id"]): r["name"] for r in await psa.list_all("roles")}
        return invoices, await psa.list_all("time_entries"), roles
    invoices, entries, roles = core.vendors.run(read())
    import re

    billed = {sid for inv in invoices for line in (inv.get("item") or {}).get("items", [])  # "... [time 1,2; v1]"
              for m in re.finditer(r"\[time ([^;\]]+);", str(line.get("description"))) for sid in m[1].split(",")}
    approved = [e for e in entries if e.get("approved")]
    unbilled = [e for e in approved if str(e["id"]) not in billed]
    assert approved and unbilled, "the stack should hold billed and unbilled approved time"
    card = {(r.role, r.region): r.rate for r in demo_reference().rate_cards["RC-STD"].versions[0].rates}
    value = sum(Decimal(e["time_in_minutes"]) / 60 * card[(roles[str(e["role_id"])], "NA")] for e in unbilled)

    k = (await client.get("/kpis", headers=AUTH)).json()
    assert k["invoice_exception_rate"] == {"posted": len(invoices), "exceptions": 1,
                                           "rate": round(1 / (len(invoices) + 1), 4)}
    assert k["unbilled_backlog"]["items"] == len(unbilled)
    assert k["unbilled_backlog"]["amount_by_currency"] == {"USD": str(value.quantize(Decimal("0.01")))}
    assert k["billing_cycle_latency_seconds"]["count"] == len(approved) - len(unbilled)  # every billed entry
    assert k["billing_cycle_latency_seconds"]["p50"] >= 0
    assert k["quote_to_project_activation_seconds"]["count"] == 2  # both engagements activated
    assert k["cash_application_lag_seconds"]["count"] == 1 and k["cash_application_lag_seconds"]["max"] >= 0
    assert k["cash_application_lag_seconds"]["unapplied"] == 0


async def test_search_by_any_id_finds_the_thing_and_its_trace(client, stack):
    """A finance-ops user has an id in hand: the NetSuite invoice number, a Salesforce Opportunity id, a correlation
    id. Each finds what it names (as the vendors hold it) and the traces that show it."""
    core = stack.core

    async def first_invoice() -> dict:
        ns = core.vendors.ns
        return await ns.get("invoice", [i async for i in ns.list("invoice")][0]["id"])
    inv = core.vendors.run(first_invoice())
    hits = (await client.get("/search", params={"q": inv["tranId"]}, headers=AUTH)).json()
    (hit,) = [h for h in hits if h["kind"] == "invoice"]
    assert (hit["id"], hit["number"]) == (str(inv["id"]), inv["tranId"])
    assert hit["amount"] and hit["currency"] == inv["currency"]["refName"] and hit["correlation_ids"]
    trace = (await client.get(f"/transactions/{hit['correlation_ids'][0]}/trace", headers=AUTH)).json()
    assert trace["entries"]

    hits = (await client.get("/search", params={"q": stack.info["opp_a"]}, headers=AUTH)).json()
    records = {(h["system"], h["object"]) for h in hits if h["kind"] == "record"}
    assert {("salesforce", "Opportunity"), ("netsuite", "job"), ("psa", "workspace")} <= records
    assert len({h["canonical_id"] for h in hits if h["kind"] == "record"}) == 1  # one engagement

    hits = (await client.get("/search", params={"q": stack.info["quote_cid"]}, headers=AUTH)).json()
    assert any(h["kind"] == "inbound event" and h["system"] == "salesforce" for h in hits)
    assert (await client.get("/search", params={"q": "no-such-id"}, headers=AUTH)).json() == []
    assert (await client.get("/search", params={"q": "a\x00b"}, headers=AUTH)).status_code == 422


async def test_retry_resolves_the_parked_item_over_http(client, stack):
    # last: it changes the stack (the browser tests build their own)
    r = await client.post(f"/exceptions/{stack.info['parked_id']}/retry", json={}, headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    t = (await client.get(f"/transactions/{stack.info['parked_cid']}/trace", headers=AUTH)).json()
    assert any("retry-succeeded" in e["summary"] for e in t["entries"])
    assert "invoice line" in t["stages"]
