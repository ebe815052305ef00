"""The canonical model: vendor-neutral objects every connector maps to and from.

Models validate shape only (strict types, closed fields, ISO currencies, Decimal
money). Business rules (signs, sums, caps, approvals) live in ``q2c_harness.billing``
and raise typed ``BillingRuleViolation`` exceptions there.
"""

from .contracts import (
    ApprovalState,
    BillingPlan,
    ChangeOrder,
    ContractVersion,
    CustomerSplit,
    Engagement,
    FixedFeePlan,
    FxPolicy,
    Milestone,
    RateCard,
    RateCardVersion,
    RecurringFeePlan,
    ResourceAssignment,
    RetainerPlan,
    RoleRate,
    StatementOfWork,
    TimeAndMaterialsPlan,
)
from .invoicing import (
    AppliedAmount,
    CashApplication,
    CreditMemo,
    InvoiceEvent,
    InvoiceLine,
    LineKind,
    Payment,
)
from .money import (
    CURRENCY_MINOR_UNITS,
    Amount,
    CanonicalObject,
    CurrencyCode,
    Money,
    is_known_currency,
)
from .parties import Client, LegalEntity, PostalAddress, TaxRegime
from .transactions import BillingStatus, ExpenseTransaction, TimeTransaction

__all__ = [
    "CURRENCY_MINOR_UNITS", "Amount", "AppliedAmount", "ApprovalState", "BillingPlan",
    "BillingStatus", "CanonicalObject", "CashApplication", "ChangeOrder", "Client",
    "ContractVersion", "CreditMemo", "CurrencyCode", "CustomerSplit", "Engagement",
    "ExpenseTransaction", "FixedFeePlan", "FxPolicy", "InvoiceEvent", "InvoiceLine",
    "LegalEntity", "LineKind", "Milestone", "Money", "Payment", "PostalAddress", "RateCard",
    "RateCardVersion", "RecurringFeePlan", "ResourceAssignment", "RetainerPlan",
    "RoleRate", "StatementOfWork", "TaxRegime", "TimeAndMaterialsPlan", "TimeTransaction",
    "is_known_currency",
]
