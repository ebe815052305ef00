"""After the burst: the runner finishes what the Locust users did not reach, through the PSA API (so the checks
always cover the whole plan): batches never logged are logged and submitted; every submitted timesheet is approved."""

from __future__ import annotations

from typing import Any


def minutes_for(batch_id: int, i: int) -> int:  # the same as q2c_harness/load/locustfiles/month_end.py
    return 15 * (2 + (batch_id * 7 + i * 13) % 30)


def complete_plan(core: Any, plan: dict[str, Any], done: set[int]) -> dict[str, int]:
    psa = core.vendors.psa

    async def go() -> dict[str, int]:
        logged = 0
        missing = [b for b in plan["batches"] if b["id"] not in done]
        for b in missing:
            days = plan["days"][str(b["half"])]
            await psa.create_many("time_entries", [{
                "workspace_id": int(b["workspace_id"]), "user_id": int(b["user"]), "date_performed": days[i % len(days)],
                "time_in_minutes": minutes_for(b["id"], i), "notes": f"load batch {b['id']} #{i}"}
                for i in range(b["count"])])
            logged += b["count"]
        # every consultant x workspace x half with unsubmitted entries: submit (422 when nothing is left)
        unsubmitted = {(str(e["user_id"]), str(e["workspace_id"]), e["date_performed"])
                       async for e in psa.list("time_entries", filters={"approval_state": "unsubmitted"})}
        from q2c_harness.load.world import HALVES

        submitted = 0
        for user, ws, half in sorted({(u, w, next(i for i, (s, e) in enumerate(HALVES) if s <= d <= e))
                                      for u, w, d in unsubmitted}):
            await psa.create("timesheet_submissions", {"user_id": int(user), "workspace_id": int(ws),
                                                       "start_date": HALVES[half][0], "end_date": HALVES[half][1]})
            submitted += 1
        pending = sorted({str(e["timesheet_submission_id"])
                          async for e in psa.list("time_entries", filters={"approval_state": "submitted"})
                          if e.get("timesheet_submission_id")})
        for lo in range(0, len(pending), 100):
            await psa.approve_timesheets(pending[lo:lo + 100])
        return {"batches_logged": len(missing), "entries_logged": logged, "timesheets_submitted": submitted,
                "timesheets_approved": len(pending)}

    return core.vendors.run(go())
