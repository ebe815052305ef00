"""simple-salesforce, unchanged, against the simulator over HTTPS (a real uvicorn server with a local CA)."""

from __future__ import annotations

import csv
import io

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (SalesforceExpiredSession, SalesforceMalformedRequest,
                                          SalesforceResourceNotFound)

from q2c_harness.harness.clients import salesforce_login_session
from q2c_simulators.salesforce import SalesforceSimulator

from .conftest import https_server


OPEN: list[requests.Session] = []  # closed before the server stops (an idle TLS keep-alive would stall shutdown)


def tracked(sf: Salesforce) -> Salesforce:
    OPEN.append(sf.session)
    return sf


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sim = SalesforceSimulator(seed=3)
    with https_server(sim, tmp_path_factory.mktemp("tls")) as endpoints:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REQUESTS_CA_BUNDLE", endpoints.ca_bundle)
            try:
                yield sim, endpoints.base_urls["salesforce"]
            finally:
                while OPEN:
                    OPEN.pop().close()


def admin(base: str, method: str, path: str, **kwargs) -> dict:
    r = requests.request(method, f"{base}/__admin{path}", timeout=10, **kwargs)
    assert r.status_code < 300, r.text
    return r.json() if r.content else {}


def session_for(base: str) -> requests.Session:
    s = salesforce_login_session(base)  # the public helper users get (CA from REQUESTS_CA_BUNDLE here)
    OPEN.append(s)
    return s


@pytest.fixture(scope="module")
def sf(server) -> Salesforce:
    sim, base = server
    admin(base, "POST", "/salesforce/orgs/sfclient/fields", json={
        "object": "Account", "name": "External_Id__c", "type": "string", "external_id": True, "unique": True})
    token = admin(base, "POST", "/salesforce/tokens", json={"tenant": "sfclient"})
    return tracked(Salesforce(instance_url=base, session_id=token["access_token"]))


