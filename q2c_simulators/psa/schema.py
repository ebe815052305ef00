"""What the PSA serves, declared once: each Kantata resource's fields, filters, includes and capabilities
(`RESOURCES`), and a record's wire form (money as integer cents). The operations (responses.py), their request models
and the OpenAPI document are generated from these declarations, so the schema and the validation agree.
No HTTP and no state here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any

CENT = Decimal("0.01")
Record = dict[str, Any]


def cents_to_money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def money_to_cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value(rounding=ROUND_HALF_UP))


# ---- resource declarations --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldSpec:
    """One client-visible attribute. `kind`: str, text, int, bool, date, money, enum, ref, ids, rates."""

    kind: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    ref: str | None = None  # collection a `ref`/`ids` field points at
    writable: bool = True  # clients may set it (else read-only, computed by the rules)
    updatable: bool = True  # clients may change it with PUT
    ge: int | None = None
    le: int | None = None
    max_length: int = 255
    description: str = ""


@dataclass(frozen=True)
class Include:
    """A related object that `include=` side-loads: belongs-to through `fk` on the record, or has-many by `fk` on
    the related record (`many=True`). `subject=True`: external references pointing at the record."""

    target: str
    fk: str
    many: bool = False
    subject: bool = False


@dataclass
class ResourceType:
    key: str  # plural, the collection and the envelope key
    singular: str
    subject_type: str  # Kantata's class name, used by external references and events
    fields: dict[str, FieldSpec]
    filters: tuple[str, ...] = ()
    order_fields: tuple[str, ...] = ()
    includes: dict[str, Include] = field(default_factory=dict)
    optional_fields: tuple[str, ...] = ()
    creatable: bool = True
    updatable: bool = True
    deletable: bool = True
    bulk: bool = True
    indexes: tuple[str, ...] = ()
    description: str = ""

    @cached_property
    def store_keys(self) -> list[str]:
        return [name[: -len("_in_cents")] if f.kind == "money" else name for name, f in self.fields.items()]

    @cached_property
    def money(self) -> list[tuple[str, str]]:
        """(store key, wire key) of every money field."""
        return [(name[: -len("_in_cents")], name) for name, f in self.fields.items() if f.kind == "money"]


_EXT = Include("external_references", "subject_id", many=True, subject=True)
_CURRENCY = FieldSpec("str", max_length=3, description="ISO 4217 code, e.g. USD")
_USER_DEFAULT = FieldSpec("ref", ref="users", updatable=False,
                          description="defaults to the token's user; required with an account-level token")

RESOURCES: dict[str, ResourceType] = {}


def _resource(rt: ResourceType) -> ResourceType:
    RESOURCES[rt.key] = rt
    return rt


_resource(ResourceType(
    "roles", "role", "Role", {"name": FieldSpec("str", required=True)},
    order_fields=("name",), description="Roles people play on workspaces; rate card rates are per role."))
_resource(ResourceType(
    "users", "user", "User", {
        "full_name": FieldSpec("str", required=True),
        "email_address": FieldSpec("str", required=True),
        "headline": FieldSpec("str"),
        "role_id": FieldSpec("ref", ref="roles", description="default role"),
        "location": FieldSpec("str", description="home location, e.g. London"),
        "region": FieldSpec("str", description="home region used by regional rates, e.g. EMEA"),
        "legal_entity": FieldSpec("str", description="legal entity that employs the user"),
    },
    filters=("role_id", "region", "legal_entity", "email_address"), order_fields=("full_name",),
    includes={"role": Include("roles", "role_id"), "external_references": _EXT}, indexes=("email_address",)))
_resource(ResourceType(
    "rate_cards", "rate_card", "RateCard", {
        "title": FieldSpec("str", required=True),
        "currency": FieldSpec("str", default="USD", max_length=3, updatable=False),
    },
    order_fields=("title",), includes={"rate_card_versions": Include("rate_card_versions", "rate_card_id", many=True)}))
_resource(ResourceType(
    "rate_card_versions", "rate_card_version", "RateCardVersion", {
        "rate_card_id": FieldSpec("ref", ref="rate_cards", required=True, updatable=False),
        "effective_date": FieldSpec("date", required=True),
        "rates": FieldSpec("rates", required=True,
                           description="[{role_id, region, rate_in_cents}]: the most specific match wins"),
    },
    filters=("rate_card_id",), order_fields=("effective_date",), indexes=("rate_card_id",),
    includes={"rate_card": Include("rate_cards", "rate_card_id")},
    description="The version in force on a time entry's date_performed rates it."))
_resource(ResourceType(
    "workspaces", "workspace", "Workspace", {
        "title": FieldSpec("str", required=True),
        "description": FieldSpec("text"),
        "client_name": FieldSpec("str"),
        "currency": FieldSpec("str", default="USD", max_length=3),
        "budget_in_cents": FieldSpec("money", ge=0),
        "price_in_cents": FieldSpec("money", ge=0, description="contract value"),
        "billing_mode": FieldSpec("enum", default="time_and_materials",
                                  choices=("time_and_materials", "fixed_fee", "retainer")),
        "status": FieldSpec("enum", default="not_started",
                            choices=("estimate", "not_started", "in_progress", "on_hold", "completed", "cancelled")),
        "start_date": FieldSpec("date"),
        "due_date": FieldSpec("date"),
        "rate_card_id": FieldSpec("ref", ref="rate_cards"),
        "creator_id": FieldSpec("ref", ref="users", writable=False),
    },
    filters=("status", "billing_mode", "rate_card_id", "client_name"),
    order_fields=("title", "start_date", "due_date"),
    includes={"stories": Include("stories", "workspace_id", many=True),
              "participations": Include("participations", "workspace_id", many=True),
              "rate_card": Include("rate_cards", "rate_card_id"), "external_references": _EXT},
    optional_fields=("budget_used_in_cents", "logged_minutes")))
_resource(ResourceType(
    "stories", "story", "Story", {
        "title": FieldSpec("str", required=True),
        "workspace_id": FieldSpec("ref", ref="workspaces", required=True, updatable=False),
        "parent_id": FieldSpec("ref", ref="stories"),
        "story_type": FieldSpec("enum", default="task", choices=("task", "phase", "deliverable", "milestone", "issue")),
        "state": FieldSpec("enum", default="not started",
                           choices=("not started", "started", "needs feedback", "blocked", "completed")),
        "billable": FieldSpec("bool", default=True),
        "start_date": FieldSpec("date"),
        "due_date": FieldSpec("date"),
        "budget_estimate_in_cents": FieldSpec("money", ge=0),
    },
    filters=("workspace_id", "parent_id", "story_type", "state"), order_fields=("title", "due_date"),
    indexes=("workspace_id", "parent_id"),
    includes={"workspace": Include("workspaces", "workspace_id"), "parent": Include("stories", "parent_id"),
              "sub_stories": Include("stories", "parent_id", many=True),
              "assignments": Include("assignments", "story_id", many=True), "external_references": _EXT}))
_resource(ResourceType(
    "participations", "participation", "Participation", {
        "workspace_id": FieldSpec("ref", ref="workspaces", required=True, updatable=False),
        "user_id": FieldSpec("ref", ref="users", required=True, updatable=False),
        "role_id": FieldSpec("ref", ref="roles"),
    },
    filters=("workspace_id", "user_id", "role_id"), indexes=("workspace_id", "user_id"),
    includes={"user": Include("users", "user_id"), "workspace": Include("workspaces", "workspace_id"),
              "role": Include("roles", "role_id")}))
_resource(ResourceType(
    "assignments", "assignment", "Assignment", {
        "story_id": FieldSpec("ref", ref="stories", required=True, updatable=False),
        "assignee_id": FieldSpec("ref", ref="users", required=True, updatable=False),
        "role_id": FieldSpec("ref", ref="roles"),
        "allocation_in_minutes": FieldSpec("int", ge=0, le=10_000_000),
        "workspace_id": FieldSpec("ref", ref="workspaces", writable=False),
    },
    filters=("story_id", "assignee_id", "workspace_id"), indexes=("story_id",),
    includes={"story": Include("stories", "story_id"), "assignee": Include("users", "assignee_id")}))
_resource(ResourceType(
    "time_entries", "time_entry", "TimeEntry", {
        "workspace_id": FieldSpec("ref", ref="workspaces", required=True, updatable=False),
        "story_id": FieldSpec("ref", ref="stories"),
        "user_id": _USER_DEFAULT,
        "date_performed": FieldSpec("date", required=True),
        "time_in_minutes": FieldSpec("int", required=True, ge=1, le=1440),
        "billable": FieldSpec("bool", description="defaults to the story's billable flag (true without a story)"),
        "notes": FieldSpec("text"),
        "rate_in_cents": FieldSpec("money", ge=0, description="an explicit rate; otherwise the rate card's"),
        "role_id": FieldSpec("ref", ref="roles", writable=False),
        "currency": FieldSpec("str", writable=False),
        "rate_card_version_id": FieldSpec("ref", ref="rate_card_versions", writable=False),
        "approval_state": FieldSpec("enum", writable=False, choices=("unsubmitted", "submitted", "approved", "rejected")),
        "approved": FieldSpec("bool", writable=False),
        "timesheet_submission_id": FieldSpec("ref", ref="timesheet_submissions", writable=False),
        "is_invoiced": FieldSpec("bool", writable=False),
        "invoice_id": FieldSpec("ref", ref="invoices", writable=False),
    },
    filters=("workspace_id", "user_id", "story_id", "approval_state", "invoice_id", "date_performed"),
    order_fields=("date_performed",), indexes=("workspace_id", "user_id"),
    includes={"user": Include("users", "user_id"), "story": Include("stories", "story_id"),
              "workspace": Include("workspaces", "workspace_id"), "external_references": _EXT},
    optional_fields=("amount_in_cents",)))
_resource(ResourceType(
    "timesheet_submissions", "timesheet_submission", "TimesheetSubmission", {
        "user_id": _USER_DEFAULT,
        "workspace_id": FieldSpec("ref", ref="workspaces", description="limit the submission to one workspace"),
        "start_date": FieldSpec("date", required=True),
        "end_date": FieldSpec("date", required=True),
        "comment": FieldSpec("text"),
        "status": FieldSpec("enum", writable=False, choices=("pending", "approved", "rejected", "canceled")),
        "time_entry_ids": FieldSpec("ids", ref="time_entries", writable=False),
        "approver_id": FieldSpec("ref", ref="users", writable=False),
        "resolved_at": FieldSpec("str", writable=False),
        "resolution_comment": FieldSpec("text", writable=False),
    },
    filters=("user_id", "workspace_id", "status"), order_fields=("start_date",), updatable=False, deletable=False,
    bulk=False, includes={"user": Include("users", "user_id"), "time_entries": Include("time_entries", "time_entry_ids")}))
_resource(ResourceType(
    "expenses", "expense", "Expense", {
        "workspace_id": FieldSpec("ref", ref="workspaces", required=True, updatable=False),
        "user_id": _USER_DEFAULT,
        "date": FieldSpec("date", required=True),
        "category": FieldSpec("str", required=True),
        "amount_in_cents": FieldSpec("money", required=True, ge=1),
        "currency": FieldSpec("str", max_length=3, description="defaults to the workspace currency"),
        "billable": FieldSpec("bool", default=True),
        "notes": FieldSpec("text"),
        "approval_state": FieldSpec("enum", writable=False, choices=("unsubmitted", "submitted", "approved", "rejected")),
        "expense_report_submission_id": FieldSpec("ref", ref="expense_report_submissions", writable=False),
        "is_invoiced": FieldSpec("bool", writable=False),
        "invoice_id": FieldSpec("ref", ref="invoices", writable=False),
    },
    filters=("workspace_id", "user_id", "approval_state", "invoice_id", "category"), order_fields=("date",),
    indexes=("workspace_id",),
    includes={"user": Include("users", "user_id"), "workspace": Include("workspaces", "workspace_id"),
              "external_references": _EXT}))
_resource(ResourceType(
    "expense_report_submissions", "expense_report_submission", "ExpenseReportSubmission", {
        "workspace_id": FieldSpec("ref", ref="workspaces", required=True),
        "user_id": _USER_DEFAULT,
        "expense_ids": FieldSpec("ids", ref="expenses",
                                 description="expenses to submit; all of the user's unsubmitted ones when left out"),
        "comment": FieldSpec("text"),
        "status": FieldSpec("enum", writable=False, choices=("pending", "approved", "rejected", "canceled")),
        "approver_id": FieldSpec("ref", ref="users", writable=False),
        "resolved_at": FieldSpec("str", writable=False),
        "resolution_comment": FieldSpec("text", writable=False),
    },
    filters=("workspace_id", "user_id", "status"), updatable=False, deletable=False, bulk=False,
    includes={"expenses": Include("expenses", "expense_ids")}))
_resource(ResourceType(
    "billing_milestones", "billing_milestone", "BillingMilestone", {
        "workspace_id": FieldSpec("ref", ref="workspaces", required=True, updatable=False),
        "story_id": FieldSpec("ref", ref="stories"),
        "title": FieldSpec("str", required=True),
        "amount_in_cents": FieldSpec("money", required=True, ge=0),
        "due_date": FieldSpec("date"),
        "acceptance_state": FieldSpec("enum", writable=False, choices=("pending", "accepted", "rejected")),
        "accepted_at": FieldSpec("str", writable=False),
        "accepted_by_id": FieldSpec("ref", ref="users", writable=False),
        "rejection_reason": FieldSpec("text", writable=False),
        "is_invoiced": FieldSpec("bool", writable=False),
        "invoice_id": FieldSpec("ref", ref="invoices", writable=False),
    },
    filters=("workspace_id", "story_id", "acceptance_state"), order_fields=("due_date",), indexes=("workspace_id",),
    includes={"workspace": Include("workspaces", "workspace_id"), "story": Include("stories", "story_id"),
              "external_references": _EXT}))
_resource(ResourceType(
    "invoices", "invoice", "Invoice", {
        "workspace_id": FieldSpec("ref", ref="workspaces", required=True),
        "invoice_date": FieldSpec("date", description="defaults to today on the virtual clock"),
        "due_date": FieldSpec("date"),
        "status": FieldSpec("enum", writable=False, choices=("draft", "canceled")),
        "currency": FieldSpec("str", writable=False),
        "time_entry_ids": FieldSpec("ids", ref="time_entries", writable=False),
        "expense_ids": FieldSpec("ids", ref="expenses", writable=False),
        "billing_milestone_ids": FieldSpec("ids", ref="billing_milestones", writable=False),
        "line_items": FieldSpec("lines", writable=False),
        "subtotal_in_cents": FieldSpec("money", writable=False),
        "total_in_cents": FieldSpec("money", writable=False),
    },
    filters=("workspace_id", "status"), order_fields=("invoice_date",), updatable=False, deletable=False, bulk=False,
    indexes=("workspace_id",),
    includes={"workspace": Include("workspaces", "workspace_id"),
              "time_entries": Include("time_entries", "time_entry_ids"),
              "expenses": Include("expenses", "expense_ids"),
              "billing_milestones": Include("billing_milestones", "billing_milestone_ids"),
              "external_references": _EXT},
    description="Drafted from the workspace's approved, uninvoiced billable time, expenses and accepted milestones."))
_resource(ResourceType(
    "external_references", "external_reference", "ExternalReference", {
        "subject_type": FieldSpec("enum", required=True, updatable=False, choices=(
            "Workspace", "Story", "TimeEntry", "User", "Expense", "Invoice", "BillingMilestone", "RateCard",
            "Participation", "TimesheetSubmission", "ExpenseReportSubmission", "Role")),
        "subject_id": FieldSpec("ref", required=True, updatable=False),
        "service_name": FieldSpec("str", required=True, description="e.g. NetSuite, Salesforce"),
        "service_model": FieldSpec("str", required=True, description="e.g. salesOrder, Opportunity"),
        "service_model_ref": FieldSpec("str", required=True, description="the key in that system"),
        "status": FieldSpec("str", default="synced"),
        "locked": FieldSpec("bool", default=False),
    },
    filters=("subject_type", "subject_id", "service_name", "service_model", "service_model_ref"),
    indexes=("subject_id", "service_model_ref")))
_resource(ResourceType(
    "budget_change_orders", "budget_change_order", "BudgetChangeOrder", {
        "workspace_id": FieldSpec("ref", ref="workspaces", required=True),
        "new_budget_in_cents": FieldSpec("money", required=True, ge=0),
        "new_price_in_cents": FieldSpec("money", ge=0, description="new contract value, if it changes too"),
        "reason": FieldSpec("text"),
        "previous_budget_in_cents": FieldSpec("money", writable=False),
        "previous_price_in_cents": FieldSpec("money", writable=False),
    },
    filters=("workspace_id",), updatable=False, deletable=False, bulk=False, indexes=("workspace_id",),
    description="Changes a workspace's budget (and contract value); emits budget_change_order:created."))
_resource(ResourceType(
    "schedule_change_orders", "schedule_change_order", "ScheduleChangeOrder", {
        "workspace_id": FieldSpec("ref", ref="workspaces", required=True),
        "new_start_date": FieldSpec("date"),
        "new_due_date": FieldSpec("date"),
        "reason": FieldSpec("text"),
        "previous_start_date": FieldSpec("date", writable=False),
        "previous_due_date": FieldSpec("date", writable=False),
    },
    filters=("workspace_id",), updatable=False, deletable=False, bulk=False, indexes=("workspace_id",),
    description="Moves a workspace's dates; emits schedule_change_order:created."))

SUBJECT_TYPES = {rt.subject_type: rt.key for rt in RESOURCES.values()}


def _cents(value: Decimal | None) -> int | None:
    return None if value is None else money_to_cents(value)


def to_wire(rt: ResourceType, rec: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in rec.items() if k[0] != "_"}
    for store_key, wire_key in rt.money:
        if store_key in out:
            out[wire_key] = _cents(out.pop(store_key))
    if "rates" in out and rt.key == "rate_card_versions":
        out["rates"] = [{"role_id": r["role_id"], "region": r["region"], "rate_in_cents": _cents(r["rate"])}
                        for r in out["rates"]]
    if "line_items" in out:
        out["line_items"] = [{"kind": li["kind"], "subject_id": li["subject_id"], "description": li["description"],
                              "quantity": li["quantity"], "unit_price_in_cents": _cents(li["unit_price"]),
                              "amount_in_cents": _cents(li["amount"])} for li in out["line_items"]]
    return out
