"""Change events (CDC long poll with replay ids, seeded duplicates/reorders), limits and quotas, maintenance,
token lifetime, and the OAuth grants, in-process."""

from __future__ import annotations

import asyncio
import base64
import time
import xml.etree.ElementTree as ET
from datetime import datetime

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .conftest import V

EVENTS = f"{V}/sim/events"


async def opportunity(api, **fields) -> str:
    body = {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-06-30", **fields}
    r = await api.post(f"{V}/sobjects/Opportunity/", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_consumer_sees_closed_won_without_polling_soql(api):
    start = (await api.get(f"{EVENTS}/OpportunityChangeEvent", params={"replayId": -1})).json()["latestReplayId"]
    oid = await opportunity(api, Amount=1200)

    async def close_later() -> None:
        await asyncio.sleep(0.05)
        await api.patch(f"{V}/sobjects/Opportunity/{oid}", json={"StageName": "Closed Won"})

    created = (await api.get(f"{EVENTS}/OpportunityChangeEvent", params={"replayId": start})).json()
    assert [e["payload"]["ChangeEventHeader"]["changeType"] for e in created["events"]] == ["CREATE"]
    task = asyncio.create_task(close_later())
    waited = (await api.get(f"{EVENTS}/OpportunityChangeEvent",
                            params={"replayId": created["latestReplayId"], "wait": 5})).json()
    await task
    event = waited["events"][0]
    header = event["payload"]["ChangeEventHeader"]
    assert header["changeType"] == "UPDATE" and header["recordIds"] == [oid] and header["entityName"] == "Opportunity"
    assert "StageName" in header["changedFields"] and event["payload"]["StageName"] == "Closed Won"
    assert event["payload"]["IsWon"] is True
    assert {"transactionKey", "sequenceNumber", "commitTimestamp", "commitUser", "commitNumber",
            "changeOrigin"} <= set(header)
    assert waited["latestReplayId"] == event["replayId"] > created["latestReplayId"]
    nothing = (await api.get(f"{EVENTS}/OpportunityChangeEvent", params={"replayId": waited["latestReplayId"]})).json()
    assert nothing["events"] == []


async def test_only_enabled_objects_publish_and_admin_enables_more(api, client):
    await api.post(f"{V}/sobjects/Account/", json={"Name": "Quiet"})
    assert (await api.get(f"{EVENTS}/AccountChangeEvent")).status_code == 404
    everything = (await api.get(f"{EVENTS}/ChangeEvents", params={"replayId": -2})).json()
    assert everything["events"] == []
    r = await client.patch("/__admin/salesforce/orgs/acme", json={"change_events": ["Opportunity", "Account"]})
    assert r.status_code == 200
    await api.post(f"{V}/sobjects/Account/", json={"Name": "Loud"})
    events = (await api.get(f"{EVENTS}/AccountChangeEvent", params={"replayId": -2})).json()["events"]
    assert [e["payload"]["Name"] for e in events] == ["Loud"]


async def test_duplicate_and_reorder_faults_are_seeded(api, client, sim):
    for i in range(6):
        await opportunity(api, Name=f"D{i}")
    rule = {"id": "dup", "kind": "duplicate", "operation": "OpportunityChangeEvent", "probability": 0.5, "copies": 1}
    reorder = {"id": "shuffle", "kind": "reorder", "operation": "OpportunityChangeEvent", "probability": 0.5,
               "window": 3}
    assert (await client.post("/__admin/faults", json=rule)).status_code == 201
    assert (await client.post("/__admin/faults", json=reorder)).status_code == 201

    async def deliver() -> list[int]:
        out = (await api.get(f"{EVENTS}/OpportunityChangeEvent", params={"replayId": -2})).json()
        return [e["replayId"] for e in out["events"]]

    first = await deliver()
    assert sorted(set(first)) == [1, 2, 3, 4, 5, 6] and len(first) > 6  # at least once, some twice
    await client.delete("/__admin/faults")
    await client.post("/__admin/faults", json=rule)
    await client.post("/__admin/faults", json=reorder)
    assert await deliver() == first  # same seed, same rules, same delivery


async def test_composite_transaction_shares_one_transaction_key(api):
    body = {"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Opportunity", "referenceId": f"o{i}",
         "body": {"Name": f"T{i}", "StageName": "Prospecting", "CloseDate": "2024-01-01"}} for i in range(2)]}
    assert (await api.post(f"{V}/composite", json=body)).status_code == 200
    events = (await api.get(f"{EVENTS}/OpportunityChangeEvent", params={"replayId": -2})).json()["events"]
    headers = [e["payload"]["ChangeEventHeader"] for e in events]
    assert len({h["transactionKey"] for h in headers}) == 1
    assert [h["sequenceNumber"] for h in headers] == [1, 2]


