"""The AvaTax wire: auth, status codes, the error envelope, $include, headers, faults and quotas (in-process)."""

from __future__ import annotations

import httpx

from q2c_simulators.kernel import QuotaSpec
from q2c_simulators.kernel.faults import fault_rule_adapter

from .conftest import basic, invoice


async def test_ping_is_always_200_and_says_who_you_are(sim, api, account):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://tax.sim") as anon:
        r = await anon.get("/api/v2/utilities/ping", headers={"Authorization": basic(account["account_id"], "WRONG")})
        assert r.status_code == 200 and r.json()["authenticated"] is False
        assert r.json()["authenticationType"] == "None"
    r = await api.get("/api/v2/utilities/ping")
    assert r.json()["authenticated"] is True and r.json()["authenticationType"] == "AccountIdLicenseKey"
    assert r.json()["authenticatedAccountId"] == account["account_id"]


async def test_every_response_has_a_correlation_id(api):
    ids = {(await api.get(path)).headers["x-correlation-id"]
           for path in ("/api/v2/utilities/ping", "/api/v2/nope", "/api/v2/definitions/taxcodes")}
    assert len(ids) == 3


async def test_credentials_are_checked(sim, api, account):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://tax.sim") as anon:
        r = await anon.post("/api/v2/transactions/create", json=invoice())
        assert r.status_code == 401
        err = r.json()["error"]
        # no Authorization header: AvaTax's AuthenticationIncomplete (developer.avalara.com/avatax/errors/)
        assert err["code"] == "AuthenticationIncomplete" and err["details"][0]["number"] == 34
        assert err["details"][0]["helpLink"].endswith("/avatax/errors/AuthenticationIncomplete")
        assert err["details"][0]["severity"] == "Exception"

        async def refused(headers):
            r = await anon.get("/api/v2/definitions/taxcodes", headers=headers)
            assert r.status_code == 401
            return r.json()["error"]["code"]
        assert await refused({"Authorization": basic(account["account_id"], "0000000000000000")}) \
            == "AuthenticationException"
        assert await refused({"Authorization": "Basic not-base64!"}) == "BasicAuthIncorrect"
        bearer = {"Authorization": f"Bearer {account['bearer_token']}"}
        assert (await anon.get("/api/v2/definitions/taxcodes", headers=bearer)).status_code == 200
        forged = {"Authorization": f"Bearer avatax~{account['account_id']}~{'0' * 40}"}
        assert await refused(forged) == "BearerTokenInvalid"
    # another tenant named in X-Sim-Tenant must not be reachable with this account's key
    r = await api.get("/api/v2/definitions/taxcodes", headers={"X-Sim-Tenant": "2000000002"})
    assert r.status_code == 401


async def test_create_commit_get_void_over_the_wire(api):
    r = await api.post("/api/v2/transactions/create", json=invoice("INV/7"))
    assert r.status_code == 201 and '"status":"Saved"' in r.text
    body = r.json()
    assert body["totalTax"] == 82.5 and {"lines", "summary", "addresses"} <= set(body)
    path = "/api/v2/companies/DEFAULT/transactions/INV_-ava2f-_7"
    assert (await api.post(f"{path}/commit", json={"commit": True})).json()["status"] == "Committed"
    got = await api.get(path, params={"$include": "SummaryOnly"})
    assert got.json()["status"] == "Committed" and "addresses" not in got.text and "lines" not in got.json()
    lines_only = (await api.get(path, params={"$include": "LinesOnly"})).json()
    assert "details" not in lines_only["lines"][0]
    again = await api.post("/api/v2/transactions/create", json=invoice("INV/7"))
    assert again.status_code == 400 and again.json()["error"]["code"] == "DocumentCodeConflict"
    assert again.json()["error"]["details"][0]["number"] == 303
    no_body = await api.post(f"{path}/void")
    assert no_body.status_code == 400 and no_body.json()["error"]["details"][0]["number"] == 38
    voided = await api.post(f"{path}/void", json={"code": "DocVoided"})
    assert voided.json()["status"] == "Cancelled"
    missing = await api.get("/api/v2/companies/DEFAULT/transactions/NOPE")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "EntityNotFoundError"
    other_type = await api.get(path, params={"documentType": "ReturnInvoice"})
    assert other_type.status_code == 404


