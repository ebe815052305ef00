"""Business-rule exceptions.

Every rule in ``billing/`` that meets bad input raises a subclass of
``BillingRuleViolation`` -- never a silent fix. The integration core routes these to
the business-exception queue and never retries them. ``code`` is stable (safe to
store, filter and alert on); the message names the offending object and field.
"""

from __future__ import annotations

from q2c_harness.errors import BusinessError


class BillingRuleViolation(BusinessError):
    """Base of all billing business-rule exceptions: a ``BusinessError`` (never retried,
    parked in the exception queue's ``business`` lot)."""

    code: str = "billing_rule_violation"

    def __init__(self, message: str, *, ref: str | None = None) -> None:
        # The taxonomy stores ``code`` per instance; keep the class's stable code.
        super().__init__(message, system="billing", code=type(self).code, details={"ref": ref} if ref else None)
        self.ref = ref  # id of the offending record, when there is one

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"



class NegativeQuantity(BillingRuleViolation):
    """Hours, quantity or amount is below zero where it must not be."""

    code = "negative_quantity"


class UnknownCurrency(BillingRuleViolation):
    """Currency is not an ISO 4217 code we know."""

    code = "unknown_currency"


class CurrencyMismatch(BillingRuleViolation):
    code = "currency_mismatch"


class OverlappingRateCardVersions(BillingRuleViolation):
    code = "overlapping_rate_card_versions"


class NoRateInForce(BillingRuleViolation):
    """No rate-card version covers the work date, or it has no rate for role x region."""

    code = "no_rate_in_force"


class MissingFxRate(BillingRuleViolation):
    code = "missing_fx_rate"


class IneligibleEntry(BillingRuleViolation):
    """Entry is not approved, not billable, or already billed."""

    code = "ineligible_entry"


class AlreadyBilled(BillingRuleViolation):
    code = "already_billed"


class CapExceeded(BillingRuleViolation):
    """Billed-to-date already exceeds the not-to-exceed cap."""

    code = "cap_exceeded"


class ScheduleDoesNotSumToFee(BillingRuleViolation):
    code = "schedule_does_not_sum_to_fee"


class MilestoneNotAccepted(BillingRuleViolation):
    code = "milestone_not_accepted"


class ContractValueExceeded(BillingRuleViolation):
    """Invoicing would exceed baseline + approved change orders."""

    code = "contract_value_exceeded"


class ChangeOrderOnClosedSOW(BillingRuleViolation):
    code = "change_order_on_closed_sow"


class ChangeOrderNotApproved(BillingRuleViolation):
    code = "change_order_not_approved"


class ChangeOrderMismatch(BillingRuleViolation):
    """Change order belongs to another statement of work, or is out of sequence."""

    code = "change_order_mismatch"


class RetainerOverdrawn(BillingRuleViolation):
    code = "retainer_overdrawn"


class RateCardMismatch(BillingRuleViolation):
    """A time entry carries a rate that is not the contract rate card's rate in force on its work date."""

    code = "rate_card_mismatch"


class MilestoneRejected(BillingRuleViolation):
    """The client rejected a billing milestone: it is not billed until accepted after rework."""

    code = "milestone_rejected"


class NotIntercompanyPartners(BillingRuleViolation):
    code = "not_intercompany_partners"


class SplitsDoNotSumTo100(BillingRuleViolation):
    code = "splits_do_not_sum_to_100"


class MissingCustomerVatId(BillingRuleViolation):
    code = "missing_customer_vat_id"


class UnknownTaxRate(BillingRuleViolation):
    code = "unknown_tax_rate"


class CreditExceedsInvoice(BillingRuleViolation):
    code = "credit_exceeds_invoice"


class CreditMemoInvoiceMismatch(BillingRuleViolation):
    code = "credit_memo_invoice_mismatch"


class OverApplication(BillingRuleViolation):
    """Cash applied to an invoice exceeds its open balance."""

    code = "over_application"


class PaymentImbalance(BillingRuleViolation):
    """Applied + deductions exceed the payment (unapplied would go negative)."""

    code = "payment_imbalance"


class ProgressOutOfRange(BillingRuleViolation):
    """Percent complete outside 0..1 (cost to date above the estimate at completion)."""

    code = "progress_out_of_range"


class AmountNotInMinorUnits(BillingRuleViolation):
    """Amount has more decimals than its currency allows."""

    code = "amount_not_in_minor_units"


ALL_VIOLATIONS: tuple[type[BillingRuleViolation], ...] = tuple(
    v for v in list(globals().values())
    if isinstance(v, type) and issubclass(v, BillingRuleViolation) and v is not BillingRuleViolation
)
