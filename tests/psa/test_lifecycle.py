"""The time-to-invoice lifecycle through the public API, as a delivery team and a billing clerk live it."""

from __future__ import annotations

from q2c_simulators.psa.actors import Actor, ActorError

from .conftest import ACCOUNT, create, record


async def _engagement(api):
    consultant_role = await create(api, "roles", "role", name="Consultant")
    ws = await create(api, "workspaces", "workspace", title="Acme rollout", currency="EUR",
                      budget_in_cents=5_000_000, price_in_cents=4_800_000, billing_mode="time_and_materials")
    phase = await create(api, "stories", "story", title="Phase 1", workspace_id=ws["id"], story_type="phase")
    task = await create(api, "stories", "story", title="Build", workspace_id=ws["id"], parent_id=phase["id"])
    milestone_story = await create(api, "stories", "story", title="Go-live", workspace_id=ws["id"],
                                   parent_id=phase["id"], story_type="milestone")
    card = await create(api, "rate_cards", "rate_card", title="EMEA 2024", currency="EUR")
    await create(api, "rate_card_versions", "rate_card_version", rate_card_id=card["id"], effective_date="2024-01-01",
                 rates=[{"role_id": consultant_role["id"], "rate_in_cents": 15_000},
                        {"role_id": consultant_role["id"], "region": "EMEA", "rate_in_cents": 16_000},
                        {"rate_in_cents": 10_000}])
    await create(api, "rate_card_versions", "rate_card_version", rate_card_id=card["id"], effective_date="2024-03-15",
                 rates=[{"role_id": consultant_role["id"], "region": "EMEA", "rate_in_cents": 17_500},
                        {"rate_in_cents": 11_000}])
    r = await api.put(f"/api/v1/workspaces/{ws['id']}.json", json={"workspace": {"rate_card_id": card["id"]}})
    assert r.status_code == 200, r.text
    alice = await create(api, "users", "user", full_name="Alice Moreau", email_address="alice@acme.test",
                         region="EMEA", location="Paris", legal_entity="Acme SAS", role_id=consultant_role["id"])
    bob = await create(api, "users", "user", full_name="Bob Stone", email_address="bob@acme.test", region="NA")
    await create(api, "participations", "participation", workspace_id=ws["id"], user_id=alice["id"],
                 role_id=consultant_role["id"])
    await create(api, "participations", "participation", workspace_id=ws["id"], user_id=bob["id"])
    return ws, task, milestone_story, alice, bob


