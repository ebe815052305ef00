"""Flow (h): month-end close -> the revenue-recognition inputs of each fixed-fee engagement, written as a documented
export for the revenue team (``revenue-<YYYY-MM>.csv``, docs/flows.md).

Cost-to-cost input method (ASC 606, billing/revenue.py): progress = cost to date / estimate at completion, where
both are measured as the PSA measures budget use -- approved hours (billable or not) up to the period end at the
firm's rate card (the version in force on the work date) -- against the PSA project's current budget. The
transaction price is the statement of work's current contract value (baseline + approved change orders); revenue
to date = round(progress x price), the period's revenue is the catch-up on the prior period's row; billed to date
is what the milestones invoiced, and billed - recognized is the contract liability (or asset).

Time-and-materials and retainer engagements are not in the export: they recognize what they bill (the ASC 606
"right to invoice" practical expedient), which the invoices already state.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from q2c_harness.billing import contract_position, cumulative_revenue, percent_complete, period_revenue
from q2c_harness.billing.errors import CurrencyMismatch
from q2c_harness.billing.rating import rate_in_force
from q2c_harness.billing.rounding import round_money
from q2c_harness.canonical import StatementOfWork, TimeTransaction

from .context import FlowContext, load
from .time_to_invoice import period_end

COLUMNS = ("engagement_id", "sow_id", "period", "currency", "price", "cost_to_date", "estimate_at_completion",
           "percent_complete", "prior_cumulative", "cumulative_revenue", "period_revenue", "billed_to_date",
           "contract_asset", "contract_liability")


def cost_to_date(ctx: FlowContext, engagement_id: str, sow: StatementOfWork, through: date) -> Decimal:
    """Approved hours up to ``through`` at the firm's rate card, in the contract currency."""
    card = ctx.ref.rate_cards[ctx.ref.default_rate_card]
    total = Decimal("0")
    periods = sorted({p for e, p in ctx.store.pending_runs() if e == engagement_id}
                     | {r["period"] for r in ctx.store.runs(engagement_id)} | {through.isoformat()[:7]})
    for period in periods:
        for s in ctx.store.staged(engagement_id, period):
            if s["kind"] != "time":
                continue
            tx = load(TimeTransaction, s["tx"])
            if tx.work_date > through or tx.approval_state != "approved":
                continue
            version, rate = rate_in_force(card, tx.role, tx.region, tx.work_date)
            if version.currency != sow.currency:
                raise CurrencyMismatch(f"rate card {card.rate_card_id} is in {version.currency}, engagement "
                                       f"{engagement_id} in {sow.currency}: cost to date needs one currency",
                                       ref=engagement_id)
            total += round_money(tx.hours * rate, sow.currency)
    return total


def transaction_price(sow: StatementOfWork) -> Decimal:
    """The contract value now: the signed baseline plus every approved change order (the current version)."""
    return sow.current.value


def revenue_row(ctx: FlowContext, engagement_id: str, period: str, prior: dict[str, Any] | None) -> dict[str, str]:
    data = ctx.store.engagement(engagement_id)
    assert data is not None
    sow = load(StatementOfWork, data["sow"])
    through = period_end(period)
    price, eac = transaction_price(sow), sow.current.budget
    cost = cost_to_date(ctx, engagement_id, sow, through)
    progress = percent_complete(cost, eac)
    cumulative = cumulative_revenue(progress, price, sow.currency)
    prior_cum = Decimal(prior["cumulative_revenue"]) if prior else Decimal("0")
    billed = ctx.store.billed_total(engagement_id, kinds_prefix="M-")
    position = contract_position(billed, cumulative)
    values = (engagement_id, sow.sow_id, period, sow.currency, price, cost, eac,
              (progress * 100).quantize(Decimal("0.0001")), prior_cum, cumulative,
              period_revenue(cumulative, prior_cum), billed, position.contract_asset, position.contract_liability)
    return {c: str(v) for c, v in zip(COLUMNS, values)}


def close_period(ctx: FlowContext, period: str, exports_dir: Path) -> Path:
    """Write ``revenue-<period>.csv`` (every fixed-fee engagement, by id) and keep its rows as the next period's
    prior; closing the same period again rewrites the same file."""
    rows = []
    for data in sorted(ctx.store.engagements(), key=lambda d: d["engagement"]["engagement_id"]):
        sow = load(StatementOfWork, data["sow"])
        if sow.billing_plan.kind != "fixed_fee":
            continue
        eid = data["engagement"]["engagement_id"]
        row = revenue_row(ctx, eid, period, ctx.store.revenue_before(eid, period))
        rows.append(row)
        ctx.store.save_revenue(eid, period, row)
        ctx.engine.decide("revenue.inputs", {"engagement_id": eid, "period": period}, row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    exports_dir.mkdir(parents=True, exist_ok=True)
    path = exports_dir / f"revenue-{period}.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path
