"""NetSuite releases served side by side; each account runs one (2026.1 by default), changeable through admin.

What 2026.2 changes that integration code depends on (both visible in the metadata catalog and the OpenAPI):
- customer: `externalId` is required when a customer is created (POST without it: 400 USER_ERROR, errorPath
  externalId); PUT eid: upserts already carry it.
- invoice: the read-only field `amountRemaining` is renamed `amountDue` (record GET, `fields=`, `q` filters and
  the metadata catalog). SuiteQL columns are unchanged (`amountremaining`), as SuiteQL reads the analytics schema.
A release-upgrade window (admin) takes the account offline (503) and switches it to the target release at its end.
"""

from __future__ import annotations

RELEASES: tuple[str, ...] = ("2026.1", "2026.2")
DEFAULT_RELEASE = "2026.1"

CHANGES: dict[str, list[str]] = {
    "2026.1": [],
    "2026.2": [
        "customer.externalId is required on create (POST /record/v1/customer)",
        "invoice.amountRemaining is renamed invoice.amountDue",
    ],
}


def invoice_remaining_field(release: str) -> str:
    return "amountDue" if release == "2026.2" else "amountRemaining"