async def test_time_to_invoice_lifecycle(sim, api):
    ws, task, milestone_story, alice, bob = await _engagement(api)
    consultant = Actor.in_process(sim, ACCOUNT, alice["id"])
    manager = Actor.in_process(sim, ACCOUNT, bob["id"])

    # The rate card version in force on the work date applies: 2024-03-14 -> v1, 2024-03-18 -> v2.
    before = await consultant.log_time(ws["id"], "2024-03-14", 90, story_id=task["id"], notes="design")
    after = await consultant.log_time(ws["id"], "2024-03-18", 60, story_id=task["id"], notes="build")
    assert (before["rate_in_cents"], after["rate_in_cents"]) == (16_000, 17_500)
    assert before["rate_card_version_id"] != after["rate_card_version_id"]
    assert before["user_id"] == alice["id"] and before["approval_state"] == "unsubmitted"
    # Bob has no role: the card's default rate, as of the date.
    bobs = await manager.log_time(ws["id"], "2024-03-18", 30, billable=False)
    assert bobs["rate_in_cents"] == 11_000 and bobs["billable"] is False

    sub = await consultant.submit_timesheet("2024-03-11", "2024-03-24", workspace_id=ws["id"])
    assert sub["status"] == "pending" and sub["time_entry_ids"] == [before["id"], after["id"]]
    # A submitted entry is locked.
    r = await consultant.client.put(f"/api/v1/time_entries/{before['id']}.json", json={"time_entry": {"time_in_minutes": 5}})
    assert r.status_code == 409 and r.json()["errors"][0]["type"] == "conflict"
    approved = await manager.approve_timesheet(sub["id"])
    assert approved["status"] == "approved" and approved["approver_id"] == bob["id"]
    with_entries = (await api.get(f"/api/v1/time_entries.json?workspace_id={ws['id']}&approval_state=approved")).json()
    assert with_entries["count"] == 2

    expense = await consultant.file_expense(ws["id"], "2024-03-18", "Travel", 12_345)
    assert expense["currency"] == "EUR"
    report = await consultant.submit_expense_report(ws["id"])
    assert report["expense_ids"] == [expense["id"]]
    assert (await manager.approve_expense_report(report["id"]))["status"] == "approved"

    milestone = await create(api, "billing_milestones", "billing_milestone", workspace_id=ws["id"],
                             story_id=milestone_story["id"], title="Go-live", amount_in_cents=1_000_000)
    assert milestone["acceptance_state"] == "pending"
    accepted = await manager.accept_milestone(milestone["id"])
    assert accepted["acceptance_state"] == "accepted" and accepted["accepted_by_id"] == bob["id"]

    r = await api.post("/api/v1/invoices.json", json={"invoice": {"workspace_id": ws["id"], "invoice_date": "2024-03-31", "due_date": "2024-04-30"}})
    assert r.status_code == 201, r.text
    invoice = record(r.json())
    # 1.5 h x 160.00 + 1 h x 175.00 + 123.45 expense + 10,000.00 milestone (Bob's entry is not billable).
    assert invoice["total_in_cents"] == 24_000 + 17_500 + 12_345 + 1_000_000
    assert invoice["status"] == "draft" and invoice["currency"] == "EUR"
    assert invoice["time_entry_ids"] == [before["id"], after["id"]]
    invoiced = record((await api.get(f"/api/v1/time_entries/{before['id']}.json")).json())
    assert invoiced["is_invoiced"] is True and invoiced["invoice_id"] == invoice["id"]
    # Nothing left to bill: a second draft is a validation error naming the field.
    r = await api.post("/api/v1/invoices.json", json={"invoice": {"workspace_id": ws["id"], "invoice_date": "2024-03-31"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "workspace_id"

    r = await api.put(f"/api/v1/invoices/{invoice['id']}/cancel.json")
    assert r.status_code == 200 and record(r.json())["status"] == "canceled"
    released = record((await api.get(f"/api/v1/time_entries/{before['id']}.json")).json())
    assert released["is_invoiced"] is False and released["invoice_id"] is None
    assert (await api.put(f"/api/v1/invoices/{invoice['id']}/cancel.json")).status_code == 409
    # Released items can be invoiced again.
    r = await api.post("/api/v1/invoices.json", json={"invoice": {"workspace_id": ws["id"], "invoice_date": "2024-03-31"}})
    assert r.status_code == 201 and record(r.json())["total_in_cents"] == invoice["total_in_cents"]

    types = [e["event_type"] for e in (await api.get("/api/v1/subscribed_events.json?per_page=200")).json()[
        "subscribed_events"].values()]
    for expected in ("time_entry:created", "time_entry:updated", "timesheet_submission:approved", "expense:approved",
                     "billing_milestone:accepted", "invoice:created", "invoice:canceled", "workspace:updated"):
        assert expected in types, expected
    await consultant.aclose()
    await manager.aclose()


async def test_rejections_unlock_and_resubmit(sim, api):
    ws, task, milestone_story, alice, bob = await _engagement(api)
    consultant = Actor.in_process(sim, ACCOUNT, alice["id"])
    manager = Actor.in_process(sim, ACCOUNT, bob["id"])
    entry = await consultant.log_time(ws["id"], "2024-03-04", 60, story_id=task["id"])
    sub = await consultant.submit_timesheet("2024-03-04", "2024-03-10")
    [rejected] = await manager.reject_timesheets([sub["id"]], comment="wrong task")
    assert rejected["status"] == "rejected" and rejected["resolution_comment"] == "wrong task"
    r = await consultant.client.put(f"/api/v1/time_entries/{entry['id']}", json={"time_entry": {"time_in_minutes": 45}})
    assert r.status_code == 200 and record(r.json())["approval_state"] == "unsubmitted"
    again = await consultant.submit_timesheet("2024-03-04", "2024-03-10")
    [ok] = await manager.approve_timesheets([again["id"]])
    assert ok["status"] == "approved"
    try:
        await manager.approve_timesheet(again["id"])
    except ActorError as exc:
        assert exc.status == 409
    else:
        raise AssertionError("approving twice must fail")

    ms = await create(api, "billing_milestones", "billing_milestone", workspace_id=ws["id"], title="UAT",
                      amount_in_cents=50_000)
    assert (await manager.reject_milestone(ms["id"], "not done"))["acceptance_state"] == "rejected"
    assert (await manager.accept_milestone(ms["id"]))["acceptance_state"] == "accepted"
    await consultant.aclose()
    await manager.aclose()
