"""Search by any id a finance-ops user has in hand: a vendor record id (an Opportunity, a NetSuite invoice's internal
id or its number, a PSA workspace or time entry), a canonical id (engagement, invoice, client), an inbound event id,
or a correlation id. Each hit names what it is and the correlation ids whose trace shows it.

Read only, exact matches (ids are not prose): the cross-reference table both ways, the inbox, the exception queue,
and the invoice numbers NetSuite gave (``invoice.posted`` events).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from q2c_harness.engine import events as ev
from q2c_harness.engine.db import events, exceptions, inbox, xref

LIMIT = 50


def search(engine: Any, q: str) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = []
    with engine.db.tx() as conn:
        rows = conn.execute(sa.select(xref).where(sa.or_(
            xref.c.external_id == q, xref.c.external_id_key == q.lower(), xref.c.canonical_id == q))
            .limit(LIMIT)).mappings().all()
        canonical = sorted({r["canonical_id"] for r in rows})
        if canonical:  # every system's record of the same thing: the Opportunity, the job, the workspace ...
            rows = conn.execute(sa.select(xref).where(xref.c.canonical_id.in_(canonical))
                                .order_by(xref.c.canonical_id, xref.c.system).limit(LIMIT)).mappings().all()
        for r in rows:
            hits.append({"kind": "record", "system": r["system"], "object": r["object_type"], "id": r["external_id"],
                         "canonical_id": r["canonical_id"], "matched": q in (r["external_id"], r["canonical_id"]),
                         "correlation_ids": [r["correlation_id"]] if r["correlation_id"] else []})
        for r in conn.execute(sa.select(inbox).where(sa.or_(inbox.c.event_id == q, inbox.c.correlation_id == q))
                              .order_by(inbox.c.id.desc()).limit(LIMIT)).mappings():
            hits.append({"kind": "inbound event", "system": r["source"], "object": r["event_type"],
                         "id": r["event_id"], "status": r["status"], "correlation_ids": [r["correlation_id"]]})
        cond = [exceptions.c.correlation_id == q, exceptions.c.source_key == q]
        if q.isdigit() and int(q) < 2**31:
            cond.append(exceptions.c.id == int(q))
        for r in conn.execute(sa.select(exceptions).where(sa.or_(*cond)).order_by(exceptions.c.id.desc())
                              .limit(LIMIT)).mappings():
            hits.append({"kind": "exception", "system": r["system"], "object": r["lot"], "id": str(r["id"]),
                         "status": r["status"], "code": r["code"], "owner": r["owner"],
                         "correlation_ids": [r["correlation_id"]] if r["correlation_id"] else []})
        for r in conn.execute(sa.select(events).where(events.c.type == ev.INVOICE_POSTED)
                              .order_by(events.c.offset.desc()).limit(100_000)).mappings():
            p = r["payload"] if isinstance(r["payload"], dict) else {}
            if q in (str(p.get("tran_id")), str(p.get("netsuite_id")), str(p.get("invoice_id"))):
                hits.append({"kind": "invoice", "system": "netsuite", "object": "invoice",
                             "id": str(p.get("netsuite_id")), "number": p.get("tran_id"),
                             "canonical_id": p.get("invoice_id"), "engagement_id": p.get("engagement_id"),
                             "amount": p.get("gross_total"), "currency": p.get("currency"),
                             "correlation_ids": [r["correlation_id"]] if r["correlation_id"] else []})
                if len(hits) >= 4 * LIMIT:
                    break
    return hits
