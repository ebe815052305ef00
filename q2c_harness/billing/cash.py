"""Cash application: payment = Σ applied + unapplied + deductions; applied <= open balance;
unapplied >= 0; an invoice is Paid exactly when its open balance is zero."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from q2c_harness.canonical import AppliedAmount, CashApplication, Payment

from .errors import CurrencyMismatch, OverApplication, PaymentImbalance
from .rounding import ZERO, require_minor_units, require_non_negative

InvoiceStatus = Literal["open", "partially_paid", "paid"]


def open_balance(gross_total: Decimal, credited: Decimal, applied: Decimal) -> Decimal:
    return gross_total - credited - applied


def invoice_status(gross_total: Decimal, credited: Decimal, applied: Decimal) -> InvoiceStatus:
    """Paid exactly when the open balance is zero."""
    balance = open_balance(gross_total, credited, applied)
    if balance == 0:
        return "paid"
    return "open" if applied == 0 else "partially_paid"


def apply_cash(
    payment: Payment,
    *,
    application_id: str,
    allocations: Mapping[str, Decimal],
    open_balances: Mapping[str, Decimal],
    deductions: Decimal = ZERO,
) -> CashApplication:
    """Apply a payment to invoices; what is not applied or deducted stays unapplied.

    ``allocations``: invoice_id -> amount to apply; ``open_balances``: invoice_id -> open balance
    (same currency as the payment). Raises OverApplication, PaymentImbalance, CurrencyMismatch.
    """
    require_non_negative(payment.amount, f"payment {payment.payment_id} amount")
    require_non_negative(deductions, f"payment {payment.payment_id} deductions")
    for invoice_id, amount in allocations.items():
        require_non_negative(amount, f"payment {payment.payment_id} applied to {invoice_id}")
        require_minor_units(amount, payment.currency, f"payment {payment.payment_id} applied to {invoice_id}")
        if invoice_id not in open_balances:
            raise CurrencyMismatch(
                f"payment {payment.payment_id} applied to invoice {invoice_id} with no open balance in {payment.currency}",
                ref=invoice_id,
            )
        if amount > open_balances[invoice_id]:
            raise OverApplication(
                f"payment {payment.payment_id}: applying {amount} to invoice {invoice_id} exceeds its open "
                f"balance {open_balances[invoice_id]} {payment.currency}",
                ref=invoice_id,
            )
    applied = sum(allocations.values(), ZERO)
    unapplied = payment.amount - applied - deductions
    if unapplied < 0:
        raise PaymentImbalance(
            f"payment {payment.payment_id} of {payment.amount} {payment.currency} cannot cover applied {applied} "
            f"+ deductions {deductions}",
            ref=payment.payment_id,
        )
    return CashApplication(
        correlation_id=payment.correlation_id,
        application_id=application_id,
        payment_id=payment.payment_id,
        currency=payment.currency,
        applications=[AppliedAmount(invoice_id=i, amount=a) for i, a in allocations.items() if a > 0],
        unapplied=unapplied,
        deductions=deductions,
    )
