"""Append-only, hash-chained audit log of every external write and every decision.

Each row's hash is sha256(previous hash + canonical JSON of the row), so editing, deleting or reordering rows
breaks the chain; the head hash kept in ``q2c_sequences`` also catches a truncated tail. ``verify_chain``
returns the problems found (empty list: the chain verifies).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from q2c_harness import correlation
from .db import GENESIS_HASH, Database, audit, canonical_json, jsonable, sequences, sha256_hex

SEQUENCE = "audit"
WRITE, DECISION = "write", "decision"
_HASHED = ("seq", "at", "kind", "correlation_id", "system", "operation", "rule", "inputs", "outcome",
           "request_summary", "response_summary", "prev_hash")


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: str
    kind: str
    correlation_id: str | None
    system: str | None
    operation: str | None
    rule: str | None
    inputs: Any
    outcome: Any
    request_summary: Any
    response_summary: Any
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def row_hash(fields: dict[str, Any]) -> str:
    return sha256_hex(fields["prev_hash"] + canonical_json({k: fields[k] for k in _HASHED}))


def summarize(value: Any, limit: int = 4000) -> Any:
    """A JSON-safe summary for the audit log; long bodies are cut with a marker."""
    data = jsonable(value)
    text = canonical_json(data)
    if len(text) <= limit:
        return data
    return {"truncated": True, "length": len(text), "head": text[:limit]}


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _append(self, **fields: Any) -> AuditRecord:
        with self.db.tx() as conn:
            seq, last_hash = self.db.next_in_sequence(conn, SEQUENCE)
            row = {k: fields.get(k) for k in _HASHED if k not in ("seq", "at", "prev_hash")}
            row = {k: (jsonable(v) if k in ("inputs", "outcome", "request_summary", "response_summary")
                       and v is not None else v) for k, v in row.items()}
            row.update(seq=seq, at=self.db.now(), prev_hash=last_hash or GENESIS_HASH)
            if row["correlation_id"] is None:
                row["correlation_id"] = correlation.current()
            row["hash"] = row_hash(row)
            conn.execute(sa.insert(audit).values(**row))
            self.db.set_sequence_hash(conn, SEQUENCE, row["hash"])
        return AuditRecord(**row)

    def record_write(self, *, system: str, operation: str, request: Any = None, response: Any = None,
                     outcome: Any = "ok", correlation_id: str | None = None, key: str | None = None) -> AuditRecord:
        """An external write (or its failure): which system, which operation, what was sent and answered."""
        return self._append(kind=WRITE, system=system, operation=operation, rule=None,
                            inputs={"idempotency_key": key} if key else None, outcome=outcome,
                            request_summary=summarize(request) if request is not None else None,
                            response_summary=summarize(response) if response is not None else None,
                            correlation_id=correlation_id)

    def record_decision(self, *, rule: str, inputs: Any, outcome: Any, correlation_id: str | None = None,
                        system: str | None = None, operation: str | None = None) -> AuditRecord:
        """A decision: which rule, on which inputs, with which outcome."""
        return self._append(kind=DECISION, rule=rule, inputs=inputs, outcome=outcome, system=system,
                            operation=operation, correlation_id=correlation_id, request_summary=None,
                            response_summary=None)

    def for_correlation(self, correlation_id: str) -> list[AuditRecord]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(audit).where(audit.c.correlation_id == correlation_id)
                                .order_by(audit.c.seq)).all()
        return [AuditRecord(**r._asdict()) for r in rows]

    def recent(self, limit: int = 100) -> list[AuditRecord]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(audit).order_by(audit.c.seq.desc()).limit(limit)).all()
        return [AuditRecord(**r._asdict()) for r in rows]

    def verify_chain(self) -> list[dict[str, Any]]:
        """Walk the chain; each problem is {"seq": n, "problem": text}. Empty: the log is intact."""
        problems: list[dict[str, Any]] = []
        prev = GENESIS_HASH
        expected_seq = 0
        with self.db.tx() as conn:
            head = conn.execute(sa.select(sequences.c.next_value, sequences.c.last_hash)
                                .where(sequences.c.name == SEQUENCE)).one_or_none()
            result = conn.execute(sa.select(audit).order_by(audit.c.seq)).mappings()
            for row in result:
                seq = int(row["seq"])
                if seq != expected_seq:
                    problems.append({"seq": seq, "problem": f"gap: expected seq {expected_seq}"})
                if row["prev_hash"] != prev:
                    problems.append({"seq": seq, "problem": "prev_hash does not match the previous row's hash"})
                if row_hash(dict(row)) != row["hash"]:
                    problems.append({"seq": seq, "problem": "row content does not match its hash"})
                prev = row["hash"]
                expected_seq = seq + 1
        if head is not None:
            if int(head.next_value) != expected_seq:
                problems.append({"seq": expected_seq, "problem":
                                 f"head says {int(head.next_value)} rows, found {expected_seq}"})
            if (head.last_hash or GENESIS_HASH) != prev:
                problems.append({"seq": expected_seq - 1, "problem": "last row's hash differs from the head hash"})
        elif expected_seq:
            problems.append({"seq": 0, "problem": "rows exist but the chain head is missing"})
        return problems
