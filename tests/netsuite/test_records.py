"""Record service behaviour: CRUD, eid upsert, references, sublists, amounts, applications, q filters, paging."""

from __future__ import annotations

from .conftest import problem


async def make_customer(client, name="Acme Ltd", **extra) -> str:
    r = await client.post("/record/v1/customer", json={"companyName": name, "subsidiary": {"id": "1"}, **extra})
    assert r.status_code == 204, r.text
    return r.headers["location"].rsplit("/", 1)[1]


async def make_item(client, rate=150) -> str:
    r = await client.post("/record/v1/serviceSaleItem", json={"itemId": "Consulting", "rate": rate})
    assert r.status_code == 204, r.text
    return r.headers["location"].rsplit("/", 1)[1]


async def test_create_get_patch_delete_customer(client):
    cid = await make_customer(client, email="ap@acme.test", externalId="CUST-1")
    r = await client.get(f"/record/v1/customer/{cid}")
    assert r.status_code == 200
    body = r.json()
    assert body["companyName"] == "Acme Ltd" and body["externalId"] == "CUST-1"
    assert body["subsidiary"]["id"] == "1" and body["subsidiary"]["refName"] == "Parent Company"
    assert body["currency"]["refName"] == "USD"
    assert body["links"][0]["href"].endswith(f"/services/rest/record/v1/customer/{cid}")
    assert (await client.patch(f"/record/v1/customer/{cid}", json={"email": "new@acme.test"})).status_code == 204
    r = await client.get("/record/v1/customer/eid:CUST-1", params={"fields": "email"})
    assert r.json()["email"] == "new@acme.test" and "companyName" not in r.json()
    assert (await client.delete(f"/record/v1/customer/{cid}")).status_code == 204
    r = await client.get(f"/record/v1/customer/{cid}")
    assert r.status_code == 404 and problem(r)["o:errorCode"] == "NONEXISTENT_ID"


async def test_put_by_external_id_upserts(client):
    r = await client.put("/record/v1/customer/eid:C-9", json={"companyName": "Nine", "subsidiary": {"id": "1"}})
    assert r.status_code == 204
    rid = r.headers["location"].rsplit("/", 1)[1]
    r = await client.put("/record/v1/customer/eid:C-9", json={"companyName": "Nine Renamed"})
    assert r.status_code == 204 and r.headers["location"].endswith(f"/customer/{rid}")
    assert (await client.get("/record/v1/customer/eid:C-9")).json()["companyName"] == "Nine Renamed"
    r = await client.put(f"/record/v1/customer/{rid}", json={"companyName": "x"})
    assert r.status_code == 400


async def test_validation_errors_name_the_field(client):
    r = await client.post("/record/v1/customer", json={"companyName": "No Sub"})
    assert r.status_code == 400
    d = problem(r)
    assert d["o:errorCode"] == "USER_ERROR" and d["o:errorPath"] == "subsidiary"
    r = await client.post("/record/v1/customer", json={"companyName": "X", "subsidiary": {"id": "9999"}})
    d = problem(r)
    assert d["o:errorCode"] == "INVALID_KEY_OR_REF" and d["o:errorPath"] == "subsidiary"
    assert "Invalid Field Value 9999" in d["detail"]
    r = await client.post("/record/v1/customer", json={"companyName": True, "subsidiary": {"id": "1"}})
    assert problem(r)["o:errorCode"] == "INVALID_CONTENT"
    r = await client.post("/record/v1/customer", content=b"{not json")
    assert r.status_code == 400 and problem(r)["o:errorCode"] == "INVALID_CONTENT"
    r = await client.post("/record/v1/customer", json={"companyName": "X", "subsidiary": {"id": "1"}, "bogus": 1},
                          headers={"X-NetSuite-PropertyNameValidation": "error"})
    assert problem(r)["o:errorCode"] == "INVALID_CONTENT" and problem(r)["o:errorPath"] == "bogus"
    r = await client.get("/record/v1/nosuchtype/1")
    assert r.status_code == 404


