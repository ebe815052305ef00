"""The Kantata OX API v1 surface: (method, path, operation). Every path answers with or without `.json`
(`{fmt:psa_json}`): Kantata clients send `/workspaces.json`, others `/workspaces`. Each resource's rows follow its
declaration in schema.py (list, get, create, update, delete as it allows); the actions, the current user and the
event feed come last. `{id:int}` before `users/me`: `me` is no id."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from q2c_simulators.kernel import Url


class _JsonSuffix(Convertor):
    """Matches an optional `.json` suffix."""

    regex = r"(?:\.json)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("psa_json", _JsonSuffix())
J = "{fmt:psa_json}"
V1 = "/api/v1"

URLS: list[Url] = [
    ("GET", f"{V1}/roles{J}", "list_roles"),
    ("GET", f"{V1}/roles/{{id:int}}{J}", "get_role"),
    ("POST", f"{V1}/roles{J}", "create_roles"),
    ("PUT", f"{V1}/roles/{{id:int}}{J}", "update_role"),
    ("DELETE", f"{V1}/roles/{{id:int}}{J}", "delete_role"),
    ("GET", f"{V1}/users{J}", "list_users"),
    ("GET", f"{V1}/users/{{id:int}}{J}", "get_user"),
    ("POST", f"{V1}/users{J}", "create_users"),
    ("PUT", f"{V1}/users/{{id:int}}{J}", "update_user"),
    ("DELETE", f"{V1}/users/{{id:int}}{J}", "delete_user"),
    ("GET", f"{V1}/rate_cards{J}", "list_rate_cards"),
    ("GET", f"{V1}/rate_cards/{{id:int}}{J}", "get_rate_card"),
    ("POST", f"{V1}/rate_cards{J}", "create_rate_cards"),
    ("PUT", f"{V1}/rate_cards/{{id:int}}{J}", "update_rate_card"),
    ("DELETE", f"{V1}/rate_cards/{{id:int}}{J}", "delete_rate_card"),
    ("GET", f"{V1}/rate_card_versions{J}", "list_rate_card_versions"),
    ("GET", f"{V1}/rate_card_versions/{{id:int}}{J}", "get_rate_card_version"),
    ("POST", f"{V1}/rate_card_versions{J}", "create_rate_card_versions"),
    ("PUT", f"{V1}/rate_card_versions/{{id:int}}{J}", "update_rate_card_version"),
    ("DELETE", f"{V1}/rate_card_versions/{{id:int}}{J}", "delete_rate_card_version"),
    ("GET", f"{V1}/workspaces{J}", "list_workspaces"),
    ("GET", f"{V1}/workspaces/{{id:int}}{J}", "get_workspace"),
    ("POST", f"{V1}/workspaces{J}", "create_workspaces"),
    ("PUT", f"{V1}/workspaces/{{id:int}}{J}", "update_workspace"),
    ("DELETE", f"{V1}/workspaces/{{id:int}}{J}", "delete_workspace"),
    ("GET", f"{V1}/stories{J}", "list_stories"),
    ("GET", f"{V1}/stories/{{id:int}}{J}", "get_story"),
    ("POST", f"{V1}/stories{J}", "create_stories"),
    ("PUT", f"{V1}/stories/{{id:int}}{J}", "update_story"),
    ("DELETE", f"{V1}/stories/{{id:int}}{J}", "delete_story"),
    ("GET", f"{V1}/participations{J}", "list_participations"),
    ("GET", f"{V1}/participations/{{id:int}}{J}", "get_participation"),
    ("POST", f"{V1}/participations{J}", "create_participations"),
    ("PUT", f"{V1}/participations/{{id:int}}{J}", "update_participation"),
    ("DELETE", f"{V1}/participations/{{id:int}}{J}", "delete_participation"),
    ("GET", f"{V1}/assignments{J}", "list_assignments"),
    ("GET", f"{V1}/assignments/{{id:int}}{J}", "get_assignment"),
    ("POST", f"{V1}/assignments{J}", "create_assignments"),
    ("PUT", f"{V1}/assignments/{{id:int}}{J}", "update_assignment"),
    ("DELETE", f"{V1}/assignments/{{id:int}}{J}", "delete_assignment"),
    ("GET", f"{V1}/time_entries{J}", "list_time_entries"),
    ("GET", f"{V1}/time_entries/{{id:int}}{J}", "get_time_entry"),
    ("POST", f"{V1}/time_entries{J}", "create_time_entries"),
    ("PUT", f"{V1}/time_entries/{{id:int}}{J}", "update_time_entry"),
    ("DELETE", f"{V1}/time_entries/{{id:int}}{J}", "delete_time_entry"),
    ("GET", f"{V1}/timesheet_submissions{J}", "list_timesheet_submissions"),
    ("GET", f"{V1}/timesheet_submissions/{{id:int}}{J}", "get_timesheet_submission"),
    ("POST", f"{V1}/timesheet_submissions{J}", "create_timesheet_submissions"),
    ("GET", f"{V1}/expenses{J}", "list_expenses"),
    ("GET", f"{V1}/expenses/{{id:int}}{J}", "get_expense"),
    ("POST", f"{V1}/expenses{J}", "create_expenses"),
    ("PUT", f"{V1}/expenses/{{id:int}}{J}", "update_expense"),
    ("DELETE", f"{V1}/expenses/{{id:int}}{J}", "delete_expense"),
    ("GET", f"{V1}/expense_report_submissions{J}", "list_expense_report_submissions"),
    ("GET", f"{V1}/expense_report_submissions/{{id:int}}{J}", "get_expense_report_submission"),
    ("POST", f"{V1}/expense_report_submissions{J}", "create_expense_report_submissions"),
    ("GET", f"{V1}/billing_milestones{J}", "list_billing_milestones"),
    ("GET", f"{V1}/billing_milestones/{{id:int}}{J}", "get_billing_milestone"),
    ("POST", f"{V1}/billing_milestones{J}", "create_billing_milestones"),
    ("PUT", f"{V1}/billing_milestones/{{id:int}}{J}", "update_billing_milestone"),
    ("DELETE", f"{V1}/billing_milestones/{{id:int}}{J}", "delete_billing_milestone"),
    ("GET", f"{V1}/invoices{J}", "list_invoices"),
    ("GET", f"{V1}/invoices/{{id:int}}{J}", "get_invoice"),
    ("POST", f"{V1}/invoices{J}", "create_invoices"),
    ("GET", f"{V1}/external_references{J}", "list_external_references"),
    ("GET", f"{V1}/external_references/{{id:int}}{J}", "get_external_reference"),
    ("POST", f"{V1}/external_references{J}", "create_external_references"),
    ("PUT", f"{V1}/external_references/{{id:int}}{J}", "update_external_reference"),
    ("DELETE", f"{V1}/external_references/{{id:int}}{J}", "delete_external_reference"),
    ("GET", f"{V1}/budget_change_orders{J}", "list_budget_change_orders"),
    ("GET", f"{V1}/budget_change_orders/{{id:int}}{J}", "get_budget_change_order"),
    ("POST", f"{V1}/budget_change_orders{J}", "create_budget_change_orders"),
    ("GET", f"{V1}/schedule_change_orders{J}", "list_schedule_change_orders"),
    ("GET", f"{V1}/schedule_change_orders/{{id:int}}{J}", "get_schedule_change_order"),
    ("POST", f"{V1}/schedule_change_orders{J}", "create_schedule_change_orders"),
    ("PUT", f"{V1}/timesheet_submissions/{{id:int}}/approve{J}", "approve_timesheet_submission"),
    ("PUT", f"{V1}/timesheet_submissions/{{id:int}}/reject{J}", "reject_timesheet_submission"),
    ("PUT", f"{V1}/timesheet_submissions/{{id:int}}/cancel{J}", "cancel_timesheet_submission"),
    ("POST", f"{V1}/timesheet_approvals{J}", "create_timesheet_approvals"),
    ("POST", f"{V1}/timesheet_rejections{J}", "create_timesheet_rejections"),
    ("PUT", f"{V1}/expense_report_submissions/{{id:int}}/approve{J}", "approve_expense_report_submission"),
    ("PUT", f"{V1}/expense_report_submissions/{{id:int}}/reject{J}", "reject_expense_report_submission"),
    ("PUT", f"{V1}/billing_milestones/{{id:int}}/accept{J}", "accept_billing_milestone"),
    ("PUT", f"{V1}/billing_milestones/{{id:int}}/reject{J}", "reject_billing_milestone"),
    ("PUT", f"{V1}/invoices/{{id:int}}/cancel{J}", "cancel_invoice"),
    ("GET", f"{V1}/users/me{J}", "get_current_user"),
    ("GET", f"{V1}/subscribed_events{J}", "list_subscribed_events"),
]
