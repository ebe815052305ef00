"""Pure billing rules over Decimal: no I/O, explicit ROUND_HALF_UP rounding, typed exceptions.

See docs/billing.md for each rule's formula, rounding and source.
"""

from .cash import apply_cash, invoice_status, open_balance
from .change_orders import apply_change_order, approved_value_delta, current_contract_version
from .credit_memos import validate_credit_memo
from .eligibility import entry_id, require_billable, select_billable, why_ineligible
from .errors import ALL_VIOLATIONS, BillingRuleViolation
from .fixed_fee import bill_milestone, validate_milestone_schedule
from .fx import FxRateTable, fx_rate_date, realized_fx_gain_loss
from .intercompany import CrossCharge, EliminationEntry, IntercompanyEntry, cross_charge, eliminate, elimination_total
from .invoices import assemble_invoice
from .rating import RatedLine, rate_card_version_on, rate_in_force, rate_time_entry, validate_rate_card
from .recurring import FeePeriod, bill_recurring_fee, monthly_fee_for, period_key, recurring_fee_line
from .retainers import RetainerBalance, draw_down_retainer, receive_retainer
from .revenue import ContractPosition, contract_position, cumulative_revenue, percent_complete, period_revenue
from .rounding import minor_units, quantum, round_money
from .splits import split_amount
from .tax import (
    REVERSE_CHARGE_NOTE,
    TaxDetermination,
    determine_tax,
    is_valid_vat_id,
    missing_tax_attributes,
    tax_amount,
)
from .time_and_materials import HeldAmount, TimeAndMaterialsBilling, bill_time_and_materials
from .usage import usage_line

__all__ = [
    "ALL_VIOLATIONS", "BillingRuleViolation", "ContractPosition", "CrossCharge", "EliminationEntry", "FeePeriod",
    "FxRateTable", "HeldAmount", "IntercompanyEntry", "REVERSE_CHARGE_NOTE", "RatedLine", "RetainerBalance",
    "TaxDetermination", "TimeAndMaterialsBilling", "apply_cash", "apply_change_order", "approved_value_delta",
    "assemble_invoice", "bill_milestone", "bill_recurring_fee", "period_key", "bill_time_and_materials", "contract_position", "cross_charge",
    "cumulative_revenue", "current_contract_version", "determine_tax", "draw_down_retainer", "eliminate",
    "missing_tax_attributes",
    "elimination_total", "entry_id", "fx_rate_date", "monthly_fee_for", "recurring_fee_line", "invoice_status", "is_valid_vat_id", "minor_units",
    "open_balance", "percent_complete", "period_revenue", "quantum", "rate_card_version_on", "rate_in_force",
    "rate_time_entry", "realized_fx_gain_loss", "receive_retainer", "require_billable", "round_money",
    "select_billable", "split_amount", "tax_amount", "usage_line", "validate_credit_memo", "validate_milestone_schedule",
    "validate_rate_card", "why_ineligible",
]
