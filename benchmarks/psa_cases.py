"""PSA simulator benchmark cases: the hottest read (a workspace's time entries, 50 a page) and time-entry creation.

`prepare` seeds one account through the admin API (a token) and the public API (user, workspace, story, rate card,
200 time entries), and lifts the account's request bucket so the run measures the simulator rather than the
stand-in Kantata limit (docs/psa.md, "Quotas"). Each case's stub is a response captured from the simulator itself,
so a static peer serves the same bytes.
"""

from __future__ import annotations

import json

import httpx

from benchmarks.cases import BenchCase, StubResponse

ACCOUNT = "bench"
ENTRIES = 200


def prepare(base_url: str, ca_bundle: str | None) -> list[BenchCase]:
    verify: bool | str = ca_bundle or True
    base = base_url.rstrip("/")
    with httpx.Client(base_url=base, verify=verify, timeout=30) as admin:
        token = admin.post("/__admin/psa/tokens", json={"account": ACCOUNT}).raise_for_status().json()["access_token"]
        admin.put("/__admin/quotas", json={
            "name": "account_requests", "kind": "token_bucket", "limit": 10_000_000, "rate_per_second": 10_000_000,
            "path": "/api/*"}).raise_for_status()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base, verify=verify, timeout=30, headers=headers) as api:

        def create(key: str, singular: str, **attrs: object) -> dict:
            body = api.post(f"/api/v1/{key}.json", json={singular: attrs}).raise_for_status().json()
            ref = body["results"][0]
            return body[ref["key"]][ref["id"]]

        role = create("roles", "role", name="Consultant")
        user = create("users", "user", full_name="Bench Consultant", email_address="bench@example.test",
                      region="EMEA", role_id=role["id"])
        card = create("rate_cards", "rate_card", title="Bench card", currency="EUR")
        create("rate_card_versions", "rate_card_version", rate_card_id=card["id"], effective_date="2024-01-01",
               rates=[{"role_id": role["id"], "rate_in_cents": 15_000}])
        ws = create("workspaces", "workspace", title="Bench engagement", currency="EUR", rate_card_id=card["id"],
                    budget_in_cents=100_000_000)
        story = create("stories", "story", title="Delivery", workspace_id=ws["id"])
        create("participations", "participation", workspace_id=ws["id"], user_id=user["id"], role_id=role["id"])
        entries = [{"workspace_id": ws["id"], "story_id": story["id"], "user_id": user["id"],
                    "date_performed": f"2024-02-{1 + i % 28:02d}", "time_in_minutes": 15 + i % 8 * 15,
                    "notes": f"task {i}"} for i in range(ENTRIES)]
        api.post("/api/v1/time_entries.json", json={"time_entries": entries}).raise_for_status()

        read_path = f"/api/v1/time_entries.json?workspace_id={ws['id']}&per_page=50"
        read = api.get(read_path).raise_for_status()
        new_entry = json.dumps({"time_entry": {"workspace_id": ws["id"], "story_id": story["id"],
                                               "user_id": user["id"], "date_performed": "2024-03-04",
                                               "time_in_minutes": 60, "notes": "bench"}}).encode()
        created = api.post("/api/v1/time_entries.json", content=new_entry)
        created.raise_for_status()

    auth = {"Authorization": f"Bearer {token}"}
    return [
        BenchCase(name="psa GET time entries of a workspace (50 per page)", method="GET", path=read_path,
                  headers=auth, stub=StubResponse(200, read.text)),
        BenchCase(name="psa POST time entry", method="POST", path="/api/v1/time_entries.json",
                  headers={**auth, "Content-Type": "application/json"}, body=new_entry,
                  stub=StubResponse(201, created.text)),
    ]
