"""The Stripe wire in-process: forms, auth, the state machines, refunds, lists, expand, idempotency, limits."""

from __future__ import annotations

import pytest

from q2c_simulators.kernel import QuotaSpec
from q2c_simulators.kernel.faults import fault_rule_adapter
from q2c_simulators.payments.exceptions import StripeError
from q2c_simulators.payments.params import parse_form

from .conftest import client_for


async def post(api, path, headers=None, **data):
    return await api.post(path, data=data, headers=headers or {})


async def intent(api, pm="pm_card_visa", amount="5000", **extra):
    r = await api.post("/v1/payment_intents", data={"amount": amount, "currency": "usd", "payment_method": pm,
                                                    "confirm": "true", **extra})
    return r


def test_forms_parse_as_stripe_encodes_them():
    assert parse_form(b"metadata[a]=1&expand[0]=x&expand[1]=y&types[]=p&types[]=q&e=") == {
        "metadata": {"a": "1"}, "expand": {"0": "x", "1": "y"}, "types": {"": ["p", "q"]}, "e": ""}
    with pytest.raises(StripeError):
        parse_form(b"k=1&k=2")


async def test_auth_errors_are_stripes(sim):
    async with client_for(sim) as api:
        api.headers.pop("Authorization")
        r = await api.get("/v1/customers")
        assert r.status_code == 401 and "You did not provide an API key" in r.json()["error"]["message"]
        r = await api.get("/v1/customers", headers={"Authorization": "Bearer sk_test_acme_000000000000000000000000"})
        assert r.status_code == 401 and "Invalid API Key provided: sk_test_****0000" in r.json()["error"]["message"]
        assert r.json()["error"]["type"] == "invalid_request_error" and r.headers["request-id"].startswith("req_")
    async with client_for(sim) as api:  # a key of acme cannot act in another tenant
        assert (await api.get("/v1/customers", headers={"X-Sim-Tenant": "other"})).status_code == 401


