"""The Stripe API routes the payments simulator serves: (method, path, operation).

The operation is the `PaymentsResponses` method that answers, the declaration of its parameters in
`params.OPERATIONS`, and the name quotas, fault rules and the journal use. Paths as stripe-python calls them.
"""

from __future__ import annotations

URLS: list[tuple[str, str, str]] = [
    ("POST", "/v1/customers", "create_customer"),
    ("GET", "/v1/customers", "list_customers"),
    ("GET", "/v1/customers/{customer}", "retrieve_customer"),
    ("POST", "/v1/customers/{customer}", "update_customer"),
    ("DELETE", "/v1/customers/{customer}", "delete_customer"),
    ("GET", "/v1/customers/{customer}/payment_methods", "list_customer_payment_methods"),
    ("GET", "/v1/payment_methods", "list_payment_methods"),
    ("GET", "/v1/payment_methods/{payment_method}", "retrieve_payment_method"),
    ("POST", "/v1/payment_methods/{payment_method}/attach", "attach_payment_method"),
    ("POST", "/v1/payment_methods/{payment_method}/detach", "detach_payment_method"),
    ("POST", "/v1/payment_intents", "create_payment_intent"),
    ("GET", "/v1/payment_intents", "list_payment_intents"),
    ("GET", "/v1/payment_intents/{intent}", "retrieve_payment_intent"),
    ("POST", "/v1/payment_intents/{intent}", "update_payment_intent"),
    ("POST", "/v1/payment_intents/{intent}/confirm", "confirm_payment_intent"),
    ("POST", "/v1/payment_intents/{intent}/capture", "capture_payment_intent"),
    ("POST", "/v1/payment_intents/{intent}/cancel", "cancel_payment_intent"),
    ("GET", "/v1/charges", "list_charges"),
    ("GET", "/v1/charges/{charge}", "retrieve_charge"),
    ("POST", "/v1/refunds", "create_refund"),
    ("GET", "/v1/refunds", "list_refunds"),
    ("GET", "/v1/refunds/{refund}", "retrieve_refund"),
    ("POST", "/v1/refunds/{refund}", "update_refund"),
    ("GET", "/v1/events", "list_events"),
    ("GET", "/v1/events/{event}", "retrieve_event"),
    ("POST", "/v1/webhook_endpoints", "create_webhook_endpoint"),
    ("GET", "/v1/webhook_endpoints", "list_webhook_endpoints"),
    ("GET", "/v1/webhook_endpoints/{webhook_endpoint}", "retrieve_webhook_endpoint"),
    ("POST", "/v1/webhook_endpoints/{webhook_endpoint}", "update_webhook_endpoint"),
    ("DELETE", "/v1/webhook_endpoints/{webhook_endpoint}", "delete_webhook_endpoint"),
]