def test_updated_records_through_simple_salesforce(sf):
    """`SFType.updated(start, end)` sends the datetimes percent-encoded (`%3A`, `%2B`), as the documentation's curl."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    rid = sf.Account.create({"Name": "Replicated"})["id"]
    out = sf.Account.updated(now - timedelta(minutes=5), now + timedelta(minutes=5))
    assert rid in out["ids"] and out["latestDateCovered"].endswith(":00.000+0000")


def test_crud_get_by_custom_id_upsert_and_describe(sf):
    created = sf.Account.create({"Name": "Acme Consulting", "External_Id__c": "ACME 1"})
    assert created["success"] is True
    aid = created["id"]
    assert sf.Account.get(aid)["Name"] == "Acme Consulting"
    assert sf.Account.get_by_custom_id("External_Id__c", "ACME 1")["Id"] == aid
    assert sf.Account.update(aid, {"Industry": "Consulting"}) == 204
    assert sf.Account.upsert("External_Id__c/ACME 1", {"Name": "Acme Ltd"}) == 200
    assert sf.Account.upsert("External_Id__c/ACME 2", {"Name": "Acme Two"}) == 201
    assert sf.Account.get_by_custom_id("External_Id__c", "ACME 2")["Name"] == "Acme Two"
    describe = sf.Account.describe()
    assert describe["name"] == "Account" and any(f["name"] == "External_Id__c" and f["externalId"]
                                                  for f in describe["fields"])
    assert sf.Account.metadata()["objectDescribe"]["keyPrefix"] == "001"
    assert any(o["name"] == "SBQQ__Quote__c" for o in sf.describe()["sobjects"])
    assert sf.Account.delete(aid) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(aid)


def test_errors_raise_the_clients_exceptions(sf, server):
    _, base = server
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"NoSuchField": 1})
    assert exc.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FROM Account WHERE")
    assert exc.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("001000000000000AAA")
    stale = tracked(Salesforce(instance_url=base, session_id="00D000000000000!AQbogus.token"))
    with pytest.raises(SalesforceExpiredSession) as exc:
        stale.query("SELECT Id FROM Account")
    assert exc.value.status == 401
    assert exc.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_query_and_query_all_page_past_2000_records(sf):
    records = [{"attributes": {"type": "Contact"}, "LastName": f"Page{i:04d}"} for i in range(200)]
    for _ in range(11):
        results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
        assert all(r["success"] for r in results)
    first = sf.query("SELECT Id, LastName FROM Contact WHERE LastName LIKE 'Page%'")
    assert first["totalSize"] == 2200 and first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    everything = sf.query_all("SELECT Id, LastName FROM Contact WHERE LastName LIKE 'Page%'")
    assert everything["totalSize"] == 2200 and len(everything["records"]) == 2200
    assert len({r["Id"] for r in everything["records"]}) == 2200
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 2200


def test_query_all_includes_deleted(sf):
    cid = sf.Contact.create({"LastName": "Deleted Person"})["id"]
    sf.Contact.delete(cid)
    q = f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{cid}'"
    assert sf.query(q)["totalSize"] == 0
    rows = sf.query_all(q, include_deleted=True)["records"]
    assert rows[0]["IsDeleted"] is True


def test_limits_and_api_usage(sf):
    limits = sf.limits()
    daily = limits["DailyApiRequests"]
    assert daily["Max"] == 100_000 and 0 < daily["Remaining"] < 100_000
    sf.query("SELECT Id FROM Account LIMIT 1")
    usage = sf.api_usage["api-usage"]
    assert usage.total == 100_000 and usage.used > 0


def test_composite_through_restful(sf):
    body = {"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "acct",
         "body": {"Name": "Composite Co"}},
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Opportunity", "referenceId": "opp",
         "body": {"Name": "Composite Deal", "AccountId": "@{acct.id}", "StageName": "Prospecting",
                  "CloseDate": "2024-09-30"}},
        {"method": "GET", "url": "/services/data/v59.0/sobjects/Opportunity/@{opp.id}?fields=AccountId",
         "referenceId": "read"},
    ]}
    out = sf.restful("composite", method="POST", json=body)["compositeResponse"]
    assert [r["httpStatusCode"] for r in out] == [201, 201, 200]
    assert out[2]["body"]["AccountId"] == out[0]["body"]["id"]
    bad = {"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "ok", "body": {"Name": "X"}},
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "bad", "body": {}},
    ]}
    out = sf.restful("composite", method="POST", json=bad)["compositeResponse"]
    assert [r["httpStatusCode"] for r in out] == [400, 400]
    assert out[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert out[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.query("SELECT COUNT() FROM Account WHERE Name = 'X'")["totalSize"] == 0


def test_bulk2_insert_and_query(sf):
    rows = [{"Name": f"Bulk {i}", "External_Id__c": f"B-{i}"} for i in range(300)] + [{"Name": ""}]
    results = sf.bulk2.Account.insert(records=rows, wait=0.05)
    assert results[0]["numberRecordsProcessed"] == 301 and results[0]["numberRecordsFailed"] == 1
    job = results[0]["job_id"]
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Account.get_failed_records(job))))
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING")
    ok = list(csv.DictReader(io.StringIO(sf.bulk2.Account.get_successful_records(job))))
    assert len(ok) == 300 and ok[0]["sf__Created"] == "true"
    pages = list(sf.bulk2.Account.query("SELECT Id, Name, External_Id__c FROM Account WHERE Name LIKE 'Bulk %'",
                                        max_records=120, wait=0.05))
    assert len(pages) == 3
    names = [r["Name"] for p in pages for r in csv.DictReader(io.StringIO(p))]
    assert len(names) == 300 and "Bulk 299" in names


def test_oauth_password_flow_and_relogin_after_token_expiry(server):
    sim, base = server
    admin(base, "POST", "/salesforce/users", json={"tenant": "oauthorg", "username": "ops@oauthorg.example",
                                                   "password": "s3cret"})
    admin(base, "PATCH", "/salesforce/orgs/oauthorg", json={"session_seconds": 60})
    sf = Salesforce(username="ops@oauthorg.example", password="s3cret", consumer_key="ck", consumer_secret="cs",
                    session=session_for(base))
    assert sf.sf_instance == base.removeprefix("https://")
    first = sf.session_id
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0
    admin(base, "POST", "/clock", json={"advance_seconds": 120})  # the session expires on the virtual clock
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0  # 401 INVALID_SESSION_ID -> log in again -> retry
    assert sf.session_id != first
    statuses = [e["status"] for e in admin(base, "GET", "/requests", params={"tenant": "oauthorg"})["requests"]]
    assert 401 in statuses
    with pytest.raises(Exception) as exc:
        Salesforce(username="ops@oauthorg.example", password="wrong", consumer_key="ck", consumer_secret="cs",
                   session=session_for(base))
    assert "authentication failure" in str(exc.value)


def test_soap_login_flow(server):
    _, base = server
    admin(base, "POST", "/salesforce/users", json={"tenant": "soaporg", "username": "ops@soaporg.example",
                                                   "password": "pw", "security_token": "TOKEN"})
    sf = Salesforce(username="ops@soaporg.example", password="pw", security_token="TOKEN", session=session_for(base))
    assert sf.sf_instance == base.removeprefix("https://")
    aid = sf.Account.create({"Name": "Soap Co"})["id"]
    assert sf.query(f"SELECT Name FROM Account WHERE Id = '{aid}'")["records"][0]["Name"] == "Soap Co"
    with pytest.raises(Exception) as exc:
        Salesforce(username="ops@soaporg.example", password="pw", security_token="WRONG", session=session_for(base))
    assert "INVALID_LOGIN" in str(exc.value)


def test_benchmark_cases_replay_to_their_stub(server):
    from benchmarks.salesforce_cases import prepare

    _, base = server
    sim_ca = __import__("os").environ["REQUESTS_CA_BUNDLE"]
    cases = prepare(base, sim_ca)
    assert [c.method for c in cases] == ["GET", "GET"]
    with requests.Session() as s:
        for case in cases:
            r = s.get(base + case.path, headers=case.headers, timeout=10)
            assert r.status_code == case.stub.status and r.json() == __import__("json").loads(case.stub.body)