async def test_invoice_lines_amounts_payment_and_credit(client):
    cid = await make_customer(client)
    item = await make_item(client, rate=100)
    r = await client.post("/record/v1/invoice", json={
        "entity": {"id": cid}, "tranDate": "2026-01-31", "taxRate": 10,
        "item": {"items": [{"item": {"id": item}, "quantity": 3}, {"item": {"id": item}, "quantity": 1, "rate": 50}]}})
    assert r.status_code == 204, r.text
    inv = r.headers["location"].rsplit("/", 1)[1]
    body = (await client.get(f"/record/v1/invoice/{inv}")).json()
    assert body["subtotal"] == 350 and body["taxTotal"] == 35 and body["total"] == 385
    assert body["amountRemaining"] == 385 and body["status"] == "Open"
    assert body["item"] == {"links": [{"rel": "self", "href": body["links"][0]["href"] + "/item"}]}
    lines = (await client.get(f"/record/v1/invoice/{inv}", params={"expandSubResources": "true"})).json()["item"]
    assert lines["totalResults"] == 2 and lines["items"][0]["amount"] == 300
    line = (await client.get(f"/record/v1/invoice/{inv}/item/2")).json()
    assert line["rate"] == 50 and line["item"]["refName"] == "Consulting"
    # a credit memo applied to the invoice, then a payment that settles it
    r = await client.post("/record/v1/creditMemo", json={
        "entity": {"id": cid}, "item": {"items": [{"item": {"id": item}, "quantity": 1, "rate": 85}]},
        "apply": {"items": [{"doc": {"id": inv}, "amount": 85}]}})
    assert r.status_code == 204, r.text
    assert (await client.get(f"/record/v1/invoice/{inv}")).json()["amountRemaining"] == 300
    r = await client.post("/record/v1/customerPayment", json={
        "customer": {"id": cid}, "payment": 350, "apply": {"items": [{"doc": {"id": inv}, "amount": 301}]}})
    assert r.status_code == 400 and problem(r)["o:errorPath"] == "apply.items[0].amount"
    r = await client.post("/record/v1/customerPayment", json={
        "customer": {"id": cid}, "payment": 350, "apply": {"items": [{"doc": {"id": inv}, "amount": 300}]}})
    assert r.status_code == 204
    pay = r.headers["location"].rsplit("/", 1)[1]
    assert (await client.get(f"/record/v1/customerPayment/{pay}")).json()["unapplied"] == 50
    body = (await client.get(f"/record/v1/invoice/{inv}")).json()
    assert body["amountRemaining"] == 0 and body["status"] == "Paid In Full"
    r = await client.delete(f"/record/v1/invoice/{inv}")
    assert r.status_code == 400 and problem(r)["o:errorCode"] == "USER_ERROR"
    assert (await client.delete(f"/record/v1/customerPayment/{pay}")).status_code == 204
    assert (await client.get(f"/record/v1/invoice/{inv}")).json()["amountRemaining"] == 300


async def test_a_credit_memo_created_from_an_invoice_reverses_its_tax_and_closes_it(client):
    cid = await make_customer(client)
    item = await make_item(client, rate=100)
    r = await client.post("/record/v1/invoice", json={"entity": {"id": cid}, "taxRate": 20,
                                                      "item": {"items": [{"item": {"id": item}, "quantity": 3}]}})
    inv = r.headers["location"].rsplit("/", 1)[1]
    r = await client.post("/record/v1/creditMemo", json={
        "entity": {"id": cid}, "createdFrom": {"id": inv}, "taxRate": 20,
        "item": {"items": [{"item": {"id": item}, "quantity": 3}]}, "apply": {"items": [{"doc": {"id": inv},
                                                                                          "amount": 360}]}})
    assert r.status_code == 204, r.text
    cm = (await client.get(r.headers["location"].split("/services/rest")[1])).json()
    assert (cm["subtotal"], cm["taxTotal"], cm["total"], cm["unapplied"]) == (300, 60, 360, 0)
    assert cm["createdFrom"]["id"] == inv and cm["status"] == "Fully Applied"
    body = (await client.get(f"/record/v1/invoice/{inv}")).json()
    assert body["amountRemaining"] == 0 and body["status"] == "Paid In Full"


async def test_transform_bills_a_sales_order_and_credits_an_invoice(client):
    # docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157901123882.html: 204 and the new Location
    cid = await make_customer(client)
    item = await make_item(client, rate=100)
    r = await client.post("/record/v1/salesOrder", json={"entity": {"id": cid},
                                                         "item": {"items": [{"item": {"id": item}, "quantity": 2}]}})
    so = r.headers["location"].rsplit("/", 1)[1]
    r = await client.post(f"/record/v1/salesOrder/{so}/!transform/invoice", json={"memo": "from the order"})
    assert r.status_code == 204 and "/record/v1/invoice/" in r.headers["location"], r.text
    inv = (await client.get(r.headers["location"].split("/services/rest")[1])).json()
    assert (inv["entity"]["id"], inv["createdFrom"]["id"], inv["total"], inv["memo"]) == (cid, so, 200, "from the order")
    r = await client.post(f"/record/v1/invoice/{inv['id']}/!transform/creditMemo",
                          json={"apply": {"items": [{"doc": {"id": inv["id"]}, "amount": 200}]}})
    assert r.status_code == 204, r.text
    cm = (await client.get(r.headers["location"].split("/services/rest")[1])).json()
    assert (cm["createdFrom"]["id"], cm["total"], cm["status"]) == (inv["id"], 200, "Fully Applied")
    r = await client.post(f"/record/v1/salesOrder/{so}/!transform/creditMemo")
    assert r.status_code == 400 and problem(r)["o:errorCode"] == "INVALID_PARAMETER"
    r = await client.post("/record/v1/salesOrder/987654/!transform/invoice")
    assert r.status_code == 404


