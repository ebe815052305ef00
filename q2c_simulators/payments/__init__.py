"""Payment gateway simulator modeled on the Stripe API, stateful (see docs/payments.md)."""

from .events import signature_header, verify_header
from .simulator import PaymentsSimulator

__all__ = ["PaymentsSimulator", "signature_header", "verify_header"]
