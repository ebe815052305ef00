"""sObject CRUD, ids, validation and upsert semantics, in-process."""

from __future__ import annotations

from q2c_simulators.salesforce import ids

from .conftest import V


async def create(api, obj: str, body: dict) -> str:
    r = await api.post(f"{V}/sobjects/{obj}/", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["success"] is True and r.json()["errors"] == []
    return r.json()["id"]


def test_id_checksum_and_prefixes():
    assert ids.to18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert ids.normalize("001A0000006Vm9r") == ids.normalize("001A0000006Vm9rIAC")
    assert ids.normalize("not-an-id") is None
    assert ids.custom_prefix(0) == "a0X"


async def test_create_read_update_delete_with_both_id_forms(api):
    aid = await create(api, "Account", {"Name": "Acme", "CurrencyIsoCode": "EUR"})
    assert aid.startswith("001") and len(aid) == 18
    r = await api.get(f"{V}/sobjects/Account/{aid[:15]}")
    assert r.status_code == 200
    body = r.json()
    assert body["Id"] == aid and body["Name"] == "Acme" and body["CurrencyIsoCode"] == "EUR"
    assert body["attributes"] == {"type": "Account", "url": f"{V}/sobjects/Account/{aid}"}
    assert (await api.patch(f"{V}/sobjects/Account/{aid}", json={"Industry": "Consulting"})).status_code == 204
    assert (await api.get(f"{V}/sobjects/Account/{aid}?fields=Industry")).json()["Industry"] == "Consulting"
    assert (await api.delete(f"{V}/sobjects/Account/{aid}")).status_code == 204
    r = await api.get(f"{V}/sobjects/Account/{aid}")
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "ENTITY_IS_DELETED"


async def test_validation_errors_have_salesforce_codes(api, client):
    r = await api.post(f"{V}/sobjects/Account/", json={"Nmae": "typo"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_FIELD"
    r = await api.post(f"{V}/sobjects/Opportunity/", json={"Name": "x"})
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert set(r.json()[0]["fields"]) == {"StageName", "CloseDate"}
    r = await api.post(f"{V}/sobjects/Account/", json={"Name": "x" * 256})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "STRING_TOO_LONG"
    r = await api.post(f"{V}/sobjects/Contract/", json={"AccountId": await create(api, "Account", {"Name": "a"}),
                                                         "Status": "Nope"})
    assert r.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    r = await api.post(f"{V}/sobjects/Opportunity/", json={"Name": "x", "StageName": "Prospecting",
                                                            "CloseDate": "2024-01-01", "Amount": "lots"})
    assert r.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    r = await api.post(f"{V}/sobjects/Account/", content=b"{not json")
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    r = await api.post(f"{V}/sobjects/Opportunity/", json={"Name": "x", "StageName": "Prospecting",
                                                            "CloseDate": "2024-01-01", "IsWon": True})
    assert r.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    rule = {"object": "Opportunity", "name": "Amount_Positive", "condition": "Amount < 0",
            "message": "Amount must not be negative", "field": "Amount"}
    assert (await client.post("/__admin/salesforce/orgs/acme/validation-rules", json=rule)).status_code == 201
    r = await api.post(f"{V}/sobjects/Opportunity/", json={"Name": "x", "StageName": "Prospecting",
                                                            "CloseDate": "2024-01-01", "Amount": -5})
    assert r.status_code == 400
    assert r.json()[0] == {"message": "Amount must not be negative", "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                           "fields": ["Amount"]}


async def test_json_nested_a_thousand_levels_deep_is_a_parser_error_on_every_json_route(api):
    deep = b"[" * 1000 + b"]" * 1000
    for method, path in [("POST", f"{V}/sobjects/Account/"), ("PATCH", f"{V}/sobjects/Account/001000000000000AAA"),
                         ("PATCH", f"{V}/sobjects/Account/Name/x"), ("POST", f"{V}/composite"),
                         ("POST", f"{V}/composite/sobjects"), ("POST", f"{V}/composite/tree/Account"),
                         ("POST", f"{V}/jobs/ingest"), ("POST", f"{V}/jobs/query")]:
        r = await api.request(method, path, content=deep, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()[0]["errorCode"] == "JSON_PARSER_ERROR", (method, path, r.text)


async def test_opportunity_closed_won_sets_is_won(api):
    oid = await create(api, "Opportunity", {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-06-30"})
    before = (await api.get(f"{V}/sobjects/Opportunity/{oid}")).json()
    assert before["IsWon"] is False and before["IsClosed"] is False
    await api.patch(f"{V}/sobjects/Opportunity/{oid}", json={"StageName": "Closed Won"})
    after = (await api.get(f"{V}/sobjects/Opportunity/{oid}")).json()
    assert after["IsWon"] is True and after["IsClosed"] is True and after["Probability"] == 100


async def test_upsert_by_external_id_statuses(api, ext_id):
    url = f"{V}/sobjects/Account/External_Id__c/Q-1001%20A"
    r = await api.patch(url, json={"Name": "Created"})
    assert r.status_code == 201 and r.json()["created"] is True
    rid = r.json()["id"]
    r = await api.patch(url, json={"Name": "Updated"})
    assert r.status_code == 200 and r.json() == {"id": rid, "success": True, "errors": [], "created": False}
    r = await api.get(f"{V}/sobjects/Account/External_Id__c/Q-1001+A")  # '+' is a space, as simple-salesforce sends
    assert r.status_code == 200 and r.json()["Name"] == "Updated"
    r = await api.patch(f"{V}/sobjects/Account/Name/x", json={"Name": "y"})
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"
    r = await api.post(f"{V}/sobjects/Account/", json={"Name": "Dup", "External_Id__c": "Q-1001 A"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "DUPLICATE_VALUE"


async def test_upsert_matching_several_records_answers_300(api, client):
    field = {"object": "Contact", "name": "Legacy_Key__c", "type": "string", "external_id": True}
    assert (await client.post("/__admin/salesforce/orgs/acme/fields", json=field)).status_code == 201
    for _ in range(2):
        await create(api, "Contact", {"LastName": "Twin", "Legacy_Key__c": "K1"})
    r = await api.patch(f"{V}/sobjects/Contact/Legacy_Key__c/K1", json={"FirstName": "x"})
    assert r.status_code == 300 and len(r.json()) == 2


async def test_unknown_object_version_and_session(api, client):
    assert (await api.get(f"{V}/sobjects/Nope__c/describe")).status_code == 404
    r = await api.get("/services/data/v20.0/sobjects/")
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"
    r = await client.get(f"{V}/sobjects/", headers={"Authorization": "Bearer garbage"})
    assert r.status_code == 401
    assert r.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    versions = (await client.get("/services/data/", headers={"Authorization": ""})).json()
    assert [v["version"] for v in versions] == ["57.0", "58.0", "59.0", "60.0", "61.0", "62.0"]


async def test_describe_custom_object_and_cpq(api, client):
    r = await client.post("/__admin/salesforce/orgs/acme/objects", json={"name": "Invoice__c",
                                                                        "auto_number": "INV-{00000}"})
    assert r.status_code == 201 and r.json()["keyPrefix"] == "a0X"
    await client.post("/__admin/salesforce/orgs/acme/fields", json={
        "object": "Invoice__c", "name": "Invoice_Status__c", "type": "picklist", "restricted": True,
        "picklist_values": ["Draft", "Posted", "Paid"]})
    iid = await create(api, "Invoice__c", {"Invoice_Status__c": "Posted"})
    assert iid.startswith("a0X")
    assert (await api.get(f"{V}/sobjects/Invoice__c/{iid}")).json()["Name"] == "INV-00001"
    describe = (await api.get(f"{V}/sobjects/SBQQ__Quote__c/describe")).json()
    assert {"relationshipName": "SBQQ__LineItems__r", "childSObject": "SBQQ__QuoteLine__c"}.items() <= \
        next(c for c in describe["childRelationships"] if c["relationshipName"] == "SBQQ__LineItems__r").items()
    names = {o["name"] for o in (await api.get(f"{V}/sobjects")).json()["sobjects"]}
    assert {"Account", "Opportunity", "OpportunityLineItem", "PricebookEntry", "SBQQ__Quote__c", "Invoice__c"} <= names


async def test_deleted_and_updated_windows(api, client):
    aid = await create(api, "Account", {"Name": "Gone"})
    await api.delete(f"{V}/sobjects/Account/{aid}")
    now = (await client.get("/__admin/clock")).json()["now"]
    params = {"start": "2000-01-01T00:00:00+00:00", "end": "2100-01-01T00:00:00+00:00"}
    deleted = (await api.get(f"{V}/sobjects/Account/deleted/", params=params)).json()
    assert [d["id"] for d in deleted["deletedRecords"]] == [aid]
    keep = await create(api, "Account", {"Name": "Kept"})
    recent = {"start": now, "end": "2100-01-01T00:00:00+00:00"}  # replication looks back 30 days at most
    assert keep in (await api.get(f"{V}/sobjects/Account/updated/", params=recent)).json()["ids"]
    assert now