async def test_collections_tree_and_upsert_collection(api, ext_id):
    r = await api.post(f"{V}/composite/sobjects", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Name": "Good"}, {"attributes": {"type": "Account"}}]})
    good, bad = r.json()
    assert good["success"] is True and good["id"].startswith("001")
    assert bad == {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING",
                                                 "message": "Required fields are missing: [Name]", "fields": ["Name"]}]}
    r = await api.patch(f"{V}/composite/sobjects/Account/External_Id__c", json={"records": [
        {"attributes": {"type": "Account"}, "External_Id__c": "E1", "Name": "One"}]})
    assert r.json()[0]["created"] is True
    tree = {"records": [{"attributes": {"type": "Account", "referenceId": "acc"}, "Name": "Tree Co",
                         "Contacts": {"records": [{"attributes": {"type": "Contact", "referenceId": "c1"},
                                                   "LastName": "Leaf"}]}}]}
    r = await api.post(f"{V}/composite/tree/Account", json=tree)
    assert r.status_code == 201 and [x["referenceId"] for x in r.json()["results"]] == ["acc", "c1"]
    tree["records"][0]["Contacts"]["records"][0] = {"attributes": {"type": "Contact", "referenceId": "c2"},
                                                    "Email": "not-an-email"}
    r = await api.post(f"{V}/composite/tree/Account", json=tree)
    assert r.status_code == 400 and r.json()["hasErrors"] is True
    assert r.json()["results"][0]["referenceId"] == "c2"
    count = await api.get(f"{V}/query/", params={"q": "SELECT COUNT() FROM Account WHERE Name = 'Tree Co'"})
    assert count.json()["totalSize"] == 1  # the failed tree rolled back whole


async def test_collections_retrieve_with_a_request_body_as_jsforce_sends_it(api):
    r = await api.post(f"{V}/composite/sobjects", json={"records": [
        {"attributes": {"type": "Account"}, "Name": f"Body {i}"} for i in range(2)]})
    ids = [x["id"] for x in r.json()]
    missing = "001000000000000AAA"
    r = await api.post(f"{V}/composite/sobjects/Account", json={"ids": [ids[0], missing, ids[1]],
                                                              "fields": ["id", "name"]})
    assert r.status_code == 200, r.text
    first, none, second = r.json()
    assert none is None and (first["Id"], first["Name"], second["Name"]) == (ids[0], "Body 0", "Body 1")
    assert first["attributes"] == {"type": "Account", "url": f"{V}/sobjects/Account/{ids[0]}"}
    r = await api.post(f"{V}/composite/sobjects/Account", json={"ids": [ids[0]] * 2000, "fields": ["Name"]})
    assert r.status_code == 200 and len(r.json()) == 2000  # POST takes up to 2,000 ids, GET about 800 in a URL
    r = await api.post(f"{V}/composite/sobjects/Account", json={"ids": [ids[0]] * 2001, "fields": ["Name"]})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    r = await api.post(f"{V}/composite/sobjects/Account", json={"ids": [ids[0]], "fields": ["Nope__c"]})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_FIELD"


