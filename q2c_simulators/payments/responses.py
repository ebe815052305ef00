"""The Stripe wire format: one `PaymentsResponses` method per operation of `urls.URLS`.

Every call: the API key (the kernel's authenticate hook: 401 otherwise), the parameters (`params.py`), then for a POST the `Idempotency-Key`
exactly as Stripe documents it (docs.stripe.com/api/idempotent_requests, /idempotency):
- the first response is saved once execution has begun, errors included (a 402 decline, a 404), and replayed for
  the same key with `Idempotent-Replayed: true` and `Original-Request`;
- the same key with another endpoint or other parameters is 400 `idempotency_error`;
- nothing is saved when the parameters fail validation or the key is refused before execution (401, 429, a fault:
  the kernel answers those before the route, so the client's retry with the same key runs for real);
- keys are at most 255 characters and expire after 24 hours of virtual time.
Every response has a `Request-Id`. Lists are `{"object": "list", "data", "has_more", "url"}`, newest first
(stripe-python's `next_page()` needs `url`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from q2c_simulators.kernel import Responses, operation
from q2c_simulators.kernel.http import json_bytes

from . import openapi as doc
from .exceptions import StripeError, invalid
from .models import PaymentsBackend, Record, fingerprint, public
from .params import OPERATIONS, parse_form, read_params
from .urls import URLS

if TYPE_CHECKING:
    from .simulator import PaymentsSimulator

Run = Callable[[PaymentsBackend, dict[str, Any], Record], Any]
def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json_bytes(body), status, headers=headers, media_type="application/json")


def list_object(backend: PaymentsBackend, collection: str, url: str, params: dict[str, Any],
                where: dict[str, Any] | None = None) -> dict[str, Any]:
    expand = params.get("expand", [])
    for path in expand:
        if not path.startswith("data."):
            raise invalid(f"This property cannot be expanded ({path}). You may want to try expanding 'data.{path}' "
                          "instead.", "expand")
    rows, more = backend.page(collection, limit=params.get("limit", 10), starting_after=params.get("starting_after"),
                              ending_before=params.get("ending_before"), where=where)
    paths = [p[5:] for p in expand]
    return {"object": "list", "data": [backend.expand(r, paths) for r in rows], "has_more": more, "url": url}


class PaymentsResponses(Responses["PaymentsSimulator"]):
    """The Stripe operations of urls.py; each one's OpenAPI comes from its parameter declaration (below)."""

    # -- plumbing -------------------------------------------------------------------------------------------------
    def account(self, request: Request) -> str:
        """The account of the request's API key (the kernel's authenticate hook, simulator.py, refused the rest)."""
        return request.scope["state"]["principal"]

    async def raw_params(self, request: Request) -> dict[str, Any]:
        query = parse_form(request.scope.get("query_string", b""))
        if request.method != "POST":
            return query
        body = await request.body()
        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if body.strip() and media not in ("application/x-www-form-urlencoded", ""):
            raise invalid("Invalid request: the body must be form-encoded (application/x-www-form-urlencoded).")
        return {**query, **parse_form(body)}

    async def run(self, request: Request, operation: str, action: Run, status: int = 200) -> Response:
        rid = self.sim.request_id()
        headers = {"Request-Id": rid}
        try:
            account = self.account(request)
            raw = await self.raw_params(request)
            backend: PaymentsBackend = self.sim.tenants.get(account)
            key = request.headers.get("idempotency-key") if request.method == "POST" else None
            if key is None:
                params = read_params(OPERATIONS[operation], raw)
                return json_response(action(backend, params, {"id": rid, "idempotency_key": None}), status, headers)
            return self._idempotent(backend, request, operation, action, raw, key, rid, status)
        except StripeError as exc:
            return json_response(exc.body(), exc.status, {**headers, **(exc.headers or {})})

    def _idempotent(self, backend: PaymentsBackend, request: Request, operation: str, action: Run,
                    raw: dict[str, Any], key: str, rid: str, status: int) -> Response:
        if len(key) > 255:
            raise invalid("Invalid Idempotency-Key: keys must be at most 255 characters.", "idempotency_key")
        fp = fingerprint(request.method, request.url.path, raw)
        stored = backend.idempotent_lookup(key)
        if stored is not None:
            if stored["fingerprint"] != fp:
                raise StripeError(400, "Keys for idempotent requests can only be used with the same parameters they "
                                       f"were first used with. Try using a key other than '{key}' if you meant to "
                                       "execute a different request.", type_="idempotency_error", validation=True)
            return Response(stored["body"].encode(), stored["status"], media_type="application/json", headers={
                "Request-Id": rid, "Idempotent-Replayed": "true", "Original-Request": stored["request_id"],
                "Idempotency-Key": key})
        params = read_params(OPERATIONS[operation], raw)  # a validation failure saves nothing
        headers = {"Request-Id": rid, "Idempotency-Key": key}
        try:
            body, code = action(backend, params, {"id": rid, "idempotency_key": key}), status
        except StripeError as exc:
            if exc.validation:
                raise
            body, code = exc.body(), exc.status
        text = json_bytes(body).decode()
        backend.idempotent_save(key, fp, code, text, rid)
        return Response(text.encode(), code, headers=headers, media_type="application/json")

    def one(self, backend: PaymentsBackend, collection: str, object_id: str, params: dict[str, Any]) -> Record:
        return backend.expand(backend.get(collection, object_id), params.get("expand", []))

    # -- customers ------------------------------------------------------------------------------------------------
    async def create_customer(self, request: Request) -> Response:
        return await self.run(request, "create_customer", lambda b, p, r: b.expand(b.create_customer(p, r),
                                                                                    p.get("expand", [])))

    async def list_customers(self, request: Request) -> Response:
        return await self.run(request, "list_customers", lambda b, p, r: list_object(
            b, "customers", "/v1/customers", p, {"email": p["email"]} if "email" in p else None))

    async def retrieve_customer(self, request: Request, customer: str) -> Response:
        def action(b: PaymentsBackend, p: dict[str, Any], r: Record) -> Record:
            found = b.store.get("customers", customer)
            if found is not None and found.get("_deleted"):
                return {"id": customer, "object": "customer", "deleted": True}
            return self.one(b, "customers", customer, p)
        return await self.run(request, "retrieve_customer", action)

    async def update_customer(self, request: Request, customer: str) -> Response:
        return await self.run(request, "update_customer", lambda b, p, r: b.expand(
            b.update_customer(customer, p, r), p.get("expand", [])))

    async def delete_customer(self, request: Request, customer: str) -> Response:
        return await self.run(request, "delete_customer", lambda b, p, r: b.delete_customer(customer, r))

    async def list_customer_payment_methods(self, request: Request, customer: str) -> Response:
        def action(b: PaymentsBackend, p: dict[str, Any], r: Record) -> Record:
            b.get("customers", customer, "customer")
            return list_object(b, "payment_methods", f"/v1/customers/{customer}/payment_methods", p,
                               {"customer": customer})
        return await self.run(request, "list_customer_payment_methods", action)

    # -- payment methods ------------------------------------------------------------------------------------------
    async def list_payment_methods(self, request: Request) -> Response:
        return await self.run(request, "list_payment_methods", lambda b, p, r: list_object(
            b, "payment_methods", "/v1/payment_methods", p, {"customer": p["customer"]} if "customer" in p else None))

    async def retrieve_payment_method(self, request: Request, payment_method: str) -> Response:
        return await self.run(request, "retrieve_payment_method",
                              lambda b, p, r: self.one(b, "payment_methods", payment_method, p))

    async def attach_payment_method(self, request: Request, payment_method: str) -> Response:
        return await self.run(request, "attach_payment_method", lambda b, p, r: b.expand(
            b.attach(payment_method, p["customer"], r), p.get("expand", [])))

    async def detach_payment_method(self, request: Request, payment_method: str) -> Response:
        return await self.run(request, "detach_payment_method", lambda b, p, r: b.expand(
            b.detach(payment_method, r), p.get("expand", [])))

    # -- payment intents ------------------------------------------------------------------------------------------
    async def create_payment_intent(self, request: Request) -> Response:
        return await self.run(request, "create_payment_intent", lambda b, p, r: b.expand(
            b.create_payment_intent(p, r), p.get("expand", [])))

    async def list_payment_intents(self, request: Request) -> Response:
        return await self.run(request, "list_payment_intents", lambda b, p, r: list_object(
            b, "payment_intents", "/v1/payment_intents", p, {"customer": p["customer"]} if "customer" in p else None))

    async def retrieve_payment_intent(self, request: Request, intent: str) -> Response:
        return await self.run(request, "retrieve_payment_intent",
                              lambda b, p, r: self.one(b, "payment_intents", intent, p))

    async def update_payment_intent(self, request: Request, intent: str) -> Response:
        return await self.run(request, "update_payment_intent", lambda b, p, r: b.expand(
            b.update_payment_intent(intent, p, r), p.get("expand", [])))

    async def confirm_payment_intent(self, request: Request, intent: str) -> Response:
        return await self.run(request, "confirm_payment_intent", lambda b, p, r: b.expand(
            b.confirm(intent, p, r), p.get("expand", [])))

    async def capture_payment_intent(self, request: Request, intent: str) -> Response:
        return await self.run(request, "capture_payment_intent", lambda b, p, r: b.expand(
            b.capture(intent, p, r), p.get("expand", [])))

    async def cancel_payment_intent(self, request: Request, intent: str) -> Response:
        return await self.run(request, "cancel_payment_intent", lambda b, p, r: b.expand(
            b.cancel(intent, p, r), p.get("expand", [])))

    # -- charges and refunds --------------------------------------------------------------------------------------
    async def list_charges(self, request: Request) -> Response:
        return await self.run(request, "list_charges", lambda b, p, r: list_object(
            b, "charges", "/v1/charges", p, {k: p[k] for k in ("customer", "payment_intent") if k in p}))

    async def retrieve_charge(self, request: Request, charge: str) -> Response:
        return await self.run(request, "retrieve_charge", lambda b, p, r: self.one(b, "charges", charge, p))

    async def create_refund(self, request: Request) -> Response:
        return await self.run(request, "create_refund", lambda b, p, r: b.expand(b.create_refund(p, r),
                                                                                p.get("expand", [])))

    async def list_refunds(self, request: Request) -> Response:
        return await self.run(request, "list_refunds", lambda b, p, r: list_object(
            b, "refunds", "/v1/refunds", p, {k: p[k] for k in ("charge", "payment_intent") if k in p}))

    async def retrieve_refund(self, request: Request, refund: str) -> Response:
        return await self.run(request, "retrieve_refund", lambda b, p, r: self.one(b, "refunds", refund, p))

    async def update_refund(self, request: Request, refund: str) -> Response:
        return await self.run(request, "update_refund", lambda b, p, r: b.expand(b.update_refund(refund, p),
                                                                                p.get("expand", [])))

    # -- events and webhook endpoints -----------------------------------------------------------------------------
    async def list_events(self, request: Request) -> Response:
        def action(b: PaymentsBackend, p: dict[str, Any], r: Record) -> Record:
            if "type" in p and "types" in p:
                raise invalid("You may pass either type or types, but not both.", "types")
            where = {"type": p["type"]} if "type" in p else {"type": tuple(p["types"])} if "types" in p else None
            return list_object(b, "events", "/v1/events", p, where)
        return await self.run(request, "list_events", action)

    async def retrieve_event(self, request: Request, event: str) -> Response:
        return await self.run(request, "retrieve_event", lambda b, p, r: self.one(b, "events", event, p))

    async def create_webhook_endpoint(self, request: Request) -> Response:
        def action(b: PaymentsBackend, p: dict[str, Any], r: Record) -> Record:
            endpoint = b.create_webhook_endpoint(p, self.sim.webhook_secret(b.account))
            return {**public(endpoint), "secret": endpoint["_secret"]}  # the secret is shown once, on create
        return await self.run(request, "create_webhook_endpoint", action)

    async def list_webhook_endpoints(self, request: Request) -> Response:
        return await self.run(request, "list_webhook_endpoints", lambda b, p, r: list_object(
            b, "webhook_endpoints", "/v1/webhook_endpoints", p))

    async def retrieve_webhook_endpoint(self, request: Request, webhook_endpoint: str) -> Response:
        return await self.run(request, "retrieve_webhook_endpoint",
                              lambda b, p, r: self.one(b, "webhook_endpoints", webhook_endpoint, p))

    async def update_webhook_endpoint(self, request: Request, webhook_endpoint: str) -> Response:
        return await self.run(request, "update_webhook_endpoint", lambda b, p, r: public(
            b.update_webhook_endpoint(webhook_endpoint, p)))

    async def delete_webhook_endpoint(self, request: Request, webhook_endpoint: str) -> Response:
        return await self.run(request, "delete_webhook_endpoint",
                              lambda b, p, r: b.delete_webhook_endpoint(webhook_endpoint))


for _method, _path, _name in URLS:  # the OpenAPI of each operation, from its declaration in params.py
    operation(openapi_extra=doc.operation(_method, _name))(getattr(PaymentsResponses, _name))