async def test_parameters_are_checked(api):
    r = await post(api, "/v1/customers", bogus="1")
    assert r.status_code == 400 and r.json()["error"] | {"doc_url": None} == {
        "type": "invalid_request_error", "message": "Received unknown parameter: bogus", "param": "bogus",
        "code": "parameter_unknown", "doc_url": None}
    r = await post(api, "/v1/payment_intents", currency="usd")
    assert r.json()["error"]["code"] == "parameter_missing" and r.json()["error"]["param"] == "amount"
    r = await post(api, "/v1/payment_intents", amount="ten", currency="usd")
    assert r.json()["error"]["code"] == "parameter_invalid_integer"
    r = await api.get("/v1/customers", params={"limit": "101"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
    r = await api.post("/v1/customers", json={"email": "x@y"})
    assert r.status_code == 400 and "form-encoded" in r.json()["error"]["message"]


async def test_automatic_capture_succeeds_and_emits_events(api):
    r = await intent(api, **{"expand[0]": "latest_charge"})
    pi = r.json()
    assert r.status_code == 200 and pi["status"] == "succeeded" and pi["amount_received"] == 5000
    assert pi["latest_charge"]["captured"] is True and pi["latest_charge"]["payment_method_details"]["card"]["last4"] == "4242"
    assert pi["payment_method"].startswith("pm_") and pi["payment_method"] != "pm_card_visa"
    types = [e["type"] for e in (await api.get("/v1/events")).json()["data"]]
    assert types == ["payment_intent.succeeded", "charge.succeeded", "payment_intent.created"]


@pytest.mark.parametrize("pm, code, decline", [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
    ("pm_card_chargeDeclinedFraudulent", "card_declined", "fraudulent"),
])
async def test_declines_carry_their_codes_and_keep_the_failed_charge(api, pm, code, decline):
    r = await intent(api, pm)
    err = r.json()["error"]
    assert r.status_code == 402 and err["type"] == "card_error" and (err["code"], err["decline_code"]) == (code, decline)
    pi = (await api.get(f"/v1/payment_intents/{err['payment_intent']['id']}")).json()
    assert pi["status"] == "requires_payment_method" and pi["last_payment_error"]["decline_code"] == decline
    charge = (await api.get(f"/v1/charges/{err['charge']}")).json()
    assert charge["status"] == "failed" and charge["failure_code"] == code


async def test_authentication_required_on_and_off_session(api):
    r = await intent(api, "pm_card_authenticationRequired")
    assert r.json()["status"] == "requires_action" and r.json()["next_action"]["type"] == "use_stripe_sdk"
    r = await intent(api, "pm_card_authenticationRequired", off_session="true")
    assert r.status_code == 402 and r.json()["error"]["decline_code"] == "authentication_required"


async def test_manual_capture_partial_then_refunds(api):
    pi = (await intent(api, capture_method="manual")).json()
    assert pi["status"] == "requires_capture" and pi["amount_capturable"] == 5000
    over = await post(api, f"/v1/payment_intents/{pi['id']}/capture", amount_to_capture="6000")
    assert over.status_code == 400
    done = (await post(api, f"/v1/payment_intents/{pi['id']}/capture", amount_to_capture="4000")).json()
    assert done["status"] == "succeeded" and done["amount_received"] == 4000
    again = await post(api, f"/v1/payment_intents/{pi['id']}/capture")
    assert again.status_code == 400 and again.json()["error"]["code"] == "payment_intent_unexpected_state"
    first = await post(api, "/v1/refunds", payment_intent=pi["id"], amount="1500")
    assert first.status_code == 200 and first.json()["status"] == "succeeded"
    too_much = await post(api, "/v1/refunds", payment_intent=pi["id"], amount="3000")
    assert too_much.json()["error"]["code"] == "amount_too_large" and "($25.00)" in too_much.json()["error"]["message"]
    rest = (await post(api, "/v1/refunds", charge=done["latest_charge"])).json()
    assert rest["amount"] == 2500
    charge = (await api.get(f"/v1/charges/{done['latest_charge']}")).json()
    assert charge["refunded"] is True and charge["amount_refunded"] == 4000
    gone = await post(api, "/v1/refunds", charge=done["latest_charge"])
    assert gone.json()["error"]["code"] == "charge_already_refunded"
    listed = (await api.get("/v1/refunds", params={"payment_intent": pi["id"]})).json()
    assert [r["amount"] for r in listed["data"]] == [2500, 1500]


async def test_cancel_rules(api):
    pi = (await post(api, "/v1/payment_intents", amount="900", currency="eur")).json()
    assert pi["status"] == "requires_payment_method"
    canceled = (await post(api, f"/v1/payment_intents/{pi['id']}/cancel", cancellation_reason="abandoned")).json()
    assert canceled["status"] == "canceled"
    assert (await post(api, f"/v1/payment_intents/{pi['id']}/confirm", payment_method="pm_card_visa")).status_code == 400
    paid = (await intent(api)).json()
    assert (await post(api, f"/v1/payment_intents/{paid['id']}/cancel")).status_code == 400


async def test_customers_payment_methods_and_deletion(api):
    cus = (await post(api, "/v1/customers", name="Acme", **{"metadata[crm_id]": "001"})).json()
    pm = (await post(api, "/v1/payment_methods/pm_card_visa/attach", customer=cus["id"])).json()
    assert pm["customer"] == cus["id"]
    updated = (await post(api, f"/v1/customers/{cus['id']}", **{
        "invoice_settings[default_payment_method]": pm["id"], "metadata[crm_id]": "", "metadata[tier]": "gold",
        "expand[0]": "invoice_settings.default_payment_method"})).json()
    assert updated["metadata"] == {"tier": "gold"}
    assert updated["invoice_settings"]["default_payment_method"]["id"] == pm["id"]
    listed = (await api.get(f"/v1/customers/{cus['id']}/payment_methods")).json()
    assert listed["url"] == f"/v1/customers/{cus['id']}/payment_methods" and len(listed["data"]) == 1
    assert (await api.delete(f"/v1/customers/{cus['id']}")).json() == {"id": cus["id"], "object": "customer",
                                                                        "deleted": True}
    assert (await api.get(f"/v1/customers/{cus['id']}")).json()["deleted"] is True
    missing = await api.get("/v1/customers/cus_nope")
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "No such customer: 'cus_nope'"


async def test_lists_paginate_newest_first_with_cursors(sim, api):
    ids = []
    for i in range(5):
        ids.append((await post(api, "/v1/customers", email=f"c{i}@x")).json()["id"])
        sim.clock.advance(1)
    page = (await api.get("/v1/customers", params={"limit": 2})).json()
    assert [c["id"] for c in page["data"]] == ids[:-3:-1] and page["has_more"] is True and page["url"] == "/v1/customers"
    nxt = (await api.get("/v1/customers", params={"limit": 2, "starting_after": page["data"][-1]["id"]})).json()
    assert [c["id"] for c in nxt["data"]] == [ids[2], ids[1]]
    back = (await api.get("/v1/customers", params={"limit": 2, "ending_before": ids[1]})).json()
    assert [c["id"] for c in back["data"]] == [ids[3], ids[2]]
    assert (await api.get("/v1/customers", params={"email": "c3@x"})).json()["data"][0]["id"] == ids[3]


async def test_expand_rules(api):
    pi = (await intent(api)).json()
    nested = (await api.get(f"/v1/payment_intents/{pi['id']}", params={"expand[]": "latest_charge.payment_intent"})).json()
    assert nested["latest_charge"]["payment_intent"]["id"] == pi["id"]
    bad = await api.get(f"/v1/payment_intents/{pi['id']}", params={"expand[]": "amount"})
    assert bad.status_code == 400 and "cannot be expanded" in bad.json()["error"]["message"]
    listed = (await api.get("/v1/charges", params={"expand[0]": "data.payment_intent"})).json()
    assert listed["data"][0]["payment_intent"]["object"] == "payment_intent"
    assert (await api.get("/v1/charges", params={"expand[0]": "payment_intent"})).status_code == 400


async def test_idempotency_as_stripe_documents_it(sim, api):
    key = {"Idempotency-Key": "order-42"}
    first = await post(api, "/v1/customers", key, email="a@x")
    replay = await post(api, "/v1/customers", key, email="a@x")
    assert replay.json() == first.json() and replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["original-request"] == first.headers["request-id"]
    assert len((await api.get("/v1/customers")).json()["data"]) == 1
    other = await post(api, "/v1/customers", key, email="b@x")
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    elsewhere = await post(api, "/v1/payment_intents", key, amount="100", currency="usd")
    assert elsewhere.json()["error"]["type"] == "idempotency_error"
    # a validation failure saves nothing: the corrected request runs under the same key
    bad = {"Idempotency-Key": "k-bad"}
    assert (await post(api, "/v1/payment_intents", bad, amount="100")).status_code == 400
    assert (await post(api, "/v1/payment_intents", bad, amount="100", currency="usd")).status_code == 200
    # a decline is saved and replayed
    decline = {"Idempotency-Key": "k-decline"}
    form = {"amount": "700", "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": "true"}
    d1 = await api.post("/v1/payment_intents", data=form, headers=decline)
    d2 = await api.post("/v1/payment_intents", data=form, headers=decline)
    assert d1.status_code == d2.status_code == 402 and d2.headers["idempotent-replayed"] == "true"
    # an injected fault comes before the store: the retry with the same key runs for real
    sim.faults.add(fault_rule_adapter.validate_python({"kind": "error", "status": 500, "first_n": 1,
                                                       "operation": "create_customer"}))
    retry = {"Idempotency-Key": "k-fault"}
    assert (await post(api, "/v1/customers", retry)).status_code == 500
    ok = await post(api, "/v1/customers", retry)
    assert ok.status_code == 200 and "idempotent-replayed" not in ok.headers
    # keys expire after 24 hours
    sim.clock.advance(24 * 3600)
    fresh = await post(api, "/v1/customers", key, email="b@x")
    assert fresh.status_code == 200 and fresh.json()["id"] != first.json()["id"]
    assert (await post(api, "/v1/customers", {"Idempotency-Key": "x" * 256})).status_code == 400


async def test_rate_limit_and_faults_are_stripe_errors(sim, api):
    sim.quotas.set(QuotaSpec(name="requests", kind="token_bucket", limit=2, rate_per_second=0.001, path="/v1/*"))
    statuses = [(await api.get("/v1/customers")).status_code for _ in range(3)]
    limited = await api.get("/v1/customers")
    assert statuses == [200, 200, 429] and limited.json()["error"]["code"] == "rate_limit"
    assert "retry-after" in limited.headers and "request-id" in limited.headers
    sim.quotas.reset(specs=True)
    sim.faults.add(fault_rule_adapter.validate_python({"kind": "error", "status": 503, "first_n": 1}))
    r = await api.get("/v1/customers")
    assert r.status_code == 503 and r.json()["error"]["type"] == "api_error"