async def test_daily_quota_refuses_with_403_and_limits_report_it(api, client, sim):
    quota = {"name": "DailyApiRequests", "kind": "rolling_window", "limit": 5, "window_seconds": 86400,
             "path_regex": r"^/services/data/v[0-9.]+/(?!sim/)"}
    assert (await client.put("/__admin/quotas", json=quota)).status_code == 200
    limits = (await api.get(f"{V}/limits/")).json()
    assert limits["DailyApiRequests"]["Max"] == 5
    for _ in range(4):
        r = await api.get(f"{V}/sobjects/")
    assert r.headers["sforce-limit-info"] == "api-usage=5/5"  # this very call counted: the next is refused
    r = await api.get(f"{V}/sobjects/")
    assert r.status_code == 403
    assert r.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    await client.post("/__admin/clock", json={"advance_seconds": 86400})
    fresh = (await client.post("/__admin/salesforce/tokens", json={"tenant": "acme"})).json()["access_token"]
    r = await client.get(f"{V}/sobjects/", headers={"Authorization": f"Bearer {fresh}"})
    assert r.status_code == 200  # the rolling window moved on


async def test_maintenance_is_a_503_in_salesforce_shape(api, client):
    rule = {"kind": "error", "status": 503, "path": "/services/data/*"}
    assert (await client.post("/__admin/faults", json=rule)).status_code == 201
    r = await api.get(f"{V}/sobjects/")
    assert r.status_code == 503 and r.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"


async def test_token_lifetime_runs_on_the_virtual_clock(client):
    token = (await client.post("/__admin/salesforce/tokens", json={"tenant": "acme", "lifetime_seconds": 60})).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await client.get(f"{V}/limits/", headers=headers)).status_code == 200
    await client.post("/__admin/clock", json={"advance_seconds": 61})
    r = await client.get(f"{V}/limits/", headers=headers)
    assert r.status_code == 401 and r.json()[0]["errorCode"] == "INVALID_SESSION_ID"


async def test_oauth_grants(client):
    # password grant: the username's domain names the org on first login; a wrong password then fails
    form = {"grant_type": "password", "client_id": "ck", "client_secret": "cs", "username": "a@newco.example",
            "password": "pw"}
    r = await client.post("/services/oauth2/token", data=form)
    assert r.status_code == 200 and r.json()["instance_url"] == "https://salesforce.sim"
    assert r.json()["access_token"].startswith("00D")
    r = await client.post("/services/oauth2/token", data={**form, "password": "nope"})
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "authentication failure"}
    assert (await client.post("/services/oauth2/token", data={"grant_type": "magic"})).json()["error"] == \
        "unsupported_grant_type"
    # client_credentials through a connected app
    await client.post("/__admin/salesforce/orgs/newco.example/connected-apps",
                      json={"client_id": "app1", "client_secret": "s1"})
    basic = base64.b64encode(b"app1:s1").decode()
    r = await client.post("/services/oauth2/token", data={"grant_type": "client_credentials"},
                          headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200
    r = await client.post("/services/oauth2/token", data={"grant_type": "client_credentials", "client_id": "app1",
                                                          "client_secret": "wrong"})
    assert r.json()["error"] == "invalid_client"
    # refresh token from an admin-minted session
    minted = (await client.post("/__admin/salesforce/tokens", json={"tenant": "newco.example",
                                                                   "refresh_token": True})).json()
    r = await client.post("/services/oauth2/token", data={"grant_type": "refresh_token",
                                                          "refresh_token": minted["refresh_token"]})
    assert r.status_code == 200 and r.json()["access_token"] != minted["access_token"]
    # revoke
    assert (await client.post("/services/oauth2/revoke", data={"token": minted["access_token"]})).status_code == 200
    r = await client.get(f"{V}/limits/", headers={"Authorization": f"Bearer {minted['access_token']}"})
    assert r.status_code == 401


async def test_jwt_bearer_with_signature_verification(client):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "q2c")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime(2020, 1, 1))
            .not_valid_after(datetime(2040, 1, 1)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    await client.post("/__admin/salesforce/users", json={"tenant": "jwtorg", "username": "int@jwtorg.example",
                                                         "password": "x"})
    await client.post("/__admin/salesforce/orgs/jwtorg/connected-apps", json={"client_id": "jwt-app", "cert_pem": pem})
    claims = {"iss": "jwt-app", "sub": "int@jwtorg.example", "aud": "https://login.salesforce.com",
              "exp": int(time.time()) + 180}
    good = jwt.encode(claims, key, algorithm="RS256")
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    r = await client.post("/services/oauth2/token", data={"grant_type": grant, "assertion": good})
    assert r.status_code == 200, r.text
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = await client.post("/services/oauth2/token", data={"grant_type": grant,
                                                          "assertion": jwt.encode(claims, other, algorithm="RS256")})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, key, algorithm="RS256")
    assert (await client.post("/services/oauth2/token", data={"grant_type": grant, "assertion": expired})).json()[
        "error"] == "invalid_grant"


