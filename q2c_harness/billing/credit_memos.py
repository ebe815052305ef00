"""Credit memos: each credits exactly one invoice (VAT Directive Art. 219), in its currency,
and Σ credits never exceed the invoice's gross total. Invoices are never deleted."""

from __future__ import annotations

from collections.abc import Iterable

from q2c_harness.canonical import CreditMemo, InvoiceEvent

from .errors import CreditExceedsInvoice, CreditMemoInvoiceMismatch
from .rounding import ZERO, require_minor_units, require_non_negative


def validate_credit_memo(memo: CreditMemo, invoice: InvoiceEvent, prior_credits: Iterable[CreditMemo] = ()) -> None:
    """Raises CreditMemoInvoiceMismatch, CreditExceedsInvoice, NegativeQuantity, AmountNotInMinorUnits."""
    if memo.invoice_id != invoice.invoice_id:
        raise CreditMemoInvoiceMismatch(
            f"credit memo {memo.credit_memo_id} references invoice {memo.invoice_id}, not {invoice.invoice_id}",
            ref=memo.credit_memo_id,
        )
    if memo.currency != invoice.currency:
        raise CreditMemoInvoiceMismatch(
            f"credit memo {memo.credit_memo_id} is in {memo.currency}, invoice {invoice.invoice_id} in {invoice.currency}",
            ref=memo.credit_memo_id,
        )
    require_non_negative(memo.amount, f"credit memo {memo.credit_memo_id} amount")
    require_minor_units(memo.amount, memo.currency, f"credit memo {memo.credit_memo_id} amount")
    prior = sum(
        (c.amount for c in prior_credits if c.invoice_id == invoice.invoice_id and c.credit_memo_id != memo.credit_memo_id),
        ZERO,
    )
    if prior + memo.amount > invoice.gross_total:
        raise CreditExceedsInvoice(
            f"credit memo {memo.credit_memo_id} ({memo.amount}) plus prior credits ({prior}) exceed invoice "
            f"{invoice.invoice_id} total {invoice.gross_total} {invoice.currency}",
            ref=memo.credit_memo_id,
        )
