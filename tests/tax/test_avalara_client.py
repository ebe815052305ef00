"""The `avalara` SDK (26.10, unchanged) against the simulator over HTTPS, credentials from the admin API."""

from __future__ import annotations

import os

import httpx
import pytest
from avalara.client import AvataxClient
from avalara.transaction_builder import TransactionBuilder

from q2c_simulators.kernel.serving import running_servers
from q2c_simulators.tax import TaxSimulator


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    sim = TaxSimulator(seed=1)
    with running_servers({"tax": sim}, tls_dir=tmp_path_factory.mktemp("tls")) as endpoints:
        old = os.environ.get("REQUESTS_CA_BUNDLE")
        os.environ["REQUESTS_CA_BUNDLE"] = endpoints.ca_bundle  # the SDK is bare `requests`: it honours this
        try:
            base = endpoints.base_urls["tax"]
            account = httpx.post(f"{base}/__admin/tax/accounts", verify=endpoints.ca_bundle).json()
            yield sim, base, account
        finally:
            if old is None:
                os.environ.pop("REQUESTS_CA_BUNDLE", None)
            else:
                os.environ["REQUESTS_CA_BUNDLE"] = old


def client_for(base: str, account: dict) -> AvataxClient:
    client = AvataxClient("q2c-tests", "1.0", "ci", base)  # an http(s) environment is used as the base URL
    return client.add_credentials(str(account["account_id"]), account["license_key"])


def test_ping_and_auth(served):
    sim, base, account = served
    assert client_for(base, account).ping().json()["authenticated"] is True
    anonymous = AvataxClient("q2c-tests", "1.0", "ci", base)
    assert anonymous.ping().json()["authenticated"] is False
    wrong = AvataxClient("q2c-tests", "1.0", "ci", base).add_credentials(str(account["account_id"]), "BAD")
    assert wrong.create_transaction({"lines": []}).status_code == 401
    bearer = AvataxClient("q2c-tests", "1.0", "ci", base).add_credentials(account["bearer_token"])
    assert bearer.ping().json()["authenticationType"] == "OpenIdBearerToken"


def test_transaction_lifecycle_through_the_builder(served):
    sim, base, account = served
    client = client_for(base, account)
    address = {"line1": "2000 Main Street", "city": "Irvine", "region": "CA", "country": "US", "postalCode": "92614"}
    txn = (TransactionBuilder(client, "DEFAULT", "SalesInvoice", "ABC")
           .with_address("SingleLocation", address)
           .with_line(100.0, 1, "Consulting", "SC080000")
           .with_line(200.0, 1, "Hardware")
           .with_transaction_code("SDK-1")
           .create())
    assert txn.status_code == 201 and '"status":"Saved"' in txn.text, txn.text
    assert txn.json()["totalTax"] == 15.5  # services untaxed in CA; 200.00 at 7.75%
    committed = client.commit_transaction("DEFAULT", "SDK-1", {"commit": True})
    assert committed.json()["status"] == "Committed"
    got = client.get_transaction_by_code("DEFAULT", "SDK-1", {"$include": "Lines"})
    assert [ln["taxCode"] for ln in got.json()["lines"]] == ["SC080000", "P0000000"]
    conflict = client.create_transaction({**_model("SDK-1"), "commit": True})
    assert conflict.status_code == 400 and conflict.json()["error"]["code"] == "DocumentCodeConflict"
    adjusted = client.adjust_transaction("DEFAULT", "SDK-1", {"adjustmentReason": "PriceAdjusted",
                                                              "newTransaction": {**_model("SDK-1"), "commit": True}})
    assert adjusted.json()["version"] == 2 and adjusted.json()["status"] == "Committed"
    voided = client.void_transaction("DEFAULT", "SDK-1", {"code": "DocVoided"})
    assert voided.json()["status"] == "Cancelled"
    listed = client.list_transactions_by_company("DEFAULT").json()
    assert [t["status"] for t in listed["value"]] == ["Cancelled"]


def test_address_resolution_and_tax_codes(served):
    sim, base, account = served
    client = client_for(base, account)
    resolved = client.resolve_address({"line1": "2000 Main Street", "city": "Irvine", "region": "CA",
                                       "postalCode": "92614"})
    assert resolved.status_code == 200 and isinstance(resolved.json()["coordinates"]["latitude"], float)
    assert client.resolve_address({"line1": "Incomplete Address"}).status_code == 400
    assert "SC120000" in {t["taxCode"] for t in client.list_tax_codes().json()["value"]}


def test_a_vat_reverse_charge(served):
    sim, base, account = served
    client = client_for(base, account)
    model = {**_model("VAT-1"), "businessIdentificationNo": "FR40303265045",
             "addresses": {"shipFrom": {"city": "Berlin", "country": "DE"}, "shipTo": {"city": "Paris", "country": "FR"}}}
    body = client.create_transaction(model).json()
    assert body["totalTax"] == 0 and body["summary"][0]["jurisName"] == "FRANCE"
    assert "Reverse charge" in body["messages"][0]["summary"]


def _model(code: str) -> dict:
    return {"type": "SalesInvoice", "code": code, "companyCode": "DEFAULT", "date": "2026-11-30",
            "customerCode": "ABC", "addresses": {"singleLocation": {"city": "Austin", "region": "TX", "country": "US",
                                                                    "postalCode": "78701"}},
            "lines": [{"number": "1", "amount": 100, "taxCode": "P0000000"}]}
