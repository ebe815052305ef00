"""Kantata API conventions a client relies on: envelope, paging, only/include/order, bulk, errors, auth, quotas."""

from __future__ import annotations

import httpx

from q2c_simulators.kernel import QuotaSpec

from .conftest import ACCOUNT, client_for, create, record


async def _seed(api, n: int = 45):
    ws = await create(api, "workspaces", "workspace", title="Paging")
    user = await create(api, "users", "user", full_name="Pat", email_address="pat@x.test", region="NA")
    story = await create(api, "stories", "story", title="Work", workspace_id=ws["id"], billable=False)
    entries = [{"workspace_id": ws["id"], "user_id": user["id"], "story_id": story["id"],
                "date_performed": f"2024-02-{1 + i % 28:02d}", "time_in_minutes": 10 + i} for i in range(n)]
    r = await api.post("/api/v1/time_entries", json={"time_entries": entries})
    assert r.status_code == 201
    return ws, user, story


async def test_envelope_paging_only_include_order(api):
    ws, user, story = await _seed(api)
    body = (await api.get(f"/api/v1/time_entries.json?workspace_id={ws['id']}&page=3")).json()
    assert body["count"] == 45 and body["meta"] == {"count": 45, "page_count": 3, "page_number": 3, "page_size": 20}
    assert len(body["results"]) == 5 and all(r["key"] == "time_entries" for r in body["results"])
    assert set(body["time_entries"]) == {r["id"] for r in body["results"]}
    entry = next(iter(body["time_entries"].values()))
    assert entry["billable"] is False  # inherited from the story
    big = (await api.get("/api/v1/time_entries.json?per_page=200")).json()
    assert big["meta"]["page_size"] == 200 and len(big["results"]) == 45
    offset = (await api.get("/api/v1/time_entries.json?limit=10&offset=40")).json()
    assert [r["id"] for r in offset["results"]] == [str(i) for i in range(41, 46)]

    only = (await api.get("/api/v1/time_entries.json?only=3,999,1")).json()
    assert [r["id"] for r in only["results"]] == ["3", "1"]  # no 404 for the missing id

    inc = (await api.get("/api/v1/time_entries/1.json?include=user,story,workspace")).json()
    assert inc["users"][user["id"]]["region"] == "NA" and story["id"] in inc["stories"] and ws["id"] in inc["workspaces"]
    ws_inc = (await api.get(f"/api/v1/workspaces/{ws['id']}.json?include=stories")).json()
    assert ws_inc["workspaces"][ws["id"]]["story_ids"] == [story["id"]]

    ordered = (await api.get("/api/v1/time_entries.json?order=date_performed:desc&per_page=2")).json()
    dates = [ordered["time_entries"][r["id"]]["date_performed"] for r in ordered["results"]]
    assert dates == ["2024-02-28", "2024-02-27"]
    between = (await api.get("/api/v1/time_entries.json?date_performed_between=2024-02-01:2024-02-02")).json()
    assert between["count"] == 4


