"""SOQL through /query: relationships, subqueries, operators, date literals on the virtual clock, paging, errors."""

from __future__ import annotations

import pytest

from q2c_simulators.salesforce.soql import parse

from .conftest import V


async def q(api, text: str, status: int = 200) -> dict:
    r = await api.get(f"{V}/query/", params={"q": text})
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
async def seeded(api, client):
    await client.post("/__admin/clock", json={"set": "2024-03-15T12:00:00Z", "freeze": True})
    acme = (await api.post(f"{V}/sobjects/Account/", json={"Name": "Acme", "Industry": "Consulting"})).json()["id"]
    globex = (await api.post(f"{V}/sobjects/Account/", json={"Name": "Globex", "Industry": "Finance"})).json()["id"]
    for name, stage, amount, close in (("A1", "Closed Won", 100, "2024-03-10"), ("A2", "Prospecting", 50, "2024-04-01"),
                                       ("A3", "Closed Lost", None, "2024-01-05")):
        await api.post(f"{V}/sobjects/Opportunity/", json={"Name": name, "AccountId": acme, "StageName": stage,
                                                            "Amount": amount, "CloseDate": close})
    await api.post(f"{V}/sobjects/Contact/", json={"LastName": "O'Brien", "AccountId": globex})
    return acme, globex


async def test_parent_fields_and_child_subquery(api, seeded):
    acme, _ = seeded
    rows = (await q(api, "SELECT Name, Account.Name, Account.Owner.Name FROM Opportunity WHERE Name = 'A1'"))["records"]
    assert rows[0]["Account"]["Name"] == "Acme" and rows[0]["Account"]["Owner"]["Name"] == "Org Admin"
    assert rows[0]["Account"]["attributes"]["type"] == "Account"
    out = await q(api, "SELECT Name, (SELECT Name FROM Opportunities WHERE IsWon = false ORDER BY Name DESC) "
                       "FROM Account ORDER BY Name")
    acme_row, globex_row = out["records"]
    assert [o["Name"] for o in acme_row["Opportunities"]["records"]] == ["A3", "A2"]
    assert globex_row["Opportunities"] is None


async def test_operators_and_ordering(api, seeded):
    names = lambda out: [r["Name"] for r in out["records"]]  # noqa: E731
    assert names(await q(api, "SELECT Name FROM Opportunity WHERE Amount > 60 OR Amount = null ORDER BY Name")) == \
        ["A1", "A3"]
    assert names(await q(api, "SELECT Name FROM Opportunity WHERE StageName IN ('Closed Won', 'Closed Lost') "
                              "AND NOT Name = 'A3'")) == ["A1"]
    assert names(await q(api, "SELECT Name FROM Opportunity WHERE StageName NOT IN ('Closed Won') ORDER BY Amount "
                              "DESC NULLS LAST")) == ["A2", "A3"]
    assert names(await q(api, "SELECT Name FROM Account WHERE Name LIKE 'gl%'")) == ["Globex"]
    assert names(await q(api, "SELECT Name FROM Opportunity ORDER BY Name LIMIT 1 OFFSET 1")) == ["A2"]
    assert (await q(api, "SELECT LastName FROM Contact WHERE LastName = 'O\\'Brien'"))["totalSize"] == 1
    assert (await q(api, "SELECT COUNT() FROM Opportunity WHERE Account.Industry = 'Consulting'"))["totalSize"] == 3
    agg = await q(api, "SELECT COUNT(Id) n FROM Opportunity")
    assert agg["records"][0]["n"] == 3