async def test_snapshot_and_restore_keep_records_custom_fields_and_tokens(api, client, ext_id, token):
    aid = (await api.post(f"{V}/sobjects/Account/", json={"Name": "Snap", "External_Id__c": "S1"})).json()["id"]
    snap = (await client.get("/__admin/snapshot")).json()
    await client.post("/__admin/tenants/acme/reset")
    assert (await api.get(f"{V}/sobjects/Account/{aid}")).status_code == 401  # the reset forgot the session too
    assert (await client.post("/__admin/restore", json={"snapshot": snap})).status_code == 200
    r = await api.get(f"{V}/sobjects/Account/External_Id__c/S1")
    assert r.status_code == 200 and r.json()["Id"] == aid


async def test_soap_login_user_info_names_the_org_as_salesforce_does(client):
    """userInfo carries the 18-character organizationId and the org's name; the server URLs the 15-character id."""
    await client.post("/__admin/salesforce/users", json={"tenant": "soapinfo.example",
                                                         "username": "ops@soapinfo.example", "password": "pw"})
    org = (await client.get("/__admin/salesforce/orgs/soapinfo.example")).json()["org_id"]
    envelope = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:login>'
                '<urn:username>ops@soapinfo.example</urn:username><urn:password>pw</urn:password>'
                '</urn:login></soapenv:Body></soapenv:Envelope>')
    r = await client.post("/services/Soap/u/59.0", content=envelope, headers={"Content-Type": "text/xml",
                                                                              "SOAPAction": "login"})
    assert r.status_code == 200, r.text
    ns = {"p": "urn:partner.soap.sforce.com"}
    result = ET.fromstring(r.text).find(".//p:result", ns)
    assert len(org) == 18
    assert result.findtext("p:userInfo/p:organizationId", namespaces=ns) == org
    assert result.findtext("p:userInfo/p:organizationName", namespaces=ns) == "soapinfo.example"
    assert result.findtext("p:serverUrl", namespaces=ns).endswith(f"/services/Soap/u/59.0/{org[:15]}")


async def test_the_identity_url_of_a_token_answers_who_it_is(client):
    form = {"grant_type": "password", "client_id": "ck", "client_secret": "cs", "username": "id@idorg.example",
            "password": "pw"}
    token = (await client.post("/services/oauth2/token", data=form)).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    r = await client.get(token["id"], headers=headers)
    assert r.status_code == 200, r.text
    ident = r.json()
    org, user = token["id"].rsplit("/", 2)[-2:]
    assert (ident["id"], ident["organization_id"], ident["user_id"], ident["username"]) == \
        (token["id"], org, user, "id@idorg.example")
    assert ident["urls"]["rest"] == "https://salesforce.sim/services/data/v{version}/"  # no version asked
    r = await client.get(token["id"], params={"version": "59.0"}, headers=headers)
    assert r.json()["urls"]["sobjects"] == "https://salesforce.sim/services/data/v59.0/sobjects/"
    assert (await client.get(token["id"])).status_code == 401
    other = (await client.post("/services/oauth2/token", data={**form, "username": "other@idorg.example"})).json()
    r = await client.get(other["id"], headers=headers)  # another user's identity
    assert r.status_code == 403 and r.json()[0]["errorCode"] == "INSUFFICIENT_ACCESS"
