"""The core's HTTP interactions with each vendor, as pact V4 consumer contracts.

Each `*_pact()` declares the interactions; each `exercise_*()` drives the REAL connector client against the pact
mock server, making exactly the calls the flows make. `build_pacts(directory)` regenerates every pact file.
Provider states are named for business situations; ids the consumer cannot know in advance (internal ids, query
locators, job ids) come from the state through provider-state generators (`common.from_state`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from pact import Pact, match

from q2c_harness.connectors.http import BearerToken, RetryPolicy
from q2c_harness.connectors.netsuite import NetSuiteClient
from q2c_harness.connectors.psa import PsaClient
from q2c_harness.connectors.salesforce import SalesforceAuth, SalesforceClient

from .common import CONSUMER, from_state

NO_RETRY = RetryPolicy(max_attempts=1, base_delay=0, max_delay=0, max_total_delay=0)
ANY_AUTH = match.regex("Bearer contract-token", regex=r"^(Bearer|OAuth) .+")
JSON = "application/json"
NS_ONE = "application/vnd.oracle.resource+json; type=singular"
NS_MANY = "application/vnd.oracle.resource+json; type=collection"


def _pact(provider: str) -> Pact:
    return Pact(CONSUMER, provider).with_specification("V4")


# ---- NetSuite ----------------------------------------------------------------------------------------------------
NS = "/services/rest"
NS_LOCATION = match.regex("http://127.0.0.1/services/rest/record/v1/customer/107",
                          regex=r"^https?://.+/record/v1/customer/\d+$")
NS_SUBSIDIARY = {"id": from_state("3", "${subsidiaryId}")}
NS_SUITEQL = "SELECT id, companyname FROM customer WHERE externalid = 'CRM-1'"


def netsuite_pact() -> Pact:
    p = _pact("netsuite")
    (p.upon_receiving("upsert customer CRM-1 by external id")
     .given("subsidiary UK exists")
     .with_request("PUT", f"{NS}/record/v1/customer/eid:CRM-1")
     .with_header("Authorization", ANY_AUTH)
     .with_body({"companyName": "Acme Ltd", "subsidiary": NS_SUBSIDIARY, "currency": {"id": from_state("2", "${currencyId}")}},
                content_type=JSON)
     .will_respond_with(204)
     .with_header("Location", NS_LOCATION))
    (p.upon_receiving("read customer CRM-1 by external id")
     .given("customer with external id CRM-1 exists in subsidiary UK")
     .with_request("GET", f"{NS}/record/v1/customer/eid:CRM-1")
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200)
     .with_body({"id": match.like("107"), "externalId": "CRM-1", "companyName": match.like("Acme Ltd"),
                 "subsidiary": {"id": match.like("3")}, "currency": {"id": match.like("2")}}, content_type=NS_ONE))
    (p.upon_receiving("create customer CRM-2")
     .given("no customer with external id CRM-2 exists")
     .with_request("POST", f"{NS}/record/v1/customer")
     .with_header("Authorization", ANY_AUTH)
     .with_body({"externalId": "CRM-2", "companyName": "Beta GmbH", "subsidiary": NS_SUBSIDIARY}, content_type=JSON)
     .will_respond_with(204)
     .with_header("Location", NS_LOCATION))
    (p.upon_receiving("a SuiteQL query for customer CRM-1")
     .given("customer with external id CRM-1 exists in subsidiary UK")
     .with_request("POST", f"{NS}/query/v1/suiteql")
     .with_query_parameter("limit", "1000").with_query_parameter("offset", "0")
     .with_header("Authorization", ANY_AUTH).with_header("Prefer", "transient")
     .with_body({"q": NS_SUITEQL}, content_type=JSON)
     .will_respond_with(200)
     .with_body({"items": match.each_like({"id": match.like("107"), "companyname": "Acme Ltd"}),
                 "hasMore": False, "count": match.integer(1), "offset": 0, "totalResults": match.integer(1)},
                content_type=NS_MANY))
    (p.upon_receiving("read open invoice INV-1 with its amount remaining")
     .given("an open invoice INV-1 of 1,995.00 exists")
     .with_request("GET", from_state(f"{NS}/record/v1/invoice/201", NS + "/record/v1/invoice/${invoiceId}"))
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200)
     .with_body({"id": match.like("201"), "tranId": match.like("INV0001"), "total": match.number(1995.00),
                 "amountRemaining": match.number(1995.00), "status": match.like("Open")}, content_type=NS_ONE))
    (p.upon_receiving("list customer payments")
     .given("a customer payment of 500.00 is applied to invoice INV-2")
     .with_request("GET", f"{NS}/record/v1/customerPayment")
     .with_query_parameter("limit", "1000").with_query_parameter("offset", "0")
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200)
     .with_body({"items": match.each_like({"id": match.like("301")}), "hasMore": False,
                 "count": match.integer(1), "offset": 0, "totalResults": match.integer(1)}, content_type=NS_MANY))
    (p.upon_receiving("read a customer payment with its applications")
     .given("a customer payment of 500.00 is applied to invoice INV-2")
     .with_request("GET", from_state(f"{NS}/record/v1/customerPayment/301",
                                     NS + "/record/v1/customerPayment/${paymentId}"))
     .with_query_parameter("expandSubResources", "true")
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200)
     .with_body({"id": match.like("301"), "customer": {"id": match.like("107")}, "payment": match.number(500),
                 "applied": match.number(500), "unapplied": match.number(0),
                 "lastModifiedDate": match.like("2026-01-20T10:00:00Z"),
                 "apply": {"items": match.each_like({"doc": {"id": match.like("202")}, "amount": match.number(500)})}},
                content_type=NS_ONE))
    (p.upon_receiving("submit an async customer create with an idempotency key")
     .given("subsidiary UK exists")
     .with_request("POST", f"{NS}/record/v1/customer")
     .with_header("Authorization", ANY_AUTH).with_header("Prefer", "respond-async")
     .with_header("X-NetSuite-Idempotency-Key",
                  from_state("0b6d3c1e-2f4a-4e8b-9c1d-5a6b7c8d9e0f", "${idempotencyKey}"))
     .with_body({"externalId": "CRM-3", "companyName": "Gamma BV", "subsidiary": NS_SUBSIDIARY}, content_type=JSON)
     .will_respond_with(202)
     .with_header("Location", match.regex("http://127.0.0.1/services/rest/async/v1/job/1",
                                          regex=r"^https?://.+/async/v1/job/\d+$")))
    return p


async def exercise_netsuite(url: str) -> None:
    async with NetSuiteClient("Q2C_CONTRACTS", auth=BearerToken("contract-token"), base_url=url + NS,
                              retry=NO_RETRY) as ns:
        assert await ns.upsert("customer", "CRM-1", {"externalId": "CRM-1", "companyName": "Acme Ltd",
                                                     "subsidiary": {"id": "3"}, "currency": {"id": "2"}}) == "107"
        customer = await ns.get_by_external_id("customer", "CRM-1")
        assert customer["externalId"] == "CRM-1"
        assert await ns.create("customer", {"externalId": "CRM-2", "companyName": "Beta GmbH",
                                            "subsidiary": {"id": "3"}}) == "107"
        rows = await ns.suiteql_all(NS_SUITEQL)
        assert rows[0]["companyname"] == "Acme Ltd"
        invoice = await ns.get("invoice", "201")
        assert Decimal(str(invoice["amountRemaining"])) == Decimal("1995")
        ids = [i["id"] async for i in ns.list("customerPayment")]
        payment = await ns.get("customerPayment", ids[0], expand_sub_resources=True)
        assert payment["apply"]["items"][0]["doc"]["id"] == "202"
        job = await ns.submit_async("POST", "/record/v1/customer", json={"externalId": "CRM-3",
                                    "companyName": "Gamma BV", "subsidiary": {"id": "3"}},
                                    idempotency_key="0b6d3c1e-2f4a-4e8b-9c1d-5a6b7c8d9e0f")
        assert job.id == "1"


# ---- Salesforce --------------------------------------------------------------------------------------------------
SF = "/services/data/v59.0"
SF_OPP = from_state("0068W00000ABCDEQA4", "${opportunityId}")
SF_ID = match.regex("0068W00000ABCDEQA4", regex=r"^[a-zA-Z0-9]{18}$")
PAGING_SOQL = "SELECT Id, Name FROM Account WHERE Name LIKE 'Paging Co %' ORDER BY Name"
SF_NEXT = f"{SF}/query/01g8W00000QUERYAAA-200"
SF_STATUS = {"Invoice_Status__c": "Invoiced", "Invoice_Number__c": "INV0001", "Amount_Invoiced__c": 1995.00}


def salesforce_pact() -> Pact:
    p = _pact("salesforce")
    (p.upon_receiving("an OAuth password grant for the integration user")
     .given("integration user integration@contracts.q2c.example can log in")
     .with_request("POST", "/services/oauth2/token")
     .with_body("grant_type=password&client_id=q2c-contracts&client_secret=secret"
                "&username=integration%40contracts.q2c.example&password=contract-password",
                content_type="application/x-www-form-urlencoded")
     .will_respond_with(200)
     .with_body({"access_token": match.like("00D8W!AQtoken"), "instance_url": match.like("https://acme.my.salesforce.com"),
                 "token_type": "Bearer"}, content_type=JSON))
    (p.upon_receiving("upsert account CRM-1 by client id")
     .given("no account with client id CRM-1 exists")
     .with_request("PATCH", f"{SF}/sobjects/Account/Q2C_Client_Id__c/CRM-1")
     .with_header("Authorization", ANY_AUTH)
     .with_body({"Name": "Acme Ltd", "BillingCountry": "GB"}, content_type=JSON)
     .will_respond_with(201)
     .with_body({"id": match.regex("0018W00000ABCDEQA4", regex=r"^[a-zA-Z0-9]{18}$"), "success": True,
                 "created": True, "errors": []}, content_type=JSON))
    (p.upon_receiving("a SOQL query whose answer has a next page")
     .given("210 accounts named Paging Co exist")
     .with_request("GET", f"{SF}/query/")
     .with_query_parameter("q", PAGING_SOQL)
     .with_header("Authorization", ANY_AUTH).with_header("Sforce-Query-Options", "batchSize=200")
     .will_respond_with(200)
     .with_body({"totalSize": match.integer(210), "done": False,
                 "nextRecordsUrl": match.regex(SF_NEXT, regex=r"^/services/data/v59\.0/query/[^/]+$"),
                 "records": match.each_like({"Id": SF_ID, "Name": match.like("Paging Co 000")})}, content_type=JSON))
    (p.upon_receiving("the next page of a SOQL query")
     .given("210 accounts named Paging Co exist")
     .with_request("GET", from_state(SF_NEXT, "${nextRecordsUrl}", r"^/services/data/v59\.0/query/[^/]+$"))
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200)
     .with_body({"totalSize": match.integer(210), "done": True,
                 "records": match.each_like({"Id": SF_ID, "Name": match.like("Paging Co 200")})}, content_type=JSON))
    (p.upon_receiving("read a closed-won opportunity")
     .given("opportunity Acme Rollout is Closed Won")
     .with_request("GET", from_state(f"{SF}/sobjects/Opportunity/0068W00000ABCDEQA4",
                                     SF + "/sobjects/Opportunity/${opportunityId}"))
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200)
     .with_body({"Id": SF_ID, "Name": match.like("Acme Rollout"), "StageName": "Closed Won", "IsWon": True,
                 "AccountId": match.regex("0018W00000ABCDEQA4", regex=r"^[a-zA-Z0-9]{18}$"),
                 "CurrencyIsoCode": match.like("USD")}, content_type=JSON))
    (p.upon_receiving("read change events from the start")
     .given("opportunity Acme Rollout is Closed Won")
     .with_request("GET", f"{SF}/sim/events/ChangeEvents")
     .with_query_parameter("replayId", "-2").with_query_parameter("limit", "100")
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200)
     .with_body({"channel": match.like("/data/ChangeEvents"), "latestReplayId": match.integer(3),
                 "events": match.each_like({"replayId": match.integer(1), "channel": match.like("/data/OpportunityChangeEvent"),
                                            "payload": {"ChangeEventHeader": {
                                                "entityName": match.like("Opportunity"),
                                                "changeType": match.like("UPDATE"),
                                                "recordIds": match.each_like("0068W00000ABCDEQA4")}}})},
                content_type=JSON))
    (p.upon_receiving("update the opportunity's invoice status")
     .given("opportunity Acme Rollout is Closed Won")
     .with_request("PATCH", from_state(f"{SF}/sobjects/Opportunity/0068W00000ABCDEQA4",
                                       SF + "/sobjects/Opportunity/${opportunityId}"))
     .with_header("Authorization", ANY_AUTH)
     .with_body(SF_STATUS, content_type=JSON)
     .will_respond_with(204))
    return p


async def exercise_salesforce(url: str) -> None:
    auth = SalesforceAuth(grant="password", client_id="q2c-contracts", client_secret="secret",
                          username="integration@contracts.q2c.example", password="contract-password", login_url=url)
    async with SalesforceClient(url, auth=auth, retry=NO_RETRY) as sf:
        res = await sf.upsert("Account", "Q2C_Client_Id__c", "CRM-1", {"Name": "Acme Ltd", "BillingCountry": "GB"})
        assert res.created
        rows = await sf.query_all(PAGING_SOQL, headers={"Sforce-Query-Options": "batchSize=200"})
        assert len(rows) == 2
        opp = await sf.get("Opportunity", "0068W00000ABCDEQA4")
        assert opp["IsWon"] is True
        events = [e async for e in sf.change_events("/data/ChangeEvents", replay_id=-2)]
        assert events[0]["payload"]["ChangeEventHeader"]["entityName"] == "Opportunity"
        await sf.update("Opportunity", "0068W00000ABCDEQA4", {**SF_STATUS, "Amount_Invoiced__c": Decimal("1995.00")})


# ---- PSA ---------------------------------------------------------------------------------------------------------
PSA = "/api/v1"
PSA_TYPES = "timesheet_submission:approved,expense:approved,expense_report_submission:approved,billing_milestone:accepted"


def _envelope(key: str, record: dict[str, Any], example_id: str = "12") -> dict[str, Any]:
    return {"count": match.integer(1),
            "results": match.each_like({"key": key, "id": match.like(example_id)}),
            key: match.each_value_matches({example_id: record}, rules=match.like(record)),
            "meta": {"count": match.integer(1), "page_count": match.integer(1), "page_number": match.integer(1),
                     "page_size": match.integer(200)}}


WORKSPACE = {"id": match.like("12"), "title": match.like("Acme Rollout"), "price_in_cents": match.integer(199500)}
TIME_ENTRY = {"id": match.like("41"), "workspace_id": match.like("12"), "user_id": match.like("3"),
              "date_performed": match.like("2026-01-05"), "time_in_minutes": match.integer(90),
              "billable": match.boolean(True), "approval_state": match.like("approved")}
MILESTONE = {"id": match.like("7"), "workspace_id": match.like("12"), "title": match.like("Design sign-off"),
             "amount_in_cents": match.integer(500000), "acceptance_state": match.like("accepted")}


def psa_pact() -> Pact:
    p = _pact("psa")
    ws_id = from_state("12", "${workspaceId}")
    (p.upon_receiving("read a workspace")
     .given("workspace Acme Rollout exists with reference ENG-1")
     .with_request("GET", from_state(f"{PSA}/workspaces/12.json", PSA + "/workspaces/${workspaceId}.json"))
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200).with_body(_envelope("workspaces", WORKSPACE), content_type=JSON))
    (p.upon_receiving("find the external reference of engagement ENG-1")
     .given("workspace Acme Rollout exists with reference ENG-1")
     .with_request("GET", f"{PSA}/external_references.json")
     .with_query_parameter("service_name", "q2c").with_query_parameter("service_model", "Engagement")
     .with_query_parameter("service_model_ref", "ENG-1").with_query_parameter("subject_type", "Workspace")
     .with_query_parameter("page", "1").with_query_parameter("per_page", "200")
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200).with_body(_envelope("external_references", {
         "id": match.like("5"), "subject_type": "Workspace", "subject_id": match.like("12"), "service_name": "q2c",
         "service_model": "Engagement", "service_model_ref": "ENG-1"}, "5"), content_type=JSON))
    (p.upon_receiving("list the time entries of a workspace")
     .given("time entries are logged on workspace Acme Rollout")
     .with_request("GET", f"{PSA}/time_entries.json")
     .with_query_parameter("workspace_id", ws_id)
     .with_query_parameter("page", "1").with_query_parameter("per_page", "200")
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200).with_body(_envelope("time_entries", TIME_ENTRY, "41"), content_type=JSON))
    (p.upon_receiving("read subscribed events after a cursor")
     .given("a timesheet for workspace Acme Rollout is submitted")
     .with_request("GET", f"{PSA}/subscribed_events.json")
     .with_query_parameter("since_id", "0").with_query_parameter("event_types", PSA_TYPES)
     .with_query_parameter("per_page", "200").with_query_parameter("page", "1")
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200).with_body(_envelope("subscribed_events", {
         "id": match.like("17"), "event_type": match.like("timesheet_submission:approved"),
         "subject_type": match.like("TimesheetSubmission"), "subject_id": match.like("9"),
         "created_at": match.like("2026-01-12T09:00:00.000000+00:00")}, "17"), content_type=JSON))
    (p.upon_receiving("approve a submitted timesheet")
     .given("a timesheet for workspace Acme Rollout is submitted")
     .with_request("PUT", from_state(f"{PSA}/timesheet_submissions/9/approve.json",
                                     PSA + "/timesheet_submissions/${submissionId}/approve.json"))
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200).with_body(_envelope("timesheet_submissions", {
         "id": match.like("9"), "workspace_id": match.like("12"), "status": match.like("approved")}, "9"),
         content_type=JSON))
    (p.upon_receiving("accept a pending billing milestone")
     .given("a pending billing milestone Design sign-off of 5,000.00 exists")
     .with_request("PUT", from_state(f"{PSA}/billing_milestones/7/accept.json",
                                     PSA + "/billing_milestones/${milestoneId}/accept.json"))
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200).with_body(_envelope("billing_milestones", MILESTONE, "7"), content_type=JSON))
    (p.upon_receiving("read a billing milestone")
     .given("a pending billing milestone Design sign-off of 5,000.00 exists")
     .with_request("GET", from_state(f"{PSA}/billing_milestones/7.json", PSA + "/billing_milestones/${milestoneId}.json"))
     .with_header("Authorization", ANY_AUTH)
     .will_respond_with(200).with_body(_envelope("billing_milestones", MILESTONE, "7"), content_type=JSON))
    return p


async def exercise_psa(url: str) -> None:
    async with PsaClient(url + PSA, token="contract-token", retry=NO_RETRY) as psa:
        ws = await psa.get("workspaces", "12")
        assert ws["title"] == "Acme Rollout"
        refs = await psa.find_external_references(service_name="q2c", service_model="Engagement",
                                                  service_model_ref="ENG-1", subject_type="Workspace")
        assert refs[0]["subject_id"] == "12"
        entries = await psa.list_all("time_entries", filters={"workspace_id": "12"})
        assert entries[0]["time_in_minutes"] == 90
        events = [e async for e in psa.events(since_id=0, event_types=PSA_TYPES.split(","))]
        assert events[0]["event_type"] == "timesheet_submission:approved"
        assert (await psa.approve_timesheet("9"))["status"] == "approved"
        assert (await psa.accept_milestone("7"))["acceptance_state"] == "accepted"
        assert (await psa.get("billing_milestones", "7"))["amount_in_cents"] == 500000


# ---- generation --------------------------------------------------------------------------------------------------
BUILDERS: dict[str, tuple[Callable[[], Pact], Callable[[str], Awaitable[None]]]] = {
    "salesforce": (salesforce_pact, exercise_salesforce),
    "netsuite": (netsuite_pact, exercise_netsuite),
    "psa": (psa_pact, exercise_psa),
}


def build_pact(provider: str, directory: Path) -> Path:
    declare, exercise = BUILDERS[provider]
    pact = declare()
    with pact.serve(addr="127.0.0.1") as srv:
        asyncio.run(exercise(str(srv.url).rstrip("/")))
    Path(directory).mkdir(parents=True, exist_ok=True)
    pact.write_file(directory, overwrite=True)
    return Path(directory) / f"{CONSUMER}-{provider}.json"


def build_pacts(directory: Path, providers: list[str] | None = None) -> list[Path]:
    return [build_pact(p, directory) for p in (providers or list(BUILDERS))]
