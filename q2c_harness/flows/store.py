"""The flows' own state, in the engine's database (same URL, same transactions style, separate tables).

- ``q2c_flow_engagements``: one row per engagement activated by flow (a): the canonical engagement, statement of
  work (baseline + current contract version + billing plan), client, and the vendor keys (NetSuite customer/job/
  contract ids, PSA workspace id, Salesforce opportunity id). Change orders (flow d) rewrite ``current``, never
  ``baseline``.
- ``q2c_flow_transactions``: billing-ready transactions (approved time and expenses from the PSA), keyed by source
  id; written by the intake workflow of flow (b), read by billing runs.
- ``q2c_flow_billed``: one row per billed source (time entry, expense, milestone): the unique constraint is the
  "billed at most once" rule; the row names the invoice that billed it.
- ``q2c_flow_runs``: billing runs (engagement x period): which sources each run froze, its invoice id and status.
- ``q2c_flow_rate_corrections``: billing-ops' decisions on time entries whose PSA rate is not the rate card's
  (``RateCardMismatch``): bill the entry at the rate card's rate (who, why, when).
- ``q2c_flow_credit_memos``: corrected invoices: the credit memo crediting one in full (the unique invoice id is
  "credited at most once") and the re-invoice that replaces it.
- ``q2c_flow_revenue``: the revenue-recognition inputs written at each month-end close (engagement x period), the
  prior cumulative of the next close.
- ``q2c_flow_cursors``: intake cursors (Salesforce replay id, PSA event id, NetSuite payment watermark).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from q2c_harness.engine.db import Database, jsonable

metadata = sa.MetaData()
TS = sa.String(40)

engagements = sa.Table(
    "q2c_flow_engagements", metadata,
    sa.Column("engagement_id", sa.String(200), primary_key=True),
    sa.Column("opportunity_id", sa.String(50), nullable=False, unique=True),
    sa.Column("workspace_id", sa.String(50), nullable=True),
    sa.Column("data", sa.Text, nullable=False),  # JSON: client, engagement, sow, keys
    sa.Column("updated_at", TS, nullable=False),
)
sa.Index("ix_q2c_flow_engagements_ws", engagements.c.workspace_id)

transactions = sa.Table(
    "q2c_flow_transactions", metadata,
    sa.Column("source_id", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # time / expense
    sa.Column("engagement_id", sa.String(200), nullable=False),
    sa.Column("period", sa.String(7), nullable=False),  # YYYY-MM of the work date
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("received_at", TS, nullable=False),
)
sa.Index("ix_q2c_flow_tx_run", transactions.c.engagement_id, transactions.c.period)

billed = sa.Table(
    "q2c_flow_billed", metadata,
    sa.Column("source_id", sa.String(200), primary_key=True),
    sa.Column("invoice_id", sa.String(200), nullable=False),
    sa.Column("engagement_id", sa.String(200), nullable=False),
    sa.Column("amount", sa.String(40), nullable=False),
    sa.Column("at", TS, nullable=False),
)
sa.Index("ix_q2c_flow_billed_invoice", billed.c.invoice_id)

runs = sa.Table(
    "q2c_flow_runs", metadata,
    sa.Column("run_id", sa.String(300), primary_key=True),
    sa.Column("engagement_id", sa.String(200), nullable=False),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("invoice_id", sa.String(200), nullable=False),
    sa.Column("source_ids", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # frozen / posted / empty
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("engagement_id", "period", "seq", name="uq_q2c_flow_runs_seq"),
)

rate_corrections = sa.Table(
    "q2c_flow_rate_corrections", metadata,
    sa.Column("source_id", sa.String(200), primary_key=True),
    sa.Column("engagement_id", sa.String(200), nullable=False),
    sa.Column("psa_rate", sa.String(40), nullable=False),
    sa.Column("rate", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", TS, nullable=False),
)

credit_memos = sa.Table(
    "q2c_flow_credit_memos", metadata,
    sa.Column("credit_memo_id", sa.String(200), primary_key=True),
    sa.Column("invoice_id", sa.String(200), nullable=False, unique=True),
    sa.Column("reinvoice_id", sa.String(200), nullable=True),
    sa.Column("engagement_id", sa.String(200), nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # JSON: the credit memo, the re-invoice, what was written off
    sa.Column("at", TS, nullable=False),
)

revenue = sa.Table(
    "q2c_flow_revenue", metadata,
    sa.Column("engagement_id", sa.String(200), primary_key=True),
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("at", TS, nullable=False),
)

cursors = sa.Table(
    "q2c_flow_cursors", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True, default=str)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class FlowStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        metadata.create_all(db.engine, checkfirst=True)

    # engagements -----------------------------------------------------------------------------------------------
    def save_engagement(self, engagement_id: str, opportunity_id: str, workspace_id: str | None,
                        data: dict[str, Any]) -> None:
        now = self.db.now()
        with self.db.tx() as conn:
            exists = conn.execute(sa.select(engagements.c.engagement_id)
                                  .where(engagements.c.engagement_id == engagement_id)).first()
            values = {"opportunity_id": opportunity_id, "workspace_id": workspace_id, "data": dumps(data),
                      "updated_at": now}
            if exists:
                conn.execute(sa.update(engagements).where(engagements.c.engagement_id == engagement_id)
                             .values(**values))
            else:
                conn.execute(sa.insert(engagements).values(engagement_id=engagement_id, **values))

    def engagement(self, engagement_id: str) -> dict[str, Any] | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(engagements.c.data)
                               .where(engagements.c.engagement_id == engagement_id)).first()
        return loads(row[0]) if row else None

    def engagement_by_workspace(self, workspace_id: str) -> dict[str, Any] | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(engagements.c.data)
                               .where(engagements.c.workspace_id == str(workspace_id))).first()
        return loads(row[0]) if row else None

    def engagement_by_opportunity(self, opportunity_id: str) -> dict[str, Any] | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(engagements.c.data)
                               .where(engagements.c.opportunity_id == opportunity_id)).first()
        return loads(row[0]) if row else None

    def engagements(self) -> list[dict[str, Any]]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(engagements.c.data).order_by(engagements.c.engagement_id)).all()
        return [loads(r[0]) for r in rows]

    # billing-ready transactions ------------------------------------------------------------------------------------
    def stage(self, items: Iterable[tuple[str, str, str, str, dict[str, Any]]]) -> int:
        """(source_id, kind, engagement_id, period, data) rows; re-staging a source updates it. Returns new rows."""
        now = self.db.now()
        new = 0
        with self.db.tx() as conn:
            for source_id, kind, engagement_id, period, data in items:
                values = {"kind": kind, "engagement_id": engagement_id, "period": period, "data": dumps(data)}
                res = conn.execute(sa.update(transactions).where(transactions.c.source_id == source_id)
                                   .values(**values))
                if res.rowcount == 0:
                    conn.execute(sa.insert(transactions).values(source_id=source_id, received_at=now, **values))
                    new += 1
        return new

    def staged(self, engagement_id: str, period: str) -> list[dict[str, Any]]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(transactions).where(transactions.c.engagement_id == engagement_id,
                                                              transactions.c.period == period)
                                .order_by(transactions.c.source_id)).mappings().all()
        return [{"source_id": r["source_id"], "kind": r["kind"], **loads(r["data"])} for r in rows]

    def pending_runs(self) -> list[tuple[str, str]]:
        """(engagement, period) pairs with staged sources not billed yet."""
        q = (sa.select(transactions.c.engagement_id, transactions.c.period).distinct()
             .select_from(transactions.outerjoin(billed, billed.c.source_id == transactions.c.source_id))
             .where(billed.c.source_id.is_(None)).order_by(transactions.c.engagement_id, transactions.c.period))
        with self.db.tx() as conn:
            return [(r[0], r[1]) for r in conn.execute(q)]

    # billing runs and the billed-once rule ------------------------------------------------------------------------
    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).mappings().first()
        if row is None:
            return None
        return {**dict(row), "source_ids": loads(row["source_ids"]), "result": loads(row["result"])}

    def runs(self, engagement_id: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(runs).order_by(runs.c.engagement_id, runs.c.period, runs.c.seq)
        if engagement_id:
            q = q.where(runs.c.engagement_id == engagement_id)
        with self.db.tx() as conn:
            rows = conn.execute(q).mappings().all()
        return [{**dict(r), "source_ids": loads(r["source_ids"]), "result": loads(r["result"])} for r in rows]

    def freeze_run(self, run_id: str, engagement_id: str, period: str, invoice_prefix: str,
                   candidates: list[str]) -> dict[str, Any]:
        """Freeze a billing run once: claim the candidate sources no other run billed, in one transaction.
        Calling it again for the same run id returns the frozen run unchanged (replay, crash recovery)."""
        existing = self.run(run_id)
        if existing is not None:
            return existing
        now = self.db.now()
        try:
            self._freeze((run_id, engagement_id, period, invoice_prefix, candidates, now))
        except sa.exc.IntegrityError:  # another worker froze the same run id, or claimed a source first
            pass
        run = self.run(run_id)
        if run is None:  # lost a race on a source: freeze again with what is left
            return self.freeze_run(run_id, engagement_id, period, invoice_prefix, candidates)
        return run

    def _freeze(self, args: tuple[Any, ...]) -> None:
        run_id, engagement_id, period, invoice_prefix, candidates, now = args
        with self.db.tx() as conn:
            taken = {r[0] for r in conn.execute(sa.select(billed.c.source_id)
                                                .where(billed.c.source_id.in_(candidates)))} if candidates else set()
            mine = [c for c in candidates if c not in taken]
            seq = (conn.execute(sa.select(sa.func.max(runs.c.seq)).where(
                runs.c.engagement_id == engagement_id, runs.c.period == period)).scalar() or 0) + 1
            invoice_id = f"{invoice_prefix}-{seq}"
            conn.execute(sa.insert(runs).values(run_id=run_id, engagement_id=engagement_id, period=period, seq=seq,
                                                invoice_id=invoice_id, source_ids=dumps(mine),
                                                status="frozen" if mine else "empty", result=None, updated_at=now))
            for sid in mine:
                conn.execute(sa.insert(billed).values(source_id=sid, invoice_id=invoice_id,
                                                      engagement_id=engagement_id, amount="0", at=now))

    def finish_run(self, run_id: str, status: str, result: dict[str, Any],
                   amounts: dict[str, Decimal] | None = None) -> None:
        with self.db.tx() as conn:
            conn.execute(sa.update(runs).where(runs.c.run_id == run_id)
                         .values(status=status, result=dumps(result), updated_at=self.db.now()))
            for sid, amount in (amounts or {}).items():
                conn.execute(sa.update(billed).where(billed.c.source_id == sid).values(amount=str(amount)))

    def claim_source(self, source_id: str, invoice_id: str, engagement_id: str, amount: Decimal) -> str:
        """Bill one source (a milestone) under an invoice; returns the invoice that holds it (this one, or the
        earlier one that already billed it)."""
        with self.db.tx() as conn:
            row = conn.execute(sa.select(billed.c.invoice_id).where(billed.c.source_id == source_id)).first()
            if row:
                return str(row[0])
            conn.execute(sa.insert(billed).values(source_id=source_id, invoice_id=invoice_id,
                                                  engagement_id=engagement_id, amount=str(amount),
                                                  at=self.db.now()))
        return invoice_id

    def billed(self, engagement_id: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(billed).order_by(billed.c.source_id)
        if engagement_id:
            q = q.where(billed.c.engagement_id == engagement_id)
        with self.db.tx() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def billed_total(self, engagement_id: str, *, kinds_prefix: str | None = None) -> Decimal:
        total = Decimal("0")
        for row in self.billed(engagement_id):
            if kinds_prefix is None or row["source_id"].startswith(kinds_prefix):
                total += Decimal(row["amount"])
        return total

    # rate corrections ----------------------------------------------------------------------------------------------
    def correct_rate(self, source_id: str, engagement_id: str, psa_rate: Decimal, rate: Decimal, *, actor: str,
                     reason: str) -> None:
        """Record billing-ops' decision to bill a time entry at ``rate`` (the rate card's) instead of the PSA's."""
        with self.db.tx() as conn:
            conn.execute(sa.delete(rate_corrections).where(rate_corrections.c.source_id == source_id))
            conn.execute(sa.insert(rate_corrections).values(
                source_id=source_id, engagement_id=engagement_id, psa_rate=str(psa_rate), rate=str(rate),
                actor=actor, reason=reason, at=self.db.now()))

    def rate_corrections(self, engagement_id: str | None = None) -> dict[str, dict[str, Any]]:
        q = sa.select(rate_corrections)
        if engagement_id:
            q = q.where(rate_corrections.c.engagement_id == engagement_id)
        with self.db.tx() as conn:
            return {r["source_id"]: dict(r) for r in conn.execute(q).mappings()}

    # credit memos --------------------------------------------------------------------------------------------------
    def record_credit(self, credit_memo_id: str, invoice_id: str, reinvoice_id: str | None, engagement_id: str,
                      data: dict[str, Any], *, rebilled: dict[str, Decimal], written_off: list[str]) -> None:
        """A credited invoice, once: the sources still billed move to the re-invoice (``rebilled``: source id ->
        amount); the written-off ones stay claimed by the credited invoice at 0 (never billed again)."""
        with self.db.tx() as conn:
            if conn.execute(sa.select(credit_memos.c.credit_memo_id)
                            .where(credit_memos.c.invoice_id == invoice_id)).first():
                return
            conn.execute(sa.insert(credit_memos).values(
                credit_memo_id=credit_memo_id, invoice_id=invoice_id, reinvoice_id=reinvoice_id,
                engagement_id=engagement_id, data=dumps(data), at=self.db.now()))
            for sid, amount in rebilled.items():
                conn.execute(sa.update(billed).where(billed.c.source_id == sid)
                             .values(invoice_id=reinvoice_id, amount=str(amount)))
            for sid in written_off:
                conn.execute(sa.update(billed).where(billed.c.source_id == sid).values(amount="0"))

    def credit_memos(self, engagement_id: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(credit_memos).order_by(credit_memos.c.at, credit_memos.c.credit_memo_id)
        if engagement_id:
            q = q.where(credit_memos.c.engagement_id == engagement_id)
        with self.db.tx() as conn:
            return [{**dict(r), "data": loads(r["data"])} for r in conn.execute(q).mappings()]

    # revenue inputs ------------------------------------------------------------------------------------------------
    def save_revenue(self, engagement_id: str, period: str, row: dict[str, Any]) -> None:
        with self.db.tx() as conn:
            conn.execute(sa.delete(revenue).where(revenue.c.engagement_id == engagement_id,
                                                  revenue.c.period == period))
            conn.execute(sa.insert(revenue).values(engagement_id=engagement_id, period=period, data=dumps(row),
                                                   at=self.db.now()))

    def revenue_before(self, engagement_id: str, period: str) -> dict[str, Any] | None:
        """The last close's row before ``period``."""
        with self.db.tx() as conn:
            row = conn.execute(sa.select(revenue.c.data).where(revenue.c.engagement_id == engagement_id,
                                                               revenue.c.period < period)
                               .order_by(revenue.c.period.desc())).first()
        return loads(row[0]) if row else None

    # cursors -------------------------------------------------------------------------------------------------------
    def cursor(self, name: str, default: str | None = None) -> str | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(cursors.c.value).where(cursors.c.name == name)).first()
        return row[0] if row else default

    def set_cursor(self, name: str, value: str) -> None:
        now = self.db.now()
        with self.db.tx() as conn:
            res = conn.execute(sa.update(cursors).where(cursors.c.name == name).values(value=value, updated_at=now))
            if res.rowcount == 0:
                conn.execute(sa.insert(cursors).values(name=name, value=value, updated_at=now))

    def engagement_of_invoice(self, invoice_id: str) -> str | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(billed.c.engagement_id).where(billed.c.invoice_id == invoice_id)).first()
        return str(row[0]) if row else None
