"""Pure mappers between the canonical model and vendor payloads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from q2c_harness.canonical import (
    Client,
    ContractVersion,
    Engagement,
    FixedFeePlan,
    FxPolicy,
    InvoiceEvent,
    InvoiceLine,
    StatementOfWork,
    TimeAndMaterialsPlan,
    TimeTransaction,
)
from q2c_harness.connectors.errors import BusinessError, ContractError
from q2c_harness.connectors.http import dumps_json
from q2c_harness.connectors.mapping import external_id, from_cents, to_cents
from q2c_harness.connectors.mapping import netsuite as ns_map
from q2c_harness.connectors.mapping import psa as psa_map
from q2c_harness.connectors.mapping import salesforce as sf_map

CID = "corr-1"


def client() -> Client:
    return Client(correlation_id=CID, client_id="cl-1001", name="Acme GmbH", country="DE", billing_currency="EUR",
                  vat_id="DE123456789")


def test_external_ids_are_upper_case_for_netsuite():
    assert external_id("CLIENT", "cl-1001") == "Q2C-CLIENT-CL-1001"
    with pytest.raises(BusinessError):
        external_id("CLIENT", "")


def test_cents_exact_or_refused():
    assert to_cents(Decimal("1250.10")) == 125010
    assert from_cents(125010) == Decimal("1250.10")
    with pytest.raises(BusinessError):
        to_cents(Decimal("0.005"))
    with pytest.raises(ContractError):
        from_cents(12.5)


def test_account_client_round_trip():
    account = {"Id": "001000000000001AAA", "Name": "Acme GmbH", "BillingCountry": "DE", "CurrencyIsoCode": "EUR",
               "Q2C_Client_Id__c": "cl-1001", "VAT_Number__c": "DE123456789"}
    c = sf_map.client_from_account(account, correlation_id=CID)
    assert (c.client_id, c.country, c.billing_currency, c.xref) == ("cl-1001", "DE", "EUR",
                                                                    {"salesforce": "001000000000001AAA"})
    assert sf_map.account_fields(c) == {"Name": "Acme GmbH", "BillingCountry": "DE", "CurrencyIsoCode": "EUR",
                                        "VAT_Number__c": "DE123456789"}
    with pytest.raises(BusinessError):
        sf_map.client_from_account({**account, "BillingCountry": "Germany"}, correlation_id=CID)


def quote_records(charge: str = "One-Time"):
    opp = {"Id": "006A", "Name": "Acme rollout", "AccountId": "001A", "CurrencyIsoCode": "EUR"}
    quote = {"Id": "a0CA", "SBQQ__Opportunity2__c": "006A", "SBQQ__Account__c": "001A",
             "SBQQ__NetAmount__c": Decimal("30000.00"), "SBQQ__StartDate__c": "2026-01-01",
             "SBQQ__EndDate__c": "2026-06-30"}
    lines = [
        {"Id": "a0DA", "SBQQ__Quote__c": "a0CA", "SBQQ__Quantity__c": Decimal("1"),
         "SBQQ__NetPrice__c": Decimal("10000.00"), "SBQQ__NetTotal__c": Decimal("10000.00"),
         "SBQQ__ChargeType__c": charge, "SBQQ__Description__c": "Discovery", "SBQQ__EndDate__c": "2026-02-28",
         "SBQQ__BillingFrequency__c": "Monthly"},
        {"Id": "a0DB", "SBQQ__Quote__c": "a0CA", "SBQQ__Quantity__c": 2, "SBQQ__NetPrice__c": Decimal("10000.00"),
         "SBQQ__NetTotal__c": Decimal("20000.00"), "SBQQ__ChargeType__c": charge, "SBQQ__Description__c": "Build",
         "SBQQ__BillingFrequency__c": "Monthly"},
    ]
    return opp, quote, lines


def test_quote_to_engagement_sow_and_fixed_fee_plan():
    terms = sf_map.quote_terms(*quote_records())
    assert terms.net_amount == Decimal("30000.00") and terms.currency == "EUR"
    assert [line.quantity for line in terms.lines] == [Decimal("1"), Decimal("2")]
    eng = sf_map.engagement_from_quote(terms, engagement_id="ENG-1", client_id="cl-1001",
                                       contracting_entity_id="LE-DE", correlation_id=CID)
    plan = sf_map.billing_plan_from_quote(terms, billing_plan_id="BP-1", sow_id="SOW-1", correlation_id=CID)
    assert isinstance(plan, FixedFeePlan) and plan.fee == Decimal("30000.00")
    assert [(m.name, m.amount, m.due_date) for m in plan.milestones] == [
        ("Discovery", Decimal("10000.00"), date(2026, 2, 28)), ("Build", Decimal("20000.00"), date(2026, 6, 30))]
    sow = sf_map.statement_of_work_from_quote(terms, sow_id="SOW-1", engagement_id=eng.engagement_id,
                                              billing_plan=plan, correlation_id=CID)
    assert sow.baseline.value == sow.current.value == Decimal("30000.00") and sow.xref == {"salesforce": "a0CA"}
    assert eng.delivering_entity_ids == ["LE-DE"] and eng.xref == {"salesforce": "006A"}


def test_quote_recurring_and_usage_plans():
    recurring = sf_map.billing_plan_from_quote(sf_map.quote_terms(*quote_records("Recurring")), billing_plan_id="BP",
                                               sow_id="S", correlation_id=CID)
    assert recurring.kind == "recurring_fee" and recurring.frequency == "monthly"
    assert recurring.amount_per_period == Decimal("20000.00")
    usage = sf_map.quote_terms(*quote_records("Usage"))
    with pytest.raises(BusinessError):
        sf_map.billing_plan_from_quote(usage, billing_plan_id="BP", sow_id="S", correlation_id=CID)
    tm = sf_map.billing_plan_from_quote(usage, billing_plan_id="BP", sow_id="S", correlation_id=CID,
                                        rate_card_id="RC-1", fx_policy=FxPolicy(rate_type="spot",
                                                                                rate_date_rule="work_date"))
    assert isinstance(tm, TimeAndMaterialsPlan) and tm.not_to_exceed == Decimal("30000.00")


def test_mixed_charge_kinds_refused():
    opp, quote, lines = quote_records()
    lines[1]["SBQQ__ChargeType__c"] = "Recurring"
    with pytest.raises(BusinessError) as info:
        sf_map.billing_plan_from_quote(sf_map.quote_terms(opp, quote, lines), billing_plan_id="BP", sow_id="S",
                                       correlation_id=CID)
    assert info.value.code == "MIXED_CHARGE_KINDS"


def invoice(**over) -> InvoiceEvent:
    lines = [
        InvoiceLine(line_id="L1", kind="time", description="Consulting Jan", quantity=Decimal("12.5"),
                    unit_price=Decimal("150.00"), amount=Decimal("1875.00"), source_ids=["te-1", "te-2"],
                    contract_version=1),
        InvoiceLine(line_id="L2", kind="time", description="FX-rated", quantity=Decimal("0.833333"),
                    unit_price=Decimal("137.17"), amount=Decimal("114.30"), source_ids=["te-3"], contract_version=1),
    ]
    base = dict(correlation_id=CID, invoice_id="INV-2026-0001", sow_id="SOW-1", engagement_id="ENG-1",
                client_id="cl-1001", contracting_entity_id="LE-DE", invoice_date=date(2026, 1, 31), currency="EUR",
                contract_version=1, lines=lines, net_total=Decimal("1989.30"), tax_total=Decimal("0"),
                gross_total=Decimal("1989.30"), booking_fx_rate=Decimal("1.0825"),
                reverse_charge_note="Reverse charge: Art. 196 VAT Directive")
    base.update(over)
    return InvoiceEvent(**base)


def test_invoice_payload_keeps_money_exact():
    body = ns_map.invoice_payload(invoice(), customer_id="647", subsidiary_id="2", currency_id="4", job_id="88",
                                  item_ids={"time": "501"}, custom_fields=True)
    assert body["externalId"] == "Q2C-INVOICE-INV-2026-0001"
    assert body["entity"] == {"id": "647"} and body["subsidiary"] == {"id": "2"} and body["currency"] == {"id": "4"}
    assert body["exchangeRate"] == Decimal("1.0825") and body["tranDate"] == "2026-01-31"
    l1, l2 = body["item"]["items"]
    assert (l1["quantity"], l1["rate"]) == (Decimal("12.5"), Decimal("150.00"))
    assert "te-1,te-2" in l1["description"] and l1["custcol_q2c_source_ids"] == "te-1,te-2"
    # 0.833333 x 137.17 = 114.31 at cents, but rating (hours x rate x fx) made 114.30: sent as 1 x amount, the real quantity kept in the text
    assert (l2["quantity"], l2["rate"]) == (Decimal("1"), Decimal("114.30"))
    assert "0.833333 x 137.17" in l2["description"]
    assert "Art. 196" in body["memo"] and body["custbody_q2c_correlation_id"] == CID
    assert b'"rate":114.30' in dumps_json(body) and b'"exchangeRate":1.0825' in dumps_json(body)
    with pytest.raises(BusinessError):
        ns_map.invoice_payload(invoice(), customer_id="1", subsidiary_id="1", currency_id="1", item_ids={})


def test_customer_job_and_time_bill_payloads():
    c = client()
    assert ns_map.customer_payload(c, subsidiary_id="2", currency_id="4") == {
        "externalId": "Q2C-CLIENT-CL-1001", "companyName": "Acme GmbH", "subsidiary": {"id": "2"},
        "currency": {"id": "4"}}
    back = ns_map.client_from_customer({"id": "647", "companyName": "Acme GmbH", "externalId": "Q2C-CLIENT-CL-1001",
                                        "currency": {"id": "4", "refName": "EUR"}}, correlation_id=CID, country="DE")
    assert (back.client_id, back.billing_currency, back.xref) == ("CL-1001", "EUR", {"netsuite": "647"})
    eng = Engagement(correlation_id=CID, engagement_id="ENG-1", client_id="cl-1001", name="Acme rollout",
                     contracting_entity_id="LE-DE", currency="EUR")
    job = ns_map.job_payload(eng, customer_id="647", subsidiary_id="2", start_date=date(2026, 1, 5))
    assert job == {"externalId": "Q2C-ENGAGEMENT-ENG-1", "companyName": "Acme rollout", "customer": {"id": "647"},
                   "subsidiary": {"id": "2"}, "startDate": "2026-01-05"}
    tx = TimeTransaction(correlation_id=CID, time_entry_id="te-9", engagement_id="ENG-1", sow_id="SOW-1",
                         resource_id="u-1", role="Consultant", region="EU", delivering_entity_id="LE-DE",
                         work_date=date(2026, 1, 12), hours=Decimal("7.5"), approval_state="approved", billable=True)
    tb = ns_map.time_bill_payload(tx, employee_id="31", job_id="88", item_id="501", rate=Decimal("150.00"))
    assert (tb["externalId"], tb["hours"], tb["rate"], tb["approvalStatus"], tb["customer"]) == (
        "Q2C-TIME-TE-9", Decimal("7.5"), Decimal("150.00"), "2", {"id": "88"})


def test_invoice_status_and_salesforce_writeback():
    assert ns_map.invoice_status({"status": {"id": "B", "refName": "Paid In Full"}}) == "paid"
    assert ns_map.invoice_status({"status": "Open"}) == "posted"
    assert ns_map.invoice_status({"total": Decimal("100"), "amountRemaining": Decimal("40")}) == "partially_paid"
    with pytest.raises(ContractError):
        ns_map.invoice_status({"status": "Haunted"})
    fields = sf_map.invoice_status_fields(invoice(status="partially_paid"), amount_paid=Decimal("500.00"),
                                         invoice_number="INV1042", last_payment_date=date(2026, 2, 15))
    assert fields == {"Invoice_Status__c": "Partially Paid", "Amount_Invoiced__c": Decimal("1989.30"),
                      "Last_Invoice_Date__c": "2026-01-31", "Invoice_Number__c": "INV1042",
                      "Amount_Paid__c": Decimal("500.00"), "Last_Payment_Date__c": "2026-02-15"}


def test_payment_from_netsuite():
    p = ns_map.payment_from_netsuite({"id": "77", "tranId": "PYMT12", "tranDate": "2026-02-15",
                                      "payment": Decimal("500.00"), "currency": {"id": "4", "refName": "EUR"},
                                      "exchangeRate": Decimal("1.09")}, correlation_id=CID, client_id="cl-1001")
    assert (p.payment_id, p.amount, p.currency, p.settlement_fx_rate) == ("PYMT12", Decimal("500.00"), "EUR",
                                                                          Decimal("1.09"))


def test_psa_workspace_and_time_mapping():
    eng = Engagement(correlation_id=CID, engagement_id="ENG-1", client_id="cl-1001", name="Acme rollout",
                     contracting_entity_id="LE-DE", currency="EUR")
    v1 = ContractVersion(version=1, value=Decimal("30000.00"), budget=Decimal("27500.50"),
                         end_date=date(2026, 6, 30))
    terms = sf_map.quote_terms(*quote_records())
    plan = sf_map.billing_plan_from_quote(terms, billing_plan_id="BP-1", sow_id="SOW-1", correlation_id=CID)
    sow = StatementOfWork(correlation_id=CID, sow_id="SOW-1", engagement_id="ENG-1", currency="EUR", baseline=v1,
                          current=v1, billing_plan=plan)
    ws = psa_map.workspace_payload(eng, sow, client_name="Acme GmbH")
    assert ws == {"title": "Acme rollout", "currency": "EUR", "client_name": "Acme GmbH", "price_in_cents": 3000000,
                  "budget_in_cents": 2750050, "billing_mode": "fixed_fee", "due_date": "2026-06-30"}
    assert psa_map.engagement_reference("ENG-1")["service_model_ref"] == "ENG-1"
    entry = {"id": "41", "user_id": "7", "date_performed": "2026-01-12", "time_in_minutes": 50,
             "approval_state": "approved", "billable": True, "is_invoiced": False}
    tx = psa_map.time_transaction_from_entry(entry, correlation_id=CID, engagement_id="ENG-1", sow_id="SOW-1",
                                             role="Consultant", region="EU", delivering_entity_id="LE-DE")
    assert tx.hours == Decimal("0.833333") and tx.approval_state == "approved" and tx.xref == {"psa": "41"}
    assert psa_map.hours_from_minutes(90) == Decimal("1.5")
    ms = psa_map.milestone_from_psa({"id": "5", "title": "Discovery", "amount_in_cents": 1000000,
                                     "due_date": "2026-02-28", "acceptance_state": "accepted",
                                     "accepted_at": "2026-02-27T10:00:00+00:00"}, sow_id="SOW-1", correlation_id=CID)
    assert (ms.amount, ms.status, ms.accepted_on) == (Decimal("10000.00"), "accepted", date(2026, 2, 27))
    assert psa_map.milestone_payload(ms, workspace_id="11") == {"workspace_id": 11, "title": "Discovery",
                                                                "amount_in_cents": 1000000, "due_date": "2026-02-28"}
    exp = psa_map.expense_transaction_from_psa({"id": "3", "user_id": "7", "date": "2026-01-15", "category": "Travel",
                                                "amount_in_cents": 12345, "currency": "EUR",
                                                "approval_state": "submitted"}, correlation_id=CID,
                                               engagement_id="ENG-1", sow_id="SOW-1", delivering_entity_id="LE-DE")
    assert (exp.amount, exp.approval_state) == (Decimal("123.45"), "submitted")
