"""The payments backend: Stripe objects, their state machines, events, idempotency and lists. No HTTP.

One backend per Stripe account (the tenant); all state in `self.store`, objects stored in their wire shape (ids
are strings, amounts integers in the currency's minor unit, `created` Unix seconds of the virtual clock); keys
starting `_` are internal and never sent.

PaymentIntent (docs.stripe.com/payments/paymentintents/lifecycle; stripe-python `_payment_intent.py`):
`requires_payment_method` -> (payment method) `requires_confirmation` -> confirm -> `succeeded`, or
`requires_capture` (capture_method=manual) -> capture -> `succeeded`; a decline returns it to
`requires_payment_method` with `last_payment_error`; a card that needs authentication gives `requires_action`
(or, off session, the decline `authentication_required`); cancel from any state but `succeeded`/`canceled`.
Test payment methods (docs.stripe.com/testing, /declines/codes): `pm_card_visa` and friends succeed,
`pm_card_chargeDeclined*` decline with their decline codes; each use materialises a new `pm_...` object, as Stripe's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from q2c_simulators.kernel import Store, VirtualClock

from .exceptions import StripeError, no_such, refused, unexpected_state

Record = dict[str, Any]
API_VERSION = "2026-10-28.endive"  # what stripe-python 16.1 sends as Stripe-Version
IDEMPOTENCY_TTL_SECONDS = 24 * 3600  # keys are pruned after at least 24 hours (docs.stripe.com/idempotency)
PREFIXES = {"cus": "customers", "pm": "payment_methods", "pi": "payment_intents", "ch": "charges", "re": "refunds",
            "evt": "events", "we": "webhook_endpoints"}
KINDS = {"customers": "customer", "payment_methods": "payment_method", "payment_intents": "payment_intent",
         "charges": "charge", "refunds": "refund", "events": "event", "webhook_endpoints": "webhook_endpoint"}
CURRENCIES = frozenset({"usd", "eur", "gbp", "cad", "aud", "jpy", "chf", "sek", "nok", "dkk", "nzd", "sgd", "hkd",
                        "mxn", "brl", "inr", "pln"})
# What `expand[]` may replace, per object kind (docs.stripe.com/api/expanding_objects).
EXPANDABLE = {
    "customer": {"invoice_settings.default_payment_method": "payment_methods"},
    "payment_method": {"customer": "customers"},
    "payment_intent": {"customer": "customers", "payment_method": "payment_methods", "latest_charge": "charges"},
    "charge": {"customer": "customers", "payment_intent": "payment_intents", "payment_method": "payment_methods"},
    "refund": {"charge": "charges", "payment_intent": "payment_intents"},
    "event": {}, "webhook_endpoint": {},
}
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing")


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    funding: str = "credit"
    outcome: str = "succeed"  # succeed | decline | authenticate
    code: str | None = None  # the error code of a decline
    decline_code: str | None = None
    message: str | None = None


_DECLINED = "Your card was declined."
TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_visa_debit": TestCard("visa", "5556", "debit"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_discover": TestCard("discover", "1117"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", outcome="decline", code="card_declined",
                                       decline_code="generic_decline", message=_DECLINED),
    "pm_card_visa_chargeDeclined": TestCard("visa", "0002", outcome="decline", code="card_declined",
                                            decline_code="generic_decline", message=_DECLINED),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard("visa", "9995", outcome="decline", code="card_declined",
                                                        decline_code="insufficient_funds",
                                                        message="Your card has insufficient funds."),
    "pm_card_chargeDeclinedLostCard": TestCard("visa", "9987", outcome="decline", code="card_declined",
                                               decline_code="lost_card", message=_DECLINED),
    "pm_card_chargeDeclinedStolenCard": TestCard("visa", "9979", outcome="decline", code="card_declined",
                                                 decline_code="stolen_card", message=_DECLINED),
    "pm_card_chargeDeclinedFraudulent": TestCard("visa", "0019", outcome="decline", code="card_declined",
                                                 decline_code="fraudulent", message=_DECLINED),
    "pm_card_chargeDeclinedExpiredCard": TestCard("visa", "0069", outcome="decline", code="expired_card",
                                                  decline_code="expired_card", message="Your card has expired."),
    "pm_card_chargeDeclinedIncorrectCvc": TestCard("visa", "0127", outcome="decline", code="incorrect_cvc",
                                                   decline_code="incorrect_cvc",
                                                   message="Your card's security code is incorrect."),
    "pm_card_chargeDeclinedProcessingError": TestCard(
        "visa", "0119", outcome="decline", code="processing_error", decline_code="processing_error",
        message="An error occurred while processing your card. Try again in a little bit."),
    "pm_card_authenticationRequired": TestCard("visa", "3155", outcome="authenticate"),
    "pm_card_threeDSecureRequired": TestCard("visa", "3063", outcome="authenticate"),
}


def public(obj: Record) -> Record:
    return {k: v for k, v in obj.items() if k[0] != "_"}


def fingerprint(method: str, path: str, params: Any) -> str:
    """What an idempotency key is bound to: the endpoint and the parameters (order does not matter)."""
    canonical = json.dumps([method, path, params], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class PaymentsBackend:
    def __init__(self, account: str, clock: VirtualClock) -> None:
        self.account = account
        self.clock = clock
        self.store = Store()
        self.on_event: Any = None  # called with each new event (the webhook dispatcher wakes up)

    # -- ids, reads, lists ----------------------------------------------------------------------------------------
    def now(self) -> int:
        return int(self.clock.timestamp())

    def new_id(self, prefix: str) -> tuple[str, int]:
        n = self.store.next_id("_objects")
        return f"{prefix}_Q2c{n:014d}", n

    def get(self, collection: str, object_id: str, param: str = "id") -> Record:
        obj = self.store.get(collection, object_id)
        if obj is None or obj.get("_deleted"):
            raise no_such(KINDS[collection], object_id, param)
        return obj

    def put(self, collection: str, obj: Record) -> Record:
        return self.store.put(collection, obj["id"], obj)

    def page(self, collection: str, *, limit: int, starting_after: str | None, ending_before: str | None,
             where: dict[str, Any] | None = None) -> tuple[list[Record], bool]:
        """Newest first; `starting_after`/`ending_before` are object ids (docs.stripe.com/api/pagination)."""
        rows = [r for r in self.store.records(collection) if not r.get("_deleted")
                and all(r.get(k) == v if not isinstance(v, tuple) else r.get(k) in v for k, v in (where or {}).items())]
        rows.sort(key=lambda r: (r["created"], r["_seq"]), reverse=True)
        if starting_after or ending_before:
            cursor = starting_after or ending_before
            index = next((i for i, r in enumerate(rows) if r["id"] == cursor), None)
            if index is None:
                raise refused(f"No such {KINDS[collection]}: '{cursor}'",
                              "starting_after" if starting_after else "ending_before", "resource_missing")
            if starting_after:
                rows = rows[index + 1:]
            else:
                before = rows[:index]
                return before[-limit:], len(before) > limit
        return rows[:limit], len(rows) > limit

    def expand(self, obj: Record, paths: list[str], *, depth: int = 0) -> Record:
        """`obj` with the named id fields replaced by the objects (dotted paths expand within them)."""
        if not paths:
            return public(obj)
        out = public(obj)
        kind = obj.get("object", "")
        for path in paths:
            self._expand_one(out, kind, path.split("."), path, depth)
        return out

    def _expand_one(self, out: Record, kind: str, parts: list[str], path: str, depth: int) -> None:
        if depth + len(parts) > 4:
            raise refused(f"You cannot expand more than 4 levels of a property. Property: {path}", "expand")
        table = EXPANDABLE.get(kind, {})
        for size in (2, 1):  # "invoice_settings.default_payment_method" is one expandable field
            field = ".".join(parts[:size])
            if field in table and len(parts) >= size:
                rest = parts[size:]
                holder, leaf = (out.setdefault(parts[0], {}), parts[1]) if size == 2 else (out, parts[0])
                value = holder.get(leaf) if isinstance(holder, dict) else None
                if isinstance(value, str):
                    target = self.store.get(table[field], value)
                    value = public(target) if target is not None else value
                if isinstance(value, dict):
                    holder[leaf] = value
                    if rest:
                        self._expand_one(value, value.get("object", ""), rest, path, depth + size)
                return
        raise refused(f"This property cannot be expanded ({'.'.join(parts)}).", "expand")

    # -- events -------------------------------------------------------------------------------------------------
    def emit(self, type_: str, obj: Record, request: Record, previous: Record | None = None) -> Record:
        eid, seq = self.new_id("evt")
        data: Record = {"object": public(obj)}
        if previous:
            data["previous_attributes"] = previous
        endpoints = [e for e in self.store.records("webhook_endpoints")
                     if not e.get("_deleted") and e["status"] == "enabled"
                     and ("*" in e["enabled_events"] or type_ in e["enabled_events"])]
        event = {"id": eid, "object": "event", "api_version": API_VERSION, "created": self.now(), "data": data,
                 "livemode": False, "pending_webhooks": len(endpoints), "request": request, "type": type_,
                 "_seq": seq}
        self.put("events", event)
        now = self.clock.timestamp()
        for endpoint in endpoints:  # in the same atomic block as the change: a rolled-back change sends nothing
            did = f"{eid}:{endpoint['id']}"
            self.store.put("webhook_deliveries", did, {
                "id": did, "event_id": eid, "endpoint_id": endpoint["id"], "event_seq": seq, "status": "pending",
                "attempts": 0, "next_attempt_at": now, "last_status": None, "last_error": None,
                "delivered_at": None, "duplicates_sent": 0})
        if endpoints and self.on_event is not None:
            self.on_event()
        return event

    # -- idempotency --------------------------------------------------------------------------------------------
    def idempotent_lookup(self, key: str) -> Record | None:
        found = self.store.get("_idempotency", key)
        if found is not None and self.clock.timestamp() - found["created"] >= IDEMPOTENCY_TTL_SECONDS:
            self.store.delete("_idempotency", key)  # pruned: the key starts afresh
            return None
        return found

    def idempotent_save(self, key: str, fp: str, status: int, body: str, request_id: str) -> None:
        now = self.clock.timestamp()
        self.store.put("_idempotency", key, {"id": key, "fingerprint": fp, "status": status, "body": body,
                                             "request_id": request_id, "created": now})
        if self.store.count("_idempotency") % 1000 == 0:
            for rec in self.store.records("_idempotency"):
                if now - rec["created"] >= IDEMPOTENCY_TTL_SECONDS:
                    self.store.delete("_idempotency", rec["id"])

    # -- customers ----------------------------------------------------------------------------------------------
    def create_customer(self, params: Record, req: Record) -> Record:
        cid, seq = self.new_id("cus")
        customer = {"id": cid, "object": "customer", "address": params.get("address"), "balance": 0,
                    "created": self.now(), "currency": None, "default_source": None, "delinquent": False,
                    "description": params.get("description"), "email": params.get("email"),
                    "invoice_prefix": f"Q2C{seq:05d}"[-8:], "invoice_settings": {
                        "custom_fields": None, "default_payment_method": None, "footer": None,
                        "rendering_options": None},
                    "livemode": False, "metadata": params.get("metadata") or {}, "name": params.get("name"),
                    "next_invoice_sequence": 1,  # no invoices are issued here; docs.stripe.com/api/customers/object
                    "phone": params.get("phone"), "preferred_locales": [], "shipping": None, "tax_exempt": "none",
                    "test_clock": None, "_seq": seq}
        with self.store.atomic():
            self.put("customers", customer)
            if params.get("payment_method"):
                self.attach(params["payment_method"], cid, req)
            default = (params.get("invoice_settings") or {}).get("default_payment_method")
            if default:
                self.get("payment_methods", default, "invoice_settings[default_payment_method]")
                customer = self.put("customers", {**customer, "invoice_settings": {
                    **customer["invoice_settings"], "default_payment_method": default}})
            self.emit("customer.created", customer, req)
        return customer

    def update_customer(self, cid: str, params: Record, req: Record) -> Record:
        customer = self.get("customers", cid)
        changed = {k: v for k, v in params.items() if k in ("address", "description", "email", "name", "phone")}
        previous = {k: customer.get(k) for k in changed}
        updated = {**customer, **changed}
        if "metadata" in params:
            updated["metadata"] = _merge_metadata(customer["metadata"], params["metadata"])
            previous["metadata"] = customer["metadata"]
        settings = params.get("invoice_settings")
        if settings and "default_payment_method" in settings:
            pm = settings["default_payment_method"]
            if pm:
                self.get("payment_methods", pm, "invoice_settings[default_payment_method]")
            previous["invoice_settings"] = customer["invoice_settings"]
            updated["invoice_settings"] = {**customer["invoice_settings"], "default_payment_method": pm or None}
        with self.store.atomic():
            self.put("customers", updated)
            self.emit("customer.updated", updated, req, previous)
        return updated

    def delete_customer(self, cid: str, req: Record) -> Record:
        customer = self.get("customers", cid)
        with self.store.atomic():
            self.put("customers", {**customer, "_deleted": True})
            self.emit("customer.deleted", customer, req)
        return {"id": cid, "object": "customer", "deleted": True}

    # -- payment methods ----------------------------------------------------------------------------------------
    def payment_method(self, pm_id: str, param: str = "payment_method") -> Record:
        """An existing payment method, or a new one materialised from a test token."""
        card = TEST_CARDS.get(pm_id)
        if card is None:
            return self.get("payment_methods", pm_id, param)
        new_id, seq = self.new_id("pm")
        pm = {"id": new_id, "object": "payment_method", "allow_redisplay": "unspecified",
              "billing_details": {"address": dict.fromkeys(("city", "country", "line1", "line2", "postal_code",
                                                           "state")),  # an object of nulls (api/charges/object)
                                  "email": None, "name": None, "phone": None},
              "card": {"brand": card.brand, "checks": {"address_line1_check": None,
                                                       "address_postal_code_check": None, "cvc_check": "pass"},
                       "country": "US", "display_brand": card.brand, "exp_month": 12, "exp_year": 2034,
                       "fingerprint": hashlib.sha256(pm_id.encode()).hexdigest()[:16], "funding": card.funding,
                       "generated_from": None,  # not made from a card-present payment (api/payment_methods/detach)
                       "last4": card.last4, "networks": {"available": [card.brand], "preferred": None},
                       "three_d_secure_usage": {"supported": True}, "wallet": None},
              "created": self.now(), "customer": None, "livemode": False, "metadata": {}, "type": "card",
              "_token": pm_id, "_seq": seq}
        return self.put("payment_methods", pm)

    def attach(self, pm_id: str, customer_id: str, req: Record) -> Record:
        self.get("customers", customer_id, "customer")
        with self.store.atomic():
            pm = self.payment_method(pm_id, "payment_method")
            if pm["customer"] not in (None, customer_id):
                raise refused("The payment method you provided has already been attached to a customer.",
                              "payment_method")
            pm = self.put("payment_methods", {**pm, "customer": customer_id})
            self.emit("payment_method.attached", pm, req)
        return pm

    def detach(self, pm_id: str, req: Record) -> Record:
        pm = self.get("payment_methods", pm_id, "payment_method")
        if pm["customer"] is None:
            raise refused("The payment method you provided is not attached to a customer so detachment is impossible.",
                          "payment_method")
        with self.store.atomic():
            pm = self.put("payment_methods", {**pm, "customer": None})
            self.emit("payment_method.detached", pm, req)
        return pm

    # -- payment intents ----------------------------------------------------------------------------------------
    def create_payment_intent(self, params: Record, req: Record) -> Record:
        amount, currency = params["amount"], params["currency"]
        if amount < 50:
            raise refused("Amount must be at least 50 cents", "amount", "amount_too_small")
        customer = params.get("customer")
        if customer:
            self.get("customers", customer, "customer")
        pid, seq = self.new_id("pi")
        intent = {"id": pid, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
                  "amount_received": 0, "automatic_payment_methods": params.get("automatic_payment_methods"),
                  "canceled_at": None, "cancellation_reason": None,
                  "capture_method": params.get("capture_method") or "automatic_async",
                  "client_secret": f"{pid}_secret_{hashlib.sha256(pid.encode()).hexdigest()[:24]}",
                  "confirmation_method": "automatic", "created": self.now(), "currency": currency,
                  "customer": customer, "description": params.get("description"), "last_payment_error": None,
                  "latest_charge": None, "livemode": False, "metadata": params.get("metadata") or {},
                  "next_action": None, "payment_method": None,
                  "payment_method_types": params.get("payment_method_types") or ["card"],
                  "receipt_email": params.get("receipt_email"), "setup_future_usage": params.get("setup_future_usage"),
                  "status": "requires_payment_method", "_seq": seq,
                  # what an intent without Connect, Radar review, shipping or descriptors holds
                  # (docs.stripe.com/api/payment_intents/object)
                  "amount_details": {"tip": {}}, "application": None, "application_fee_amount": None,
                  "on_behalf_of": None, "processing": None, "review": None, "shipping": None, "source": None,
                  "statement_descriptor": None, "statement_descriptor_suffix": None, "transfer_data": None,
                  "transfer_group": None}
        if "card" in intent["payment_method_types"]:
            intent["payment_method_options"] = {"card": {"installments": None, "mandate_options": None,
                                                         "network": None, "request_three_d_secure": "automatic"}}
        else:
            intent["payment_method_options"] = {}
        with self.store.atomic():
            if params.get("payment_method"):
                pm = self.payment_method(params["payment_method"])
                intent.update(payment_method=pm["id"], status="requires_confirmation")
            self.put("payment_intents", intent)
            self.emit("payment_intent.created", intent, req)
        if params.get("confirm"):  # outside the block: a decline keeps the intent it declined
            return self.confirm(pid, {"off_session": params.get("off_session", False)}, req)
        return intent

    def update_payment_intent(self, pid: str, params: Record, req: Record) -> Record:
        intent = self.get("payment_intents", pid)
        if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise unexpected_state(f"This PaymentIntent's status is {intent['status']}; it can no longer be updated.")
        updated = {**intent, **{k: v for k, v in params.items()
                                if k in ("amount", "currency", "description", "receipt_email", "capture_method",
                                         "setup_future_usage")}}
        if params.get("customer"):
            self.get("customers", params["customer"], "customer")
            updated["customer"] = params["customer"]
        if "metadata" in params:
            updated["metadata"] = _merge_metadata(intent["metadata"], params["metadata"])
        with self.store.atomic():
            if params.get("payment_method"):
                updated.update(payment_method=self.payment_method(params["payment_method"])["id"],
                               status="requires_confirmation")
            self.put("payment_intents", updated)
        return updated

    def confirm(self, pid: str, params: Record, req: Record) -> Record:
        intent = self.get("payment_intents", pid)
        if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise unexpected_state(
                f"You cannot confirm this PaymentIntent because it has a status of {intent['status']}.",
                {"payment_intent": public(intent)})
        with self.store.atomic():
            if params.get("payment_method"):
                intent = {**intent, "payment_method": self.payment_method(params["payment_method"])["id"]}
            if not intent["payment_method"]:
                raise unexpected_state("You cannot confirm this PaymentIntent because it's missing a payment method. "
                                       "Update it with a payment_method, or pass one to confirm.",
                                       {"payment_intent": public(intent)})
            pm = self.get("payment_methods", intent["payment_method"], "payment_method")
            if intent["customer"] and pm["customer"] not in (None, intent["customer"]):
                raise refused("The provided PaymentMethod belongs to another customer.", "payment_method")
            card = TEST_CARDS.get(pm.get("_token", ""), TEST_CARDS["pm_card_visa"])
            if card.outcome == "authenticate" and not params.get("off_session"):
                intent = self.put("payment_intents", {**intent, "status": "requires_action", "next_action": {
                    "type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}})
                self.emit("payment_intent.requires_action", intent, req)
                return intent
            if card.outcome == "authenticate":  # off session, nobody to authenticate
                card = TestCard(card.brand, card.last4, outcome="decline", code="authentication_required",
                                decline_code="authentication_required",
                                message="Your card was declined. This transaction requires authentication.")
            charge = self._charge(intent, pm, card)
            declined = card.outcome == "decline"
            if declined:
                error = {"type": "card_error", "code": card.code, "decline_code": card.decline_code,
                         "message": card.message, "charge": charge["id"], "payment_method": public(pm),
                         "doc_url": f"https://stripe.com/docs/error-codes/{card.code.replace('_', '-')}"}
                intent = self.put("payment_intents", {**intent, "status": "requires_payment_method",
                                                      "latest_charge": charge["id"], "last_payment_error": error,
                                                      "next_action": None, "payment_method": None})
                self.emit("charge.failed", charge, req)
                self.emit("payment_intent.payment_failed", intent, req)
            else:
                manual = intent["capture_method"] == "manual"
                intent = self.put("payment_intents", {
                    **intent, "status": "requires_capture" if manual else "succeeded", "latest_charge": charge["id"],
                    "amount_capturable": intent["amount"] if manual else 0,
                    "amount_received": 0 if manual else intent["amount"], "last_payment_error": None,
                    "next_action": None})
                self.emit("charge.succeeded", charge, req)
                self.emit("payment_intent.amount_capturable_updated" if manual else "payment_intent.succeeded",
                          intent, req)
        if declined:  # after the block: the decline, its charge and its events are kept
            raise StripeError(402, card.message or "", type_="card_error", code=card.code,
                              decline_code=card.decline_code,
                              extra={"charge": charge["id"], "payment_intent": public(intent),
                                     "payment_method": public(pm)})
        return intent

    def _charge(self, intent: Record, pm: Record, card: TestCard) -> Record:
        cid, seq = self.new_id("ch")
        ok = card.outcome == "succeed"
        captured = ok and intent["capture_method"] != "manual"
        charge = {"id": cid, "object": "charge", "amount": intent["amount"],
                  # no Connect application, account descriptor, fraud report or failed balance transaction
                  # (docs.stripe.com/api/charges/object)
                  "application": None, "application_fee": None, "application_fee_amount": None,
                  "calculated_statement_descriptor": None, "failure_balance_transaction": None, "fraud_details": {},
                  "on_behalf_of": None,
                  "amount_captured": intent["amount"] if captured else 0, "amount_refunded": 0,
                  "balance_transaction": None, "billing_details": pm["billing_details"], "captured": captured,
                  "created": self.now(), "currency": intent["currency"], "customer": intent["customer"],
                  "description": intent["description"], "disputed": False,
                  "failure_code": None if ok else card.code, "failure_message": None if ok else card.message,
                  "livemode": False, "metadata": intent["metadata"],
                  "outcome": {"network_status": "approved_by_network" if ok else "declined_by_network",
                              "reason": None if ok else card.decline_code, "risk_level": "normal",
                              "seller_message": "Payment complete." if ok else "The bank did not return any further "
                              "details with this decline.", "type": "authorized" if ok else "issuer_declined"},
                  "paid": ok, "payment_intent": intent["id"], "payment_method": pm["id"],
                  "payment_method_details": {"card": {"brand": card.brand, "last4": card.last4,
                                                      "funding": card.funding, "exp_month": 12, "exp_year": 2034,
                                                      "country": "US"}, "type": "card"},
                  "receipt_email": intent["receipt_email"], "refunded": False,
                  "status": "succeeded" if ok else "failed", "_seq": seq}
        return self.put("charges", charge)

    def capture(self, pid: str, params: Record, req: Record) -> Record:
        intent = self.get("payment_intents", pid)
        if intent["status"] != "requires_capture":
            raise unexpected_state(
                f"This PaymentIntent could not be captured because it has a status of {intent['status']}. Only a "
                "PaymentIntent with one of the following statuses may be captured: requires_capture.",
                {"payment_intent": public(intent)})
        amount = params.get("amount_to_capture", intent["amount_capturable"])
        if amount > intent["amount_capturable"]:
            raise refused(f"The amount_to_capture ({amount}) is greater than the amount capturable "
                          f"({intent['amount_capturable']}).", "amount_to_capture", "amount_too_large")
        charge = self.get("charges", intent["latest_charge"])
        with self.store.atomic():
            # the uncaptured rest is released; what can be refunded is what was captured
            charge = self.put("charges", {**charge, "captured": True, "amount_captured": amount})
            intent = self.put("payment_intents", {**intent, "status": "succeeded", "amount_capturable": 0,
                                                  "amount_received": amount, **(
                {"metadata": _merge_metadata(intent["metadata"], params["metadata"])} if "metadata" in params else {})})
            self.emit("charge.captured", charge, req)
            self.emit("payment_intent.succeeded", intent, req)
        return intent

    def cancel(self, pid: str, params: Record, req: Record) -> Record:
        intent = self.get("payment_intents", pid)
        if intent["status"] not in CANCELABLE:
            raise unexpected_state(
                f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}. Only a "
                f"PaymentIntent with one of the following statuses may be canceled: {', '.join(CANCELABLE)}.",
                {"payment_intent": public(intent)})
        with self.store.atomic():
            if intent["status"] == "requires_capture":  # the authorisation is released
                charge = self.get("charges", intent["latest_charge"])
                self.put("charges", {**charge, "amount_refunded": charge["amount"], "refunded": True})
            intent = self.put("payment_intents", {**intent, "status": "canceled", "canceled_at": self.now(),
                                                  "cancellation_reason": params.get("cancellation_reason"),
                                                  "amount_capturable": 0, "next_action": None})
            self.emit("payment_intent.canceled", intent, req)
        return intent

    # -- refunds ------------------------------------------------------------------------------------------------
    def create_refund(self, params: Record, req: Record) -> Record:
        if params.get("charge"):
            charge = self.get("charges", params["charge"], "charge")
        elif params.get("payment_intent"):
            intent = self.get("payment_intents", params["payment_intent"], "payment_intent")
            if not intent["latest_charge"] or intent["status"] != "succeeded":
                raise refused(f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                              "payment_intent", "charge_not_refundable")
            charge = self.get("charges", intent["latest_charge"])
        else:
            raise refused("One of the following params should be provided for this request: payment_intent or charge.",
                          None, "parameter_missing")
        if charge["status"] != "succeeded" or not charge["captured"]:
            raise refused(f"Charge {charge['id']} has not been captured and cannot be refunded.", "charge",
                          "charge_not_refundable")
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise refused(f"Charge {charge['id']} has already been refunded.", "charge", "charge_already_refunded")
        amount = params.get("amount", remaining)
        if amount > remaining:
            raise refused(f"Refund amount ({_money(amount, charge['currency'])}) is greater than unrefunded amount on "
                          f"charge ({_money(remaining, charge['currency'])})", "amount", "amount_too_large")
        rid, seq = self.new_id("re")
        refund = {"id": rid, "object": "refund", "amount": amount, "balance_transaction": None,
                  "charge": charge["id"], "created": self.now(), "currency": charge["currency"],
                  "metadata": params.get("metadata") or {}, "payment_intent": charge["payment_intent"],
                  "reason": params.get("reason"), "receipt_number": None, "status": "succeeded",
                  # Connect transfers are not modelled, so these stay null (docs.stripe.com/api/refunds/object)
                  "source_transfer_reversal": None, "transfer_reversal": None, "_seq": seq}
        with self.store.atomic():
            self.put("refunds", refund)
            refunded = charge["amount_refunded"] + amount
            charge = self.put("charges", {**charge, "amount_refunded": refunded,
                                          "refunded": refunded >= charge["amount_captured"]})
            self.emit("refund.created", refund, req)
            self.emit("charge.refunded", charge, req, {"amount_refunded": refunded - amount})
        return refund

    def update_refund(self, rid: str, params: Record) -> Record:
        refund = self.get("refunds", rid)
        if "metadata" in params:
            refund = self.put("refunds", {**refund, "metadata": _merge_metadata(refund["metadata"], params["metadata"])})
        return refund

    # -- webhook endpoints --------------------------------------------------------------------------------------
    def create_webhook_endpoint(self, params: Record, secret: str) -> Record:
        wid, seq = self.new_id("we")
        endpoint = {"id": wid, "object": "webhook_endpoint", "api_version": params.get("api_version"),
                    "application": None, "created": self.now(), "description": params.get("description"),
                    "enabled_events": params["enabled_events"], "livemode": False,
                    "metadata": params.get("metadata") or {}, "status": "enabled", "url": params["url"],
                    "_secret": secret, "_seq": seq}
        return self.put("webhook_endpoints", endpoint)

    def update_webhook_endpoint(self, wid: str, params: Record) -> Record:
        endpoint = self.get("webhook_endpoints", wid)
        updated = {**endpoint, **{k: params[k] for k in ("url", "enabled_events", "description") if k in params}}
        if "disabled" in params:
            updated["status"] = "disabled" if params["disabled"] else "enabled"
        if "metadata" in params:
            updated["metadata"] = _merge_metadata(endpoint["metadata"], params["metadata"])
        return self.put("webhook_endpoints", updated)

    def delete_webhook_endpoint(self, wid: str) -> Record:
        endpoint = self.get("webhook_endpoints", wid)
        self.put("webhook_endpoints", {**endpoint, "_deleted": True})
        return {"id": wid, "object": "webhook_endpoint", "deleted": True}


def _merge_metadata(current: Record, update: Record | str) -> Record:
    """Stripe's metadata update: keys merge, an empty value removes a key, `metadata=""` clears all."""
    if update == "":
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _money(amount: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency, currency.upper() + " ")
    return f"{symbol}{Decimal(amount) / 100:.2f}" if currency != "jpy" else f"¥{amount}"
