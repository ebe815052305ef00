"""sObject Get Updated (`GET /sobjects/{X}/updated/?start=&end=`) as Salesforce documents it:
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm (response
`{"ids": [...], "latestDateCovered": "2013-05-08T21:20:00.000+0000"}`, SystemModstamp, 30 days, 600,000 ids) and the
SOAP API's data replication pages (getUpdated(): seconds ignored, start strictly before end, else
INVALID_REPLICATION_DATE; latestDateCovered <= end, the safe start of the next call)."""

from __future__ import annotations

from .conftest import V
from .test_sobjects import create


async def at(client, iso: str) -> None:
    r = await client.post("/__admin/clock", json={"set": iso, "freeze": True})
    assert r.status_code == 200, r.text


async def updated(api, start: str, end: str, obj: str = "Account"):
    return await api.get(f"{V}/sobjects/{obj}/updated/", params={"start": start, "end": end})


async def test_seconds_are_ignored_and_both_bounds_included(api, client):
    await at(client, "2026-03-02T12:30:10Z")
    early = await create(api, "Account", {"Name": "Early"})       # 12:30:10: before start 12:30:15, same minute
    await at(client, "2026-03-02T12:35:00Z")
    edge = await create(api, "Account", {"Name": "Edge"})         # exactly the end minute
    await at(client, "2026-03-02T12:35:10Z")
    late = await create(api, "Account", {"Name": "Late"})         # after end 12:35:00 (12:35:15 with seconds)
    r = await updated(api, "2026-03-02T12:30:15+00:00", "2026-03-02T12:35:15+00:00")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"ids", "latestDateCovered"}
    assert set(body["ids"]) == {early, edge} and late not in body["ids"]
    assert body["latestDateCovered"] == "2026-03-02T12:35:00.000+0000"
    # the next span starts at latestDateCovered: the late record is there, the edge one again (at least once)
    nxt = (await updated(api, body["latestDateCovered"], "2026-03-02T12:40:00+00:00")).json()
    assert set(nxt["ids"]) == {edge, late}


async def test_an_end_after_now_is_covered_only_up_to_the_current_minute(api, client):
    await at(client, "2026-03-02T09:14:40Z")
    rid = await create(api, "Account", {"Name": "Now"})
    body = (await updated(api, "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z")).json()
    assert body == {"ids": [rid], "latestDateCovered": "2026-03-02T09:14:00.000+0000"}


async def test_updates_move_a_record_into_the_later_span_and_deleted_records_leave(api, client):
    await at(client, "2026-03-02T08:00:00Z")
    rid = await create(api, "Account", {"Name": "Moving"})
    gone = await create(api, "Account", {"Name": "Gone"})
    await at(client, "2026-03-02T08:10:30Z")
    assert (await api.patch(f"{V}/sobjects/Account/{rid}", json={"Name": "Moved"})).status_code == 204
    assert (await api.delete(f"{V}/sobjects/Account/{gone}")).status_code == 204
    first = (await updated(api, "2026-03-02T08:00:00Z", "2026-03-02T08:05:00Z")).json()
    assert first["ids"] == []  # its SystemModstamp is now 08:10:30
    second = (await updated(api, "2026-03-02T08:05:00Z", "2026-03-02T08:15:00Z")).json()
    assert second["ids"] == [rid]


async def test_refusals_are_salesforce_errors(api, client):
    await at(client, "2026-03-02T12:00:00Z")
    same_minute = await updated(api, "2026-03-02T11:30:05Z", "2026-03-02T11:30:50Z")
    assert same_minute.status_code == 400
    assert same_minute.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    too_old = await updated(api, "2026-01-15T00:00:00Z", "2026-03-01T00:00:00Z")
    assert too_old.status_code == 400 and too_old.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    missing = await api.get(f"{V}/sobjects/Account/updated/", params={"start": "2026-03-01T00:00:00Z"})
    assert missing.status_code == 400 and missing.json()[0]["errorCode"] == "MISSING_ARGUMENT"
    unknown = await updated(api, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", obj="Nope__c")
    assert unknown.status_code == 404 and unknown.json()[0]["errorCode"] == "NOT_FOUND"
