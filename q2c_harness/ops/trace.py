"""A transaction's trace across systems: everything recorded under a correlation id and under the correlation ids
linked to it through the same engagement, in time order, each entry placed in a system group (CRM, PSA, ERP, core)
and a Q2C stage (proposal line -> project task -> time entries -> billing event -> invoice line -> payment).

Linking: every flow run has its own correlation id (one per inbound event). Runs are linked when they share an
engagement id (``ENG-...`` in an inbox key, effect key, event or exception payload) or a billed source id (the
``sources`` of ``time.approved`` and ``billing_event.created``). The scan is bounded to the newest
``SCAN_LIMIT`` inbox rows, effects and events.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

SCAN_LIMIT = 5000
GROUPS = {"salesforce": "CRM", "psa": "PSA", "netsuite": "ERP"}
GROUP_ORDER = ["CRM", "PSA", "ERP", "core"]
STAGES = ["proposal line", "project task", "time entries", "billing event", "invoice line", "payment"]
_ENG = re.compile(r"ENG-[A-Za-z0-9]+")
# first match wins; matched against "operation url-path rule event-type" in lower case
_KEYWORDS: list[tuple[tuple[str, ...], str]] = [
    (("payment",), "payment"),
    (("timebill",), "time entries"),
    (("invoice",), "invoice line"),
    (("billing_event", "billing.rate", "billing-run", "billingschedule", "billing_milestone"), "billing event"),
    (("time_entr", "timesheet", "time.approved", "expense"), "time entries"),
    (("projecttask", "external_ref", "/job", "job.", "workspace", "stor", "salesorder", "project.activated", "customer",
      "change_order", "budget"), "project task"),
    (("quote", "sbqq", "contracting_entity", "account"), "proposal line"),
]
_WORKFLOW_STAGE = [("quote_to_project", "proposal line"), ("change_order", "project task"),
                   ("transactions_approved", "time entries"), ("intake", "time entries"),
                   ("billing_run", "billing event"), ("milestone", "billing event"), ("cash", "payment"),
                   ("payment", "payment")]


def group_of(system: str | None) -> str:
    return GROUPS.get((system or "").lower(), "core")


def stage_of(text: str, workflow: str | None) -> str:
    t = text.lower()
    for words, stage in _KEYWORDS:
        if any(w in t for w in words):
            return stage
    wf = (workflow or "").lower()
    for part, stage in _WORKFLOW_STAGE:
        if part in wf:
            return stage
    return "other"


def _tokens(*values: Any) -> set[str]:
    out: set[str] = set()
    for v in values:
        text = v if isinstance(v, str) else json.dumps(v, default=str)
        out.update(_ENG.findall(text))
    return out


def _source_tokens(payload: Any) -> set[str]:
    if not isinstance(payload, dict):
        return set()
    out = set()
    for name in ("sources", "source_ids"):
        for s in payload.get(name) or []:
            out.add(f"src:{s if not isinstance(s, dict) else s.get('id')}")
    return out


def linked_correlation_ids(engine: Any, correlation_id: str) -> list[str]:
    """The correlation id and those linked to it (same engagement or billed source), oldest first."""
    tokens: dict[str, set[str]] = defaultdict(set)
    first_seen: dict[str, str] = {}
    for e in engine.inbox.list(limit=SCAN_LIMIT):
        tokens[e.correlation_id] |= _tokens(e.source, e.event_id, e.payload)
        first_seen[e.correlation_id] = min(first_seen.get(e.correlation_id, e.received_at), e.received_at)
    for f in engine.ledger.list(limit=SCAN_LIMIT):
        if f.get("correlation_id"):
            tokens[f["correlation_id"]] |= _tokens(f["key"])
    end = engine.events.end_offset()
    for ev in engine.events.read(max(0, end - SCAN_LIMIT), limit=SCAN_LIMIT):
        if ev.correlation_id:
            tokens[ev.correlation_id] |= _tokens(ev.payload) | _source_tokens(ev.payload)
    for item in engine.exceptions.list(correlation_id=correlation_id, limit=100):
        tokens[correlation_id] |= _tokens(item.payload, item.source_key or "")
    wanted = set(tokens.get(correlation_id, set()))
    found = {correlation_id}
    changed = True
    while changed and wanted:
        changed = False
        for cid, toks in tokens.items():
            if cid not in found and toks & wanted:
                found.add(cid)
                wanted |= toks
                changed = True
    return sorted(found, key=lambda c: (first_seen.get(c, "~"), c))


def build_trace(engine: Any, correlation_id: str, call_log: Any = None, *, linked: bool = True) -> dict[str, Any]:
    cids = linked_correlation_ids(engine, correlation_id) if linked else [correlation_id]
    entries: list[dict[str, Any]] = []
    runs = []
    workflow_of: dict[str, str | None] = {}
    for cid in cids:
        for e in engine.inbox.list(correlation_id=cid, limit=100):
            workflow_of.setdefault(cid, e.workflow_name)
            runs.append({"correlation_id": cid, "inbox_key": f"{e.source}:{e.event_id}",
                         "workflow_name": e.workflow_name, "status": e.status, "received_at": e.received_at})

    def add(at: str, cid: str, system: str | None, kind: str, summary: str, text: str, **extra: Any) -> None:
        entries.append({"at": at, "correlation_id": cid, "group": group_of(system), "system": system or "core",
                        "kind": kind, "stage": stage_of(text, workflow_of.get(cid)), "summary": summary,
                        "workflow_name": workflow_of.get(cid), **extra})

    for run in runs:
        src = run["inbox_key"].split(":", 1)[0]
        add(run["received_at"], run["correlation_id"], src, "inbound",
            f"{run['inbox_key']} -> {run['workflow_name']} ({run['status']})", run["inbox_key"], status=run["status"])
    for cid in cids:
        for r in engine.audit.for_correlation(cid):
            if r.kind == "write":
                outcome = r.outcome if isinstance(r.outcome, str) else json.dumps(r.outcome, default=str)[:200]
                add(r.at, cid, r.system, "write", f"{r.system} {r.operation} -> {outcome}",
                    f"{r.operation}", ref=f"audit:{r.seq}")
            else:
                outcome = json.dumps(r.outcome, default=str)
                add(r.at, cid, r.system, "decision", f"rule {r.rule} -> {outcome[:300]}", f"{r.rule} {outcome[:300]}",
                    ref=f"audit:{r.seq}")
        for ev in engine.events.read(0, limit=1000, correlation_id=cid):
            add(ev.published_at, cid, None, "event", f"event {ev.type} #{ev.offset}", ev.type, ref=f"event:{ev.offset}")
        for item in engine.exceptions.list(correlation_id=cid, limit=100):
            for h in item.to_dict()["history"]:
                who = f" by {h['actor']}" if h["actor"] else ""
                add(h["at"], cid, None, "exception",
                    f"exception #{item.id} ({item.lot}, {item.code or item.error_class}) {h['action']}{who}"
                    + (f": {h['reason']}" if h["reason"] else ""),
                    "", ref=f"exception:{item.id}", status=item.status)
    if call_log is not None:
        for c in call_log.for_correlations(cids):
            path = urlsplit(c["url"]).path
            failed = c["error_class"] is not None or (c["status"] or 0) >= 400
            kind = "retry" if c["attempt"] > 1 else ("call-error" if failed else "call")
            summary = f"{c['method']} {path} -> {c['status'] if c['status'] is not None else 'no response'}"
            summary += f" ({c['duration_ms']:.0f} ms, attempt {c['attempt']})"
            if c["error_class"]:
                summary += f" {c['error_class']} {c['error_code'] or ''}".rstrip()
            if c["retry_in"] is not None:
                summary += f"; retry in {c['retry_in']:.2f} s"
            add(c["at"], c["correlation_id"], c["system"], kind, summary, f"{c['operation']} {path}",
                operation=c["operation"], status=c["status"], attempt=c["attempt"])
    entries.sort(key=lambda e: (e["at"], GROUP_ORDER.index(e["group"])))
    present = {e["stage"] for e in entries}
    return {"correlation_id": correlation_id, "correlation_ids": cids, "runs": runs,
            "stages": [s for s in STAGES + ["other"] if s in present], "groups": GROUP_ORDER,
            "entries": entries}
