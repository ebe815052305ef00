"""The AvaTax REST v2 routes the tax simulator serves: (method, path, operation).

The operation is the `TaxResponses` method that answers, and the name quotas, fault rules and the journal use.
Paths follow the SDK (avalara 26.10 `client_methods.py`).
"""

from __future__ import annotations

_DOC = "/api/v2/companies/{company_code}/transactions/{transaction_code}"

URLS: list[tuple[str, str, str]] = [
    ("GET", "/api/v2/utilities/ping", "ping"),
    ("POST", "/api/v2/transactions/create", "create_transaction"),
    ("GET", "/api/v2/transactions/{transaction_id}", "get_transaction_by_id"),
    ("GET", "/api/v2/companies/{company_code}/transactions", "list_transactions_by_company"),
    ("GET", _DOC, "get_transaction_by_code"),
    ("POST", f"{_DOC}/commit", "commit_transaction"),
    ("POST", f"{_DOC}/void", "void_transaction"),
    ("POST", f"{_DOC}/adjust", "adjust_transaction"),
    ("GET", "/api/v2/addresses/resolve", "resolve_address"),
    ("POST", "/api/v2/addresses/resolve", "resolve_address_post"),
    ("GET", "/api/v2/definitions/taxcodes", "list_tax_codes"),
]