async def test_errors_have_kantata_shape(api, sim):
    r = await api.get("/api/v1/workspaces/12345.json")
    assert r.status_code == 404 and r.json()["errors"][0]["type"] == "not_found"
    r = await api.get("/api/v1/time_entries.json?per_page=201")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "per_page"
    r = await api.get("/api/v1/time_entries.json?order=time_in_minutes:desc")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "order"
    r = await api.get("/api/v1/time_entries.json?include=nonsense")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "include"
    r = await api.post("/api/v1/time_entries.json", json={"time_entry": {"workspace_id": "1", "date_performed": "2024-02-30",
                                                                         "time_in_minutes": 30}})
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["type"] == "validation" and err["field"] == "date_performed"
    r = await api.post("/api/v1/time_entries.json", json={"time_entry": {"workspace_id": "77", "user_id": "1",
                                                                         "date_performed": "2024-02-03", "time_in_minutes": 30}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "workspace_id"
    r = await api.post("/api/v1/stories.json", json={"stories": [{"title": f"s{i}", "workspace_id": "1"} for i in range(301)]})
    assert r.status_code == 422  # bulk create takes at most 300
    r = await api.post("/api/v1/workspaces.json", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"][0]["type"] == "argument"


async def test_an_integer_valued_number_is_an_integer_as_the_openapi_says(api, sim):
    """The OpenAPI types counts and cents `integer`, and JSON Schema takes 60.0 as one; 60.5 is not."""
    schema = sim.openapi()["components"]["schemas"]["WorkspaceAttributes"]["properties"]["budget_in_cents"]
    assert "integer" in str(schema)
    r = await api.post("/api/v1/workspaces.json", json={"workspace": {"title": "Float", "budget_in_cents": 150000.0}})
    assert r.status_code == 201, r.text
    ws = next(iter(r.json()["workspaces"].values()))
    assert ws["budget_in_cents"] == 150000 and isinstance(ws["budget_in_cents"], int)
    r = await api.post("/api/v1/workspaces.json", json={"workspace": {"title": "Half", "budget_in_cents": 150000.5}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "budget_in_cents"


async def test_bulk_create_is_all_or_nothing(api):
    ws = await create(api, "workspaces", "workspace", title="Bulk")
    r = await api.post("/api/v1/stories.json", json={"stories": [
        {"title": "ok", "workspace_id": ws["id"]}, {"title": "bad parent", "workspace_id": ws["id"], "parent_id": "999"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stories[1].parent_id"
    assert (await api.get("/api/v1/stories.json")).json()["count"] == 0


async def test_auth_tenancy_and_quota(sim):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://psa.sim") as anon:
        r = await anon.get("/api/v1/workspaces.json")
        assert r.status_code == 401 and r.json()["errors"][0] == {"type": "oauth", "message": "Invalid OAuth 2 Request"}
        r = await anon.get("/api/v1/workspaces.json", headers={"Authorization": "Bearer psa~acme~0~forged"})
        assert r.status_code == 401
        token = (await anon.post("/__admin/psa/tokens", json={"account": "globex"})).json()["access_token"]
        r = await anon.post("/api/v1/roles.json", json={"role": {"name": "Globex only"}},
                            headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201
        for tenant, status in (("acme", 401), ("globex", 200)):  # X-Sim-Tenant cannot lend a token another account
            r = await anon.get("/api/v1/roles.json", headers={"Authorization": f"Bearer {token}",
                                                              "X-Sim-Tenant": tenant})
            assert r.status_code == status, tenant
    async with client_for(sim) as acme:  # another account sees none of it
        assert (await acme.get("/api/v1/roles.json")).json()["count"] == 0
        sim.quotas.set(QuotaSpec(name="account_requests", kind="token_bucket", limit=3, rate_per_second=0.001,
                                 path="/api/*"))
        sim.quotas.reset()
        statuses = [(await acme.get("/api/v1/roles.json")).status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        r = await acme.get("/api/v1/roles.json")
        assert r.json()["errors"][0]["type"] == "rate_limit" and "retry-after" not in r.headers


async def test_change_orders_update_the_workspace(api):
    ws = await create(api, "workspaces", "workspace", title="CO", budget_in_cents=100_000, due_date="2024-06-30")
    co = await create(api, "budget_change_orders", "budget_change_order", workspace_id=ws["id"],
                      new_budget_in_cents=150_000, reason="extra scope")
    assert co["previous_budget_in_cents"] == 100_000
    sco = await create(api, "schedule_change_orders", "schedule_change_order", workspace_id=ws["id"],
                       new_due_date="2024-08-31")
    assert sco["previous_due_date"] == "2024-06-30"
    now = record((await api.get(f"/api/v1/workspaces/{ws['id']}.json")).json())
    assert now["budget_in_cents"] == 150_000 and now["due_date"] == "2024-08-31"
    types = [e["event_type"] for e in (await api.get("/api/v1/subscribed_events.json")).json()["subscribed_events"].values()]
    assert "budget_change_order:created" in types and "schedule_change_order:created" in types


async def test_external_references_on_any_object(api):
    ws = await create(api, "workspaces", "workspace", title="Refs")
    ref = await create(api, "external_references", "external_reference", subject_type="Workspace",
                       subject_id=ws["id"], service_name="Salesforce", service_model="Opportunity",
                       service_model_ref="006000000000001")
    r = await api.post("/api/v1/external_references.json", json={"external_reference": {
        "subject_type": "Workspace", "subject_id": ws["id"], "service_name": "Salesforce",
        "service_model": "Opportunity", "service_model_ref": "006000000000002"}})
    assert r.status_code == 422  # one reference per object, service and model
    found = (await api.get("/api/v1/external_references.json?service_model_ref=006000000000001")).json()
    assert [r["id"] for r in found["results"]] == [ref["id"]]
    inc = (await api.get(f"/api/v1/workspaces/{ws['id']}.json?include=external_references")).json()
    assert inc["workspaces"][ws["id"]]["external_reference_ids"] == [ref["id"]]


async def test_admin_actor_endpoint_acts_through_the_public_api(sim, api):
    ws = await create(api, "workspaces", "workspace", title="Load")
    user = await create(api, "users", "user", full_name="Load Tester", email_address="lt@x.test")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://psa.sim") as admin:
        r = await admin.post("/__admin/psa/actors/log_time", json={
            "account": ACCOUNT, "user_id": user["id"], "repeat": 3,
            "params": {"workspace_id": ws["id"], "date_performed": "2024-02-05", "time_in_minutes": 60}})
        assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == [200, 200, 200]
        r = await admin.post("/__admin/psa/actors/submit_timesheet", json={
            "account": ACCOUNT, "user_id": user["id"], "params": {"start_date": "2024-02-05", "end_date": "2024-02-11"}})
        assert len(r.json()["results"][0]["body"]["time_entry_ids"]) == 3
        journal = (await admin.get("/__admin/requests?operation=create_time_entries")).json()
        assert journal["total"] >= 3 and len(journal["requests"]) == 3
        assert (await admin.post("/__admin/psa/actors/nope", json={"account": ACCOUNT})).status_code == 404


async def test_snapshot_restore_keeps_money_and_tokens(sim, api):
    ws = await create(api, "workspaces", "workspace", title="Snap", budget_in_cents=123_456)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://psa.sim") as admin:
        snap = (await admin.get("/__admin/snapshot")).json()
        assert (await admin.post("/__admin/reset")).status_code == 204
        assert (await api.get(f"/api/v1/workspaces/{ws['id']}.json")).status_code == 404
        assert (await admin.post("/__admin/restore", json={"snapshot": snap})).status_code == 200
    restored = record((await api.get(f"/api/v1/workspaces/{ws['id']}.json")).json())
    assert restored["budget_in_cents"] == 123_456  # Decimal in the store survives the JSON snapshot
    again = await create(api, "workspaces", "workspace", title="After")
    assert int(again["id"]) == int(ws["id"]) + 1  # id sequences restored too
    r = await api.patch(f"/api/v1/workspaces/{ws['id']}.json", json={})
    assert r.status_code == 405 and r.json()["errors"][0]["type"] == "method_not_allowed"