async def test_adjust_and_list(api):
    await api.post("/api/v2/transactions/create", json=invoice("INV-9", commit=True))
    r = await api.post("/api/v2/companies/DEFAULT/transactions/INV-9/adjust",
                       json={"adjustmentReason": "PriceAdjusted", "newTransaction": invoice(lines=[{"amount": 10}])})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["status"] == "Saved"
    listed = (await api.get("/api/v2/companies/DEFAULT/transactions", params={"$filter": "status eq 'Saved'"})).json()
    assert listed["@recordsetCount"] == 1 and listed["value"][0]["code"] == "INV-9"
    bad = await api.get("/api/v2/companies/DEFAULT/transactions", params={"$filter": "status gt 1"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "MalformedFilterException"


async def test_bad_json_and_models_are_avatax_errors(api):
    r = await api.post("/api/v2/transactions/create", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "JsonFormatError"
    r = await api.post("/api/v2/transactions/create", json={**invoice(), "lines": []})
    assert r.json()["error"]["details"][0]["number"] == 311


async def test_keys_are_case_insensitive_and_builder_dates_work(api):
    body = {"Type": "SalesInvoice", "Code": "CASE-1", "Date": "2026-11-30 10:11:12.123456", "CustomerCode": "C",
            "Addresses": {"SingleLocation": {"City": "Irvine", "Region": "CA", "Country": "US", "PostalCode": "92615"}},
            "Lines": [{"Number": "1", "Amount": 100, "TaxCode": "", "ExemptionCode": ""}]}
    r = await api.post("/api/v2/transactions/create", json=body)
    assert r.status_code == 201 and r.json()["totalTax"] == 7.75 and r.json()["date"] == "2026-11-30"


async def test_address_resolution_and_tax_codes(api):
    ok = await api.get("/api/v2/addresses/resolve", params={"line1": "1 Main", "city": "Irvine", "region": "CA",
                                                            "postalCode": "92615"})
    assert ok.status_code == 200 and isinstance(ok.json()["coordinates"]["latitude"], float)
    bad = await api.get("/api/v2/addresses/resolve", params={"line1": "Incomplete Address"})
    assert bad.status_code == 400 and bad.json()["error"]
    posted = await api.post("/api/v2/addresses/resolve", json={"postalCode": "78701"})
    assert posted.json()["validatedAddresses"][0]["region"] == "TX"
    codes = (await api.get("/api/v2/definitions/taxcodes", params={"$filter": "taxCodeTypeId eq 'S'", "$top": 2})).json()
    assert codes["@recordsetCount"] == 3 and len(codes["value"]) == 2 and "@nextLink" in codes


async def test_faults_and_quotas_answer_in_avatax_shape(sim, api):
    sim.faults.add(fault_rule_adapter.validate_python(
        {"kind": "error", "status": 503, "first_n": 1, "operation": "create_transaction"}))
    r = await api.post("/api/v2/transactions/create", json=invoice())
    assert r.status_code == 503 and r.json()["error"]["code"] == "ServerUnreachable"
    assert "x-correlation-id" in r.headers
    assert (await api.post("/api/v2/transactions/create", json=invoice())).status_code == 201
    sim.quotas.set(QuotaSpec(name="account_requests", kind="token_bucket", limit=1, rate_per_second=0.001,
                             path="/api/*"))
    await api.get("/api/v2/definitions/taxcodes")
    limited = await api.get("/api/v2/definitions/taxcodes")
    assert limited.status_code == 429 and limited.json()["error"]["details"][0]["number"] == 1715
    assert "retry-after" in limited.headers


async def test_the_typed_admin_client_mints_accounts(sim):
    from q2c_harness.harness.sim_admin import AsyncSimAdmin

    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url="https://tax.sim") as http:
        admin = AsyncSimAdmin(http)
        acct = await admin.tax_account(companies=[{"code": "ACME", "nexus": ["US-CA"]}])
        assert {c["code"] for c in acct.companies} == {"DEFAULT", "ACME"}
        r = await http.get("/api/v2/utilities/ping", headers={"Authorization": basic(acct.account_id, acct.license_key)})
        assert r.json()["authenticated"] is True
        second = await admin.tax_account(account_id=acct.account_id)
        assert second.account_id == acct.account_id and second.license_key != acct.license_key
