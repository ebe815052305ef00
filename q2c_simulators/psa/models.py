"""The PSA backend: Kantata OX resources, their rules and their events. No HTTP here.

All persistent state lives in `self.store` (one per account), so the kernel's reset, snapshot and restore cover it.
Records are stored close to the wire shape: ids are strings, dates ISO strings (`YYYY-MM-DD`), timestamps ISO
strings from the virtual clock. Money is `Decimal` in major units (e.g. `Decimal("150.00")`) under a key without the
`_in_cents` suffix (`rate`, `amount`, `budget`); `responses.py` turns it into Kantata's integer cents on the wire.
Every write that changes a record appends a subscribed event (see `events.py`) in the same atomic block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from q2c_simulators.kernel import Store, VirtualClock

from . import events as ev
from .exceptions import Conflict, NotFound, ValidationFailed
from .schema import CENT, RESOURCES, SUBJECT_TYPES, Record, ResourceType, cents_to_money, money_to_cents

def _int_id(rec: Record) -> int:
    return int(rec["id"])


# ---- the backend ------------------------------------------------------------------------------------------------
class PsaBackend:
    """One Kantata account's data and rules."""

    def __init__(self, tenant_id: str, clock: VirtualClock,
                 on_event: Callable[[str, Record], None] | None = None) -> None:
        self.tenant_id = tenant_id
        self.clock = clock
        self.store = Store()
        self.on_event = on_event  # the simulator's hook (webhook queueing); called inside the atomic block
        for rt in RESOURCES.values():
            for f in rt.indexes:
                self.store.add_index(rt.key, f)

    # -- helpers -------------------------------------------------------------------------------------------------
    def now_iso(self) -> str:
        return self.clock.now().isoformat(timespec="microseconds")

    def today(self) -> str:
        return self.clock.now().date().isoformat()

    def get(self, key: str, rid: str) -> Record:
        rec = self.store.get(key, rid)
        if rec is None:
            raise NotFound(f"{RESOURCES[key].singular} {rid} not found" if key in RESOURCES else f"{key} {rid} not found")
        return rec

    def _ref(self, key: str, rid: str | None, field_name: str) -> Record | None:
        if rid is None:
            return None
        rec = self.store.get(key, rid)
        if rec is None:
            raise ValidationFailed(f"{field_name} {rid} does not exist", field_name)
        return rec

    def _user_of(self, attrs: Record, actor: str | None, field_name: str = "user_id") -> str:
        uid = attrs.get(field_name) or actor
        if uid is None:
            raise ValidationFailed(f"{field_name} is required with an account-level token", field_name)
        self._ref("users", uid, field_name)
        return uid

    def _emit(self, rt: ResourceType, action: str, before: Record | None, after: Record | None) -> Record:
        event = ev.record_event(self.store, rt, action, before, after, self.now_iso())
        if self.on_event is not None:
            self.on_event(self.tenant_id, event)
        return event

    def _insert(self, rt: ResourceType, rec: Record) -> Record:
        rid = str(self.store.next_id(rt.key))
        now = self.now_iso()
        for store_key in rt.store_keys:  # every declared attribute is present on the wire, null when unset
            rec.setdefault(store_key, None)
        rec = {"id": rid, **rec, "created_at": now, "updated_at": now}
        self.store.put(rt.key, rid, rec)
        self._emit(rt, "created", None, rec)
        return rec

    def _save(self, rt: ResourceType, before: Record, changes: Record, action: str = "updated") -> Record:
        after = {**before, **changes, "updated_at": self.now_iso()}
        self.store.put(rt.key, before["id"], after)
        self._emit(rt, action, before, after)
        return after

    # -- generic CRUD --------------------------------------------------------------------------------------------
    def create(self, key: str, attrs: Record, actor: str | None = None) -> Record:
        rt = RESOURCES[key]
        with self.store.atomic():
            attrs = {k: v for k, v in attrs.items() if k in rt.fields and rt.fields[k].writable}
            for name, f in rt.fields.items():
                if name not in attrs or attrs[name] is None:
                    if f.default is not None:
                        attrs[name] = f.default
            self._check_refs(rt, attrs)
            hook = getattr(self, f"_create_{rt.singular}", None)
            if hook is not None:
                return hook(rt, attrs, actor)
            return self._insert(rt, self._store_form(rt, attrs))

    def create_many(self, key: str, items: list[Record], actor: str | None = None) -> list[Record]:
        """Bulk create: all or nothing; errors name the item (`time_entries[3].story_id`)."""
        created = []
        with self.store.atomic():
            for i, attrs in enumerate(items):
                try:
                    created.append(self.create(key, attrs, actor))
                except ValidationFailed as exc:
                    field_name = f"{key}[{i}]" + (f".{exc.field}" if exc.field else "")
                    raise ValidationFailed(f"{key}[{i}]: {exc.message}", field_name) from None
        return created

    def update(self, key: str, rid: str, attrs: Record, actor: str | None = None) -> Record:
        rt = RESOURCES[key]
        with self.store.atomic():
            before = self.get(key, rid)
            attrs = {k: v for k, v in attrs.items()
                     if k in rt.fields and rt.fields[k].writable and rt.fields[k].updatable}
            self._check_refs(rt, attrs)
            hook = getattr(self, f"_update_{rt.singular}", None)
            changes = self._store_form(rt, attrs)
            if hook is not None:
                changes = hook(rt, before, changes, actor)
            return self._save(rt, before, changes)

    def delete(self, key: str, rid: str, actor: str | None = None) -> None:
        rt = RESOURCES[key]
        with self.store.atomic():
            rec = self.get(key, rid)
            hook = getattr(self, f"_delete_{rt.singular}", None)
            if hook is not None:
                hook(rec)
            self._check_unreferenced(rt, rid)
            self.store.delete(key, rid)
            self._emit(rt, "deleted", rec, None)

    def _check_unreferenced(self, rt: ResourceType, rid: str) -> None:
        """Referential integrity: a record other records point at cannot be deleted (409)."""
        for other in RESOURCES.values():
            for name, f in other.fields.items():
                if f.ref != rt.key or not self.store.count(other.key):
                    continue
                if f.kind == "ref" and self.store.find(other.key, name, rid):
                    raise Conflict(f"{rt.singular} {rid} is used by {other.key}.{name}")
                if f.kind == "ids" and any(rid in (r.get(name) or ()) for r in self.store.records(other.key)):
                    raise Conflict(f"{rt.singular} {rid} is used by {other.key}.{name}")
        if rt.key == "roles":
            for card in self.store.records("rate_card_versions"):
                if any(r["role_id"] == rid for r in card["rates"]):
                    raise Conflict(f"role {rid} is used by rate_card_versions.rates")
        if self.store.count("external_references"):
            for r in self.store.find("external_references", "subject_id", rid):
                if r["subject_type"] == rt.subject_type:
                    raise Conflict(f"{rt.singular} {rid} has external references; delete them first")

    def _check_refs(self, rt: ResourceType, attrs: Record) -> None:
        for name, value in attrs.items():
            f = rt.fields[name]
            if f.kind == "ref" and f.ref and value is not None:
                self._ref(f.ref, value, name)
            elif f.kind == "ids" and f.ref and value:
                for v in value:
                    self._ref(f.ref, v, name)

    @staticmethod
    def _store_form(rt: ResourceType, attrs: Record) -> Record:
        """Wire-typed input (cents) -> stored form (Decimal money under the key without `_in_cents`)."""
        out = {}
        for name, value in attrs.items():
            f = rt.fields[name]
            if f.kind == "money":
                out[name[: -len("_in_cents")]] = None if value is None else cents_to_money(value)
            elif f.kind == "rates":
                out[name] = [{"role_id": r.get("role_id"), "region": r.get("region"),
                              "rate": cents_to_money(r["rate_in_cents"])} for r in value]
            else:
                out[name] = value
        return out

    # -- queries -------------------------------------------------------------------------------------------------
    def query(self, key: str, filters: dict[str, Any], *, only: list[str] | None = None,
              updated_after: str | None = None, created_after: str | None = None,
              date_between: tuple[str, str] | None = None) -> list[Record]:
        rt = RESOURCES[key]
        store = self.store
        indexed = None
        if only is not None:
            rows = [r for r in (store.get(key, i) for i in dict.fromkeys(only)) if r is not None]
        else:
            indexed = next((f for f in filters if f in rt.indexes), None)
            if indexed is not None:
                rows = store.find(key, indexed, filters[indexed])
                rows.sort(key=_int_id)
            else:
                rows = store.records(key)  # insertion order is id order
        rest = [(f, v) for f, v in filters.items() if f != indexed]
        if rest:
            rows = [r for r in rows if all(r.get(f) == v for f, v in rest)]
        if updated_after is not None:
            rows = [r for r in rows if r["updated_at"] > updated_after]
        if created_after is not None:
            rows = [r for r in rows if r["created_at"] > created_after]
        if date_between is not None:
            lo, hi = date_between
            rows = [r for r in rows if lo <= r["date_performed"] <= hi]
        return rows

    def optional_field(self, key: str, rec: Record, name: str) -> Any:
        if key == "workspaces" and name == "budget_used_in_cents":
            used = sum((self._time_amount(t) for t in self.store.find("time_entries", "workspace_id", rec["id"])
                        if t["billable"] and t["approval_state"] == "approved"), Decimal(0))
            used += sum((e["amount"] for e in self.store.find("expenses", "workspace_id", rec["id"])
                         if e["billable"] and e["approval_state"] == "approved"), Decimal(0))
            return money_to_cents(used)
        if key == "workspaces" and name == "logged_minutes":
            return sum(t["time_in_minutes"] for t in self.store.find("time_entries", "workspace_id", rec["id"]))
        if key == "time_entries" and name == "amount_in_cents":
            return money_to_cents(self._time_amount(rec))
        return None

    # -- workspaces, stories, participations -----------------------------------------------------------------------
    def _create_workspace(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        attrs["creator_id"] = actor
        self._check_dates(attrs, "start_date", "due_date")
        return self._insert(rt, self._store_form(rt, attrs))

    def _update_workspace(self, rt: ResourceType, before: Record, changes: Record, actor: str | None) -> Record:
        self._check_dates({**before, **changes}, "start_date", "due_date")
        return changes

    def _delete_workspace(self, rec: Record) -> None:
        for child in ("time_entries", "expenses", "invoices", "billing_milestones"):
            if self.store.find(child, "workspace_id", rec["id"]):
                raise Conflict(f"workspace {rec['id']} has {child}; it cannot be deleted")
        for key in ("stories", "participations"):
            for r in self.store.find(key, "workspace_id", rec["id"]):
                self.store.delete(key, r["id"])

    @staticmethod
    def _check_dates(rec: Record, start: str, end: str) -> None:
        if rec.get(start) and rec.get(end) and rec[end] < rec[start]:
            raise ValidationFailed(f"{end} must not be before {start}", end)

    def _create_story(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        self._check_parent(attrs.get("parent_id"), attrs["workspace_id"], None)
        self._check_dates(attrs, "start_date", "due_date")
        return self._insert(rt, self._store_form(rt, attrs))

    def _update_story(self, rt: ResourceType, before: Record, changes: Record, actor: str | None) -> Record:
        if "parent_id" in changes:
            self._check_parent(changes["parent_id"], before["workspace_id"], before["id"])
        self._check_dates({**before, **changes}, "start_date", "due_date")
        return changes

    def _check_parent(self, parent_id: str | None, workspace_id: str, story_id: str | None) -> None:
        seen = set()
        while parent_id is not None:
            parent = self._ref("stories", parent_id, "parent_id")
            if parent["workspace_id"] != workspace_id:
                raise ValidationFailed("parent_id must be a story of the same workspace", "parent_id")
            if parent_id == story_id or parent_id in seen:
                raise ValidationFailed("parent_id would make a cycle", "parent_id")
            seen.add(parent_id)
            parent_id = parent.get("parent_id")

    def _delete_story(self, rec: Record) -> None:
        if self.store.find("stories", "parent_id", rec["id"]):
            raise Conflict(f"story {rec['id']} has sub-stories; delete them first")
        if any(t.get("story_id") == rec["id"] for t in self.store.find("time_entries", "workspace_id", rec["workspace_id"])):
            raise Conflict(f"story {rec['id']} has time entries")

    def _create_participation(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        if any(p["user_id"] == attrs["user_id"] for p in self.store.find("participations", "workspace_id", attrs["workspace_id"])):
            raise ValidationFailed("user already participates in this workspace", "user_id")
        if attrs.get("role_id") is None:
            attrs["role_id"] = self.store.get("users", attrs["user_id"]).get("role_id")
        return self._insert(rt, attrs)

    def _create_assignment(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        attrs["workspace_id"] = self.store.get("stories", attrs["story_id"])["workspace_id"]
        return self._insert(rt, attrs)

    def _create_rate_card_version(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        if any(v["effective_date"] == attrs["effective_date"]
               for v in self.store.find("rate_card_versions", "rate_card_id", attrs["rate_card_id"])):
            raise ValidationFailed("a version with this effective_date already exists", "effective_date")
        for i, r in enumerate(attrs["rates"]):
            if r.get("role_id") is not None:
                self._ref("roles", r["role_id"], f"rates[{i}].role_id")
        return self._insert(rt, self._store_form(rt, attrs))

    def _create_external_reference(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        target = SUBJECT_TYPES[attrs["subject_type"]]
        self._ref(target, attrs["subject_id"], "subject_id")
        for r in self.store.find("external_references", "subject_id", attrs["subject_id"]):
            if (r["subject_type"], r["service_name"], r["service_model"]) == (
                    attrs["subject_type"], attrs["service_name"], attrs["service_model"]):
                raise ValidationFailed("this object already has a reference for that service and model",
                                       "service_model")
        return self._insert(rt, attrs)

    def _create_budget_change_order(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        ws = self.store.get("workspaces", attrs["workspace_id"])
        rec = self._store_form(rt, attrs)
        rec["previous_budget"], rec["previous_price"] = ws.get("budget"), ws.get("price")
        change = {"budget": rec["new_budget"]}
        if rec.get("new_price") is not None:
            change["price"] = rec["new_price"]
        order = self._insert(rt, rec)
        self._save(RESOURCES["workspaces"], ws, change)
        return order

    def _create_schedule_change_order(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        ws = self.store.get("workspaces", attrs["workspace_id"])
        if attrs.get("new_start_date") is None and attrs.get("new_due_date") is None:
            raise ValidationFailed("name new_start_date or new_due_date", "new_due_date")
        change = {k: attrs[f"new_{k}"] for k in ("start_date", "due_date") if attrs.get(f"new_{k}") is not None}
        self._check_dates({**ws, **change}, "start_date", "due_date")
        rec = {**attrs, "previous_start_date": ws.get("start_date"), "previous_due_date": ws.get("due_date")}
        order = self._insert(rt, rec)
        self._save(RESOURCES["workspaces"], ws, change)
        return order

    # -- rating ----------------------------------------------------------------------------------------------------
    def rate_for(self, workspace: Record, user: Record, role_id: str | None, on: str) -> tuple[Decimal | None, str | None]:
        """(rate, rate card version id) in force on `on` for this role and the user's region.

        The version with the latest effective_date on or before `on` applies. Within it, the most specific rate wins:
        role and region, then role only, then region only, then the card's default (neither)."""
        card_id = workspace.get("rate_card_id")
        if card_id is None:
            return None, None
        versions = [v for v in self.store.find("rate_card_versions", "rate_card_id", card_id) if v["effective_date"] <= on]
        if not versions:
            return None, None
        version = max(versions, key=lambda v: v["effective_date"])
        region = user.get("region")
        best, best_score = None, -1
        for r in version["rates"]:
            if r["role_id"] is not None and r["role_id"] != role_id:
                continue
            if r["region"] is not None and r["region"] != region:
                continue
            score = (2 if r["role_id"] is not None else 0) + (1 if r["region"] is not None else 0)
            if score > best_score:
                best, best_score = r, score
        return (best["rate"] if best else None), version["id"]

    @staticmethod
    def _time_amount(entry: Record) -> Decimal:
        rate = entry.get("rate") or Decimal(0)
        return (rate * Decimal(entry["time_in_minutes"]) / 60).quantize(CENT, rounding=ROUND_HALF_UP)

    def _rate_entry(self, entry: Record) -> Record:
        """Fill role, currency and (unless set explicitly) the rate card rate of a time entry."""
        ws = self.store.get("workspaces", entry["workspace_id"])
        user = self.store.get("users", entry["user_id"])
        part = next((p for p in self.store.find("participations", "workspace_id", ws["id"])
                     if p["user_id"] == entry["user_id"]), None)
        role_id = (part or {}).get("role_id") or user.get("role_id")
        entry["role_id"] = role_id
        entry["currency"] = ws.get("currency")
        if entry.get("_rate_source") != "explicit":
            rate, version_id = self.rate_for(ws, user, role_id, entry["date_performed"])
            entry["rate"], entry["rate_card_version_id"], entry["_rate_source"] = rate, version_id, "rate_card"
        return entry

    # -- time entries --------------------------------------------------------------------------------------------
    def _check_story_in(self, story_id: str | None, workspace_id: str) -> Record | None:
        if story_id is None:
            return None
        story = self.store.get("stories", story_id)
        if story["workspace_id"] != workspace_id:
            raise ValidationFailed("story_id must be a story of the workspace", "story_id")
        return story

    def _create_time_entry(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        attrs["user_id"] = self._user_of(attrs, actor)
        story = self._check_story_in(attrs.get("story_id"), attrs["workspace_id"])
        if attrs.get("billable") is None:
            attrs["billable"] = story["billable"] if story else True
        rec = self._store_form(rt, attrs)
        rec.update(approval_state="unsubmitted", approved=False, timesheet_submission_id=None, is_invoiced=False,
                   invoice_id=None, _rate_source="explicit" if rec.get("rate") is not None else "rate_card")
        return self._insert(rt, self._rate_entry(rec))

    def _update_time_entry(self, rt: ResourceType, before: Record, changes: Record, actor: str | None) -> Record:
        if before["approval_state"] in ("submitted", "approved"):
            raise Conflict(f"time entry {before['id']} is {before['approval_state']} and locked")
        if "story_id" in changes:
            self._check_story_in(changes["story_id"], before["workspace_id"])
        merged = {**before, **changes}
        if "rate" in changes:
            merged["_rate_source"] = "explicit" if changes["rate"] is not None else "rate_card"
        if before["approval_state"] == "rejected":
            merged["approval_state"] = "unsubmitted"
        merged = self._rate_entry(merged)
        return {k: v for k, v in merged.items() if before.get(k, object()) != v}

    def _delete_time_entry(self, rec: Record) -> None:
        if rec["approval_state"] in ("submitted", "approved") or rec["is_invoiced"]:
            raise Conflict(f"time entry {rec['id']} is {rec['approval_state']} and locked")

    # -- timesheets ----------------------------------------------------------------------------------------------
    def _create_timesheet_submission(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        user_id = self._user_of(attrs, actor)
        self._check_dates(attrs, "start_date", "end_date")
        entries = [t for t in self.store.find("time_entries", "user_id", user_id)
                   if attrs["start_date"] <= t["date_performed"] <= attrs["end_date"]
                   and t["approval_state"] in ("unsubmitted", "rejected")
                   and (attrs.get("workspace_id") is None or t["workspace_id"] == attrs["workspace_id"])]
        if not entries:
            raise ValidationFailed("no unsubmitted time entries in this period", "start_date")
        entries.sort(key=_int_id)
        sub = self._insert(rt, {**attrs, "user_id": user_id, "status": "pending",
                                "time_entry_ids": [t["id"] for t in entries], "approver_id": None,
                                "resolved_at": None, "resolution_comment": None})
        te = RESOURCES["time_entries"]
        for t in entries:
            self._save(te, t, {"approval_state": "submitted", "timesheet_submission_id": sub["id"]})
        return sub

    def resolve_timesheet(self, rid: str, action: str, actor: str | None, comment: str | None = None) -> Record:
        """approve | reject | cancel a pending timesheet submission (its entries follow)."""
        rt = RESOURCES["timesheet_submissions"]
        with self.store.atomic():
            sub = self.get(rt.key, rid)
            if sub["status"] != "pending":
                raise Conflict(f"timesheet submission {rid} is {sub['status']}, not pending")
            status = {"approve": "approved", "reject": "rejected", "cancel": "canceled"}[action]
            entry_state = {"approve": "approved", "reject": "rejected", "cancel": "unsubmitted"}[action]
            te = RESOURCES["time_entries"]
            for tid in sub["time_entry_ids"]:
                t = self.store.get(te.key, tid)
                if t is not None:
                    self._save(te, t, {"approval_state": entry_state, "approved": action == "approve",
                                       "timesheet_submission_id": None if action == "cancel" else rid})
            return self._save(rt, sub, {"status": status, "approver_id": actor, "resolved_at": self.now_iso(),
                                        "resolution_comment": comment}, action=status)

    def resolve_timesheets(self, ids: list[str], action: str, actor: str | None, comment: str | None = None) -> list[Record]:
        with self.store.atomic():
            return [self.resolve_timesheet(i, action, actor, comment) for i in ids]

    # -- expenses ------------------------------------------------------------------------------------------------
    def _create_expense(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        attrs["user_id"] = self._user_of(attrs, actor)
        if attrs.get("currency") is None:
            attrs["currency"] = self.store.get("workspaces", attrs["workspace_id"]).get("currency")
        rec = self._store_form(rt, attrs)
        rec.update(approval_state="unsubmitted", expense_report_submission_id=None, is_invoiced=False, invoice_id=None)
        return self._insert(rt, rec)

    def _update_expense(self, rt: ResourceType, before: Record, changes: Record, actor: str | None) -> Record:
        if before["approval_state"] in ("submitted", "approved"):
            raise Conflict(f"expense {before['id']} is {before['approval_state']} and locked")
        if before["approval_state"] == "rejected":
            changes["approval_state"] = "unsubmitted"
        return changes

    def _delete_expense(self, rec: Record) -> None:
        if rec["approval_state"] in ("submitted", "approved"):
            raise Conflict(f"expense {rec['id']} is {rec['approval_state']} and locked")

    def _create_expense_report_submission(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        user_id = self._user_of(attrs, actor)
        ws = attrs["workspace_id"]
        if attrs.get("expense_ids"):
            expenses = [self.store.get("expenses", i) for i in dict.fromkeys(attrs["expense_ids"])]
            for e in expenses:
                if e["workspace_id"] != ws or e["user_id"] != user_id:
                    raise ValidationFailed(f"expense {e['id']} is not this user's in this workspace", "expense_ids")
                if e["approval_state"] not in ("unsubmitted", "rejected"):
                    raise ValidationFailed(f"expense {e['id']} is already {e['approval_state']}", "expense_ids")
        else:
            expenses = [e for e in self.store.find("expenses", "workspace_id", ws)
                        if e["user_id"] == user_id and e["approval_state"] in ("unsubmitted", "rejected")]
        if not expenses:
            raise ValidationFailed("no unsubmitted expenses to submit", "expense_ids")
        expenses.sort(key=_int_id)
        sub = self._insert(rt, {**attrs, "user_id": user_id, "expense_ids": [e["id"] for e in expenses],
                                "status": "pending", "approver_id": None, "resolved_at": None,
                                "resolution_comment": None})
        ex = RESOURCES["expenses"]
        for e in expenses:
            self._save(ex, e, {"approval_state": "submitted", "expense_report_submission_id": sub["id"]}, "submitted")
        return sub

    def resolve_expense_report(self, rid: str, action: str, actor: str | None, comment: str | None = None) -> Record:
        rt = RESOURCES["expense_report_submissions"]
        with self.store.atomic():
            sub = self.get(rt.key, rid)
            if sub["status"] != "pending":
                raise Conflict(f"expense report submission {rid} is {sub['status']}, not pending")
            status = {"approve": "approved", "reject": "rejected"}[action]
            ex = RESOURCES["expenses"]
            for eid in sub["expense_ids"]:
                e = self.store.get(ex.key, eid)
                if e is not None:
                    self._save(ex, e, {"approval_state": status}, action=status)
            return self._save(rt, sub, {"status": status, "approver_id": actor, "resolved_at": self.now_iso(),
                                        "resolution_comment": comment}, action=status)

    # -- billing milestones --------------------------------------------------------------------------------------
    def _create_billing_milestone(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        self._check_story_in(attrs.get("story_id"), attrs["workspace_id"])
        rec = self._store_form(rt, attrs)
        rec.update(acceptance_state="pending", accepted_at=None, accepted_by_id=None, rejection_reason=None,
                   is_invoiced=False, invoice_id=None)
        return self._insert(rt, rec)

    def _update_billing_milestone(self, rt: ResourceType, before: Record, changes: Record, actor: str | None) -> Record:
        if before["is_invoiced"]:
            raise Conflict(f"billing milestone {before['id']} is invoiced and locked")
        if "story_id" in changes:
            self._check_story_in(changes["story_id"], before["workspace_id"])
        return changes

    def _delete_billing_milestone(self, rec: Record) -> None:
        if rec["is_invoiced"]:
            raise Conflict(f"billing milestone {rec['id']} is invoiced")

    def resolve_milestone(self, rid: str, action: str, actor: str | None, reason: str | None = None) -> Record:
        rt = RESOURCES["billing_milestones"]
        with self.store.atomic():
            ms = self.get(rt.key, rid)
            if ms["is_invoiced"]:
                raise Conflict(f"billing milestone {rid} is invoiced")
            if action == "accept":
                if ms["acceptance_state"] == "accepted":
                    raise Conflict(f"billing milestone {rid} is already accepted")
                change = {"acceptance_state": "accepted", "accepted_at": self.now_iso(), "accepted_by_id": actor,
                          "rejection_reason": None}
                return self._save(rt, ms, change, "accepted")
            if ms["acceptance_state"] != "pending":
                raise Conflict(f"billing milestone {rid} is {ms['acceptance_state']}, not pending")
            return self._save(rt, ms, {"acceptance_state": "rejected", "rejection_reason": reason}, "rejected")

    # -- invoices ------------------------------------------------------------------------------------------------
    def _create_invoice(self, rt: ResourceType, attrs: Record, actor: str | None) -> Record:
        """Draft from the workspace's approved uninvoiced billable time (unless fixed fee), approved billable
        expenses and accepted milestones. One line per item; amounts are Decimal, rounded half up to the cent."""
        ws = self.store.get("workspaces", attrs["workspace_id"])
        invoice_date = attrs.get("invoice_date") or self.today()
        time_entries = [] if ws["billing_mode"] == "fixed_fee" else [
            t for t in self.store.find("time_entries", "workspace_id", ws["id"])
            if t["approval_state"] == "approved" and t["billable"] and not t["is_invoiced"]
            and t["date_performed"] <= invoice_date]
        expenses = [e for e in self.store.find("expenses", "workspace_id", ws["id"])
                    if e["approval_state"] == "approved" and e["billable"] and not e["is_invoiced"]]
        milestones = [m for m in self.store.find("billing_milestones", "workspace_id", ws["id"])
                      if m["acceptance_state"] == "accepted" and not m["is_invoiced"]]
        if not (time_entries or expenses or milestones):
            raise ValidationFailed("nothing approved and uninvoiced to bill in this workspace", "workspace_id")
        for group in (time_entries, expenses, milestones):
            group.sort(key=_int_id)
        lines = []
        for t in time_entries:
            hours = (Decimal(t["time_in_minutes"]) / 60).quantize(Decimal("0.0001"))
            lines.append({"kind": "time_entry", "subject_id": t["id"], "description": t.get("notes") or "Time",
                          "quantity": str(hours), "unit_price": t.get("rate") or Decimal(0),
                          "amount": self._time_amount(t)})
        for e in expenses:
            lines.append({"kind": "expense", "subject_id": e["id"], "description": e["category"], "quantity": "1",
                          "unit_price": e["amount"], "amount": e["amount"]})
        for m in milestones:
            lines.append({"kind": "billing_milestone", "subject_id": m["id"], "description": m["title"],
                          "quantity": "1", "unit_price": m["amount"], "amount": m["amount"]})
        subtotal = sum((line["amount"] for line in lines), Decimal(0))
        invoice = self._insert(rt, {
            "workspace_id": ws["id"], "invoice_date": invoice_date, "due_date": attrs.get("due_date"),
            "status": "draft", "currency": ws.get("currency"),
            "time_entry_ids": [t["id"] for t in time_entries], "expense_ids": [e["id"] for e in expenses],
            "billing_milestone_ids": [m["id"] for m in milestones], "line_items": lines,
            "subtotal": subtotal, "total": subtotal})
        for key, group in (("time_entries", time_entries), ("expenses", expenses), ("billing_milestones", milestones)):
            for rec in group:
                self._save(RESOURCES[key], rec, {"is_invoiced": True, "invoice_id": invoice["id"]})
        return invoice

    def cancel_invoice(self, rid: str, actor: str | None) -> Record:
        rt = RESOURCES["invoices"]
        with self.store.atomic():
            inv = self.get(rt.key, rid)
            if inv["status"] == "canceled":
                raise Conflict(f"invoice {rid} is already canceled")
            for key, ids in (("time_entries", inv["time_entry_ids"]), ("expenses", inv["expense_ids"]),
                             ("billing_milestones", inv["billing_milestone_ids"])):
                for i in ids:
                    rec = self.store.get(key, i)
                    if rec is not None and rec.get("invoice_id") == rid:
                        self._save(RESOURCES[key], rec, {"is_invoiced": False, "invoice_id": None})
            return self._save(rt, inv, {"status": "canceled"}, "canceled")

    # -- events --------------------------------------------------------------------------------------------------
    def events(self, *, created_after: str | None = None, since_id: int | None = None,
               event_types: Iterable[str] | None = None) -> list[Record]:
        ev.prune(self.store, self.clock.now() - timedelta(days=ev.RETENTION_DAYS))
        return ev.select(self.store, created_after=created_after, since_id=since_id, event_types=event_types)


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def valid_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10
