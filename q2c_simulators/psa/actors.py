"""Delivery-team actors: people who log time, submit and approve, through the PUBLIC API only (async httpx).

An actor holds an `httpx.AsyncClient` whose bearer token is the person's (mint one at `POST /__admin/psa/tokens`
with `user_id`). Nothing here touches simulator state: every action is an HTTP call, so quotas, faults, events and
the journal see it like any client's. Methods return the record from Kantata's envelope (a dict) and raise
`ActorError` (status and Kantata's `errors`) on a non-2xx answer.

    async with Actor.connect(base_url, token) as alice:          # a real server
        entry = await alice.log_time(workspace_id, "2024-03-04", 120, story_id=story)
    alice = Actor.in_process(sim, account="acme", user_id="3")    # no sockets
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from .auth import mint_token

if TYPE_CHECKING:
    from .simulator import PsaSimulator


class ActorError(Exception):
    def __init__(self, status: int, errors: list[dict[str, Any]], method: str, path: str) -> None:
        first = errors[0]["message"] if errors else f"HTTP {status}"
        super().__init__(f"{method} {path} -> {status}: {first}")
        self.status = status
        self.errors = errors


def first_record(body: dict[str, Any]) -> dict[str, Any]:
    """The first primary record of a Kantata envelope."""
    ref = body["results"][0]
    return body[ref["key"]][ref["id"]]


def records(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [body[r["key"]][r["id"]] for r in body["results"]]


class Actor:
    """One person on the delivery team (consultant, project manager, client approver: same API, other tokens)."""

    def __init__(self, client: httpx.AsyncClient, name: str | None = None) -> None:
        self.client = client
        self.name = name

    @classmethod
    def connect(cls, base_url: str, token: str, *, verify: bool | str = True, name: str | None = None) -> Actor:
        return cls(httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                     verify=verify, timeout=30), name)

    @classmethod
    def in_process(cls, sim: PsaSimulator, account: str, user_id: str | None = None, name: str | None = None) -> Actor:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://psa.sim",
                                   headers={"Authorization": f"Bearer {mint_token(account, user_id)}"})
        return cls(client, name)

    async def __aenter__(self) -> Actor:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def call(self, method: str, path: str, json: Any = None, params: dict | None = None) -> dict[str, Any]:
        response = await self.client.request(method, f"/api/v1/{path}", json=json, params=params)
        if response.status_code == 204:
            return {}
        body = response.json()
        if response.status_code >= 300:
            raise ActorError(response.status_code, body.get("errors", []) if isinstance(body, dict) else [],
                             method, path)
        return body

    # ---- consultant ------------------------------------------------------------------------------------------
    async def log_time(self, workspace_id: str, date_performed: str, time_in_minutes: int, *,
                       story_id: str | None = None, billable: bool | None = None, notes: str | None = None,
                       user_id: str | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {"workspace_id": workspace_id, "date_performed": date_performed,
                                 "time_in_minutes": time_in_minutes}
        for key, value in (("story_id", story_id), ("billable", billable), ("notes", notes), ("user_id", user_id)):
            if value is not None:
                entry[key] = value
        return first_record(await self.call("POST", "time_entries.json", {"time_entry": entry}))

    async def submit_timesheet(self, start_date: str, end_date: str, *, workspace_id: str | None = None,
                               comment: str | None = None) -> dict[str, Any]:
        sub: dict[str, Any] = {"start_date": start_date, "end_date": end_date}
        if workspace_id is not None:
            sub["workspace_id"] = workspace_id
        if comment is not None:
            sub["comment"] = comment
        return first_record(await self.call("POST", "timesheet_submissions.json", {"timesheet_submission": sub}))

    async def file_expense(self, workspace_id: str, date: str, category: str, amount_in_cents: int, *,
                           billable: bool = True, notes: str | None = None) -> dict[str, Any]:
        exp: dict[str, Any] = {"workspace_id": workspace_id, "date": date, "category": category,
                               "amount_in_cents": amount_in_cents, "billable": billable}
        if notes is not None:
            exp["notes"] = notes
        return first_record(await self.call("POST", "expenses.json", {"expense": exp}))

    async def submit_expense_report(self, workspace_id: str, expense_ids: list[str] | None = None) -> dict[str, Any]:
        sub: dict[str, Any] = {"workspace_id": workspace_id}
        if expense_ids is not None:
            sub["expense_ids"] = expense_ids
        return first_record(await self.call("POST", "expense_report_submissions.json",
                                            {"expense_report_submission": sub}))

    # ---- approver (project manager) -----------------------------------------------------------------------------
    async def approve_timesheet(self, submission_id: str) -> dict[str, Any]:
        return first_record(await self.call("PUT", f"timesheet_submissions/{submission_id}/approve.json"))

    async def reject_timesheet(self, submission_id: str, comment: str | None = None) -> dict[str, Any]:
        body = {"comment": comment} if comment else None
        return first_record(await self.call("PUT", f"timesheet_submissions/{submission_id}/reject.json", body))

    async def approve_timesheets(self, submission_ids: list[str]) -> list[dict[str, Any]]:
        return records(await self.call("POST", "timesheet_approvals.json", {"submission_ids": submission_ids}))

    async def reject_timesheets(self, submission_ids: list[str], comment: str | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"submission_ids": submission_ids}
        if comment:
            body["comment"] = comment
        return records(await self.call("POST", "timesheet_rejections.json", body))

    async def approve_expense_report(self, submission_id: str) -> dict[str, Any]:
        return first_record(await self.call("PUT", f"expense_report_submissions/{submission_id}/approve.json"))

    async def reject_expense_report(self, submission_id: str, comment: str | None = None) -> dict[str, Any]:
        body = {"comment": comment} if comment else None
        return first_record(await self.call("PUT", f"expense_report_submissions/{submission_id}/reject.json", body))

    # ---- client approver -------------------------------------------------------------------------------------
    async def accept_milestone(self, milestone_id: str) -> dict[str, Any]:
        return first_record(await self.call("PUT", f"billing_milestones/{milestone_id}/accept.json"))

    async def reject_milestone(self, milestone_id: str, reason: str | None = None) -> dict[str, Any]:
        body = {"reason": reason} if reason else None
        return first_record(await self.call("PUT", f"billing_milestones/{milestone_id}/reject.json", body))


# Admin endpoint `POST /__admin/psa/actors/{action}` runs these with `params` as keyword arguments.
ACTIONS = {
    name: getattr(Actor, name) for name in (
        "log_time", "submit_timesheet", "file_expense", "submit_expense_report", "approve_timesheet",
        "reject_timesheet", "approve_timesheets", "reject_timesheets", "approve_expense_report",
        "reject_expense_report", "accept_milestone", "reject_milestone")
}


async def run_action(sim: PsaSimulator, account: str, user_id: str | None, action: str,
                     params: dict[str, Any]) -> dict[str, Any]:
    """One action through the simulator's own ASGI app (the public API, in-process): {status, body}."""
    async with Actor.in_process(sim, account, user_id) as actor:
        try:
            result = await ACTIONS[action](actor, **params)
        except ActorError as exc:
            return {"status": exc.status, "errors": exc.errors}
        except TypeError as exc:  # wrong params for the action
            return {"status": 400, "errors": [{"type": "argument", "message": str(exc)}]}
        return {"status": 200, "body": result}
