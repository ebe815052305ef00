"""A user's own integration code tested against the q2c simulators (real HTTPS servers from the `q2c_servers`
fixture of the q2c-harness pytest plugin), and their scenarios/ collected as tests by the same plugin."""

from __future__ import annotations

import httpx


class MyCrmSync:
    """Stands for the user's own code: creates an account in Salesforce and mirrors it as a NetSuite customer."""

    def __init__(self, sf_url: str, sf_token: str, ns_url: str, ns_token: str, ca_bundle: str) -> None:
        self.sf = httpx.Client(base_url=f"{sf_url}/services/data/v59.0", verify=ca_bundle,
                               headers={"Authorization": f"Bearer {sf_token}"})
        self.ns = httpx.Client(base_url=f"{ns_url}/services/rest/record/v1", verify=ca_bundle,
                               headers={"Authorization": f"Bearer {ns_token}"})

    def onboard(self, name: str, external_id: str) -> tuple[str, str]:
        account = self.sf.post("/sobjects/Account/", json={"Name": name})
        account.raise_for_status()
        customer = self.ns.put(f"/customer/eid:{external_id}", json={"companyName": name, "subsidiary": {"id": "1"}})
        customer.raise_for_status()
        got = self.ns.get(f"/customer/eid:{external_id}")
        got.raise_for_status()
        return account.json()["id"], str(got.json()["id"])


def test_my_client_against_the_simulators(q2c_servers) -> None:
    creds = q2c_servers.credentials
    client = MyCrmSync(q2c_servers.base_urls["salesforce"], creds["salesforce"]["access_token"],
                       q2c_servers.base_urls["netsuite"], creds["netsuite"]["access_token"], q2c_servers.ca_bundle)
    account_id, customer_id = client.onboard("Acme Consulting", "ACME-1")
    assert account_id.startswith("001") and customer_id

    # what the vendors hold now, read back through their APIs
    soql = client.sf.get("/query/", params={"q": "SELECT Name FROM Account"}).json()
    assert [r["Name"] for r in soql["records"]] == ["Acme Consulting"]
    # the simulators' journal proves the client called exactly once
    assert q2c_servers.admin("salesforce").count(method="POST", path="/services/data/v59.0/sobjects/Account/") == 1


def test_netsuite_token_based_auth_credentials_are_minted(q2c_servers) -> None:
    ns = q2c_servers.credentials["netsuite"]
    assert {"consumer_key", "consumer_secret", "token_id", "token_secret", "account"} <= set(ns)