async def test_foreign_currency_needs_a_rate_by_date(client):
    r = await client.post("/record/v1/currency", json={"name": "EUR", "symbol": "EUR"})
    eur = r.headers["location"].rsplit("/", 1)[1]
    cid = await make_customer(client, currency={"id": eur})
    item = await make_item(client)
    invoice = {"entity": {"id": cid}, "tranDate": "2026-02-10", "item": {"items": [{"item": {"id": item}}]}}
    r = await client.post("/record/v1/invoice", json=invoice)
    assert r.status_code == 400 and problem(r)["o:errorPath"] == "exchangeRate"
    for day, rate in (("2026-01-01", 1.08), ("2026-02-01", 1.1), ("2026-03-01", 1.2)):
        r = await client.post("/record/v1/currencyRate", json={
            "baseCurrency": {"id": "1"}, "transactionCurrency": {"id": eur}, "exchangeRate": rate, "effectiveDate": day})
        assert r.status_code == 204, r.text
    r = await client.post("/record/v1/invoice", json=invoice)
    inv = (await client.get(r.headers["location"].split("/services/rest")[1])).json()
    assert inv["exchangeRate"] == 1.1 and inv["currency"]["refName"] == "EUR"


async def test_project_time_and_milestones(client):
    cid = await make_customer(client)
    r = await client.post("/record/v1/job", json={"companyName": "Rollout", "customer": {"id": cid},
                                                  "jobBillingType": {"id": "FBM"}})
    job = r.headers["location"].rsplit("/", 1)[1]
    body = (await client.get(f"/record/v1/job/{job}")).json()
    assert body["jobBillingType"] == {"id": "FBM", "refName": "Fixed Bid, Milestone"}
    r = await client.post("/record/v1/projectTask", json={"title": "Design", "project": {"id": job}})
    task = r.headers["location"].rsplit("/", 1)[1]
    r = await client.post("/record/v1/employee", json={"firstName": "Ada", "lastName": "L", "subsidiary": {"id": "1"}})
    emp = r.headers["location"].rsplit("/", 1)[1]
    r = await client.post("/record/v1/timeBill", json={"employee": {"id": emp}, "customer": {"id": job},
                                                       "caseTaskEvent": {"id": task}, "tranDate": "2026-01-05",
                                                       "hours": 7.5, "rate": 120})
    assert r.status_code == 204, r.text
    tb = (await client.get(r.headers["location"].split("/services/rest")[1])).json()
    assert tb["approvalStatus"]["refName"] == "Pending Approval" and tb["isBillable"] is True
    r = await client.post("/record/v1/BillingSchedule", json={
        "name": "Rollout milestones", "scheduleType": {"id": "FBM"}, "project": {"id": job},
        "milestone": {"items": [{"projectTask": {"id": task}, "milestonePercent": 60},
                                {"milestonePercent": 50}]}})
    assert r.status_code == 400 and problem(r)["o:errorPath"] == "milestone"


async def test_list_with_q_filters_and_paging(client):
    for i in range(5):
        await make_customer(client, name=f"Co {i}", email=f"{'x' if i % 2 else 'y'}{i}@t.test")
    r = await client.get("/record/v1/customer", params={"limit": 2})
    body = r.json()
    assert body["count"] == 2 and body["hasMore"] is True and body["totalResults"] == 5
    assert {link["rel"] for link in body["links"]} >= {"self", "next", "last"}
    assert set(body["items"][0]) == {"links", "id"}
    r = await client.get("/record/v1/customer", params={"q": 'email START_WITH "x"'})
    assert r.json()["totalResults"] == 2
    r = await client.get("/record/v1/customer", params={"q": 'email START_WITH x OR (companyName IS "co 0" AND id ANY_OF [1, 2])'})
    assert r.json()["totalResults"] == 3
    r = await client.get("/record/v1/customer", params={"q": "id BETWEEN [2, 3] AND email EMPTY_NOT"})
    assert [i["id"] for i in r.json()["items"]] == ["2", "3"]
    r = await client.get("/record/v1/customer", params={"q": 'createdDate ON_OR_AFTER "1/1/2000"'})
    assert r.json()["totalResults"] == 5
    r = await client.get("/record/v1/customer", params={"q": "email FROB x"})
    assert r.status_code == 400 and problem(r)["o:errorCode"] == "INVALID_PARAMETER"


async def test_snapshot_restore_keeps_records_and_credentials(sim, admin, client):
    cid = await make_customer(client, externalId="SNAP")
    snap = (await admin.get("/snapshot")).json()
    assert (await client.delete(f"/record/v1/customer/{cid}")).status_code == 204
    assert (await admin.post("/restore", json={"snapshot": snap})).status_code == 200
    assert (await client.get("/record/v1/customer/eid:SNAP")).json()["id"] == cid  # the bearer token survived too
    r = await client.post("/query/v1/suiteql", json={"q": "SELECT externalid FROM customer"})
    assert r.json()["items"] == [{"links": [], "externalid": "SNAP"}]