async def test_date_literals_follow_the_virtual_clock(api, seeded, client):
    names = lambda out: sorted(r["Name"] for r in out["records"])  # noqa: E731
    assert names(await q(api, "SELECT Name FROM Opportunity WHERE CloseDate = THIS_MONTH")) == ["A1"]
    assert names(await q(api, "SELECT Name FROM Opportunity WHERE CloseDate = LAST_N_DAYS:90")) == ["A1", "A3"]
    assert names(await q(api, "SELECT Name FROM Opportunity WHERE CloseDate > TODAY")) == ["A2"]
    assert names(await q(api, "SELECT Name FROM Opportunity WHERE CloseDate >= 2024-03-10")) == ["A1", "A2"]
    assert (await q(api, "SELECT Id FROM Account WHERE CreatedDate = TODAY"))["totalSize"] == 2
    await client.post("/__admin/clock", json={"advance_seconds": 2 * 86400})
    assert (await q(api, "SELECT Id FROM Account WHERE CreatedDate = YESTERDAY"))["totalSize"] == 0
    assert (await q(api, "SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:2"))["totalSize"] == 2
    assert (await q(api, "SELECT Id FROM Account WHERE CreatedDate < 2024-03-16T00:00:00Z"))["totalSize"] == 2


async def test_the_same_query_text_follows_the_day_and_the_schema(api, seeded, client):
    """Plans are compiled once per text: the same text must still see a new day and a newly declared field."""
    today = "SELECT Id FROM Account WHERE CreatedDate = TODAY"
    assert (await q(api, today))["totalSize"] == 2
    await client.post("/__admin/clock", json={"advance_seconds": 86400})
    assert (await q(api, today))["totalSize"] == 0
    by_code = "SELECT Name FROM Account WHERE Code__c = 'G-1'"
    assert (await q(api, by_code, 400))[0]["errorCode"] == "INVALID_FIELD"
    r = await client.post("/__admin/salesforce/orgs/acme/fields", json={
        "object": "Account", "name": "Code__c", "type": "string", "external_id": True})
    assert r.status_code == 201, r.text
    _, globex = seeded
    await api.patch(f"{V}/sobjects/Account/{globex}", json={"Code__c": "G-1"})
    assert [r["Name"] for r in (await q(api, by_code))["records"]] == ["Globex"]


async def test_query_errors_use_salesforce_messages(api, seeded):
    err = (await q(api, "SELECT Id FROM Account WHERE", 400))[0]
    assert err["errorCode"] == "MALFORMED_QUERY" and "ERROR at Row:1:Column:" in err["message"]
    err = (await q(api, "SELECT Nope FROM Account", 400))[0]
    assert err["errorCode"] == "INVALID_FIELD" and "No such column 'Nope' on entity 'Account'" in err["message"]
    err = (await q(api, "SELECT Id FROM Nope__c", 400))[0]
    assert err["errorCode"] == "INVALID_TYPE"
    err = (await q(api, "SELECT Id FROM Opportunity WHERE Amount = 'x'", 400))[0]
    assert err["errorCode"] == "INVALID_FIELD" and "must be of type double" in err["message"]


async def test_paging_with_batch_size_and_cursor(api):
    records = [{"attributes": {"type": "Account"}, "Name": f"N{i:03d}"} for i in range(200)]
    for _ in range(2):
        await api.post(f"{V}/composite/sobjects", json={"records": records})
    r = await api.get(f"{V}/query/", params={"q": "SELECT Name FROM Account ORDER BY Name"},
                      headers={"Sforce-Query-Options": "batchSize=250"})
    first = r.json()
    assert first["done"] is False and len(first["records"]) == 250 and first["totalSize"] == 400
    rest = (await api.get(first["nextRecordsUrl"])).json()
    assert rest["done"] is True and len(rest["records"]) == 150 and "nextRecordsUrl" not in rest
    r = await api.get(f"{V}/query/01g8W0000000099-2000")
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_grammar_is_case_insensitive_and_cached():
    a = parse("select id, name from account where name like 'a%' order by name asc nulls first limit 5")
    assert a.sobject == "account" and a.limit == 5 and a.order[0].nulls_first
    assert parse("select id, name from account where name like 'a%' order by name asc nulls first limit 5") is a
