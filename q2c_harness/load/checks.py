"""Correctness after a load run, read back through the vendors' APIs (never the simulators' memory):

- every approved PSA time entry has exactly one NetSuite timeBill (`Q2C-TIME-<id>`) and appears on exactly one
  invoice line of exactly one invoice; nothing unapproved is billed; nothing is left unbilled;
- the domain invariants (`q2c_harness.harness.invariants.check_all`) over the invoices, time entries, payments and
  cash applications read back;
- the exception queue explained: each open item with its lot, error class, owner and message.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from q2c_harness.canonical import AppliedAmount, CashApplication, Payment
from q2c_harness.connectors.mapping.netsuite import invoice_status
from q2c_harness.harness.facts import LINE_RE, MEMO_RE
from q2c_harness.harness.invariants import Facts, check_all

NOT_EVALUATED = ("rating", "splits", "fixed_fee", "not_to_exceed", "retainer", "change_order", "revenue", "fx",
                 "intercompany", "tax", "credit_memo")  # need statements of work / reference facts a load run skips


async def _suiteql_ids(ns: Any, table: str, cols: str = "id") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    last = 0
    while True:
        rows = await ns.suiteql_all(f"SELECT {cols} FROM {table} WHERE id > {last} AND id <= {last + 50000} ORDER BY id")
        out += rows
        if not rows:
            more = await ns.suiteql_all(f"SELECT id FROM {table} WHERE id > {last} ORDER BY id")
            if not more:
                return out
            last = int(more[0]["id"]) - 1
            continue
        last = max(int(r["id"]) for r in rows)


async def _read(core: Any) -> dict[str, Any]:
    v = core.vendors
    time_entries = await v.psa.list_all("time_entries")
    timebills = await _suiteql_ids(v.ns, "timebill", "id, externalid")
    inv_ids = [str(r["id"]) for r in await _suiteql_ids(v.ns, "invoice")]
    pay_ids = [str(r["id"]) for r in await _suiteql_ids(v.ns, "customerpayment")]
    sem = asyncio.Semaphore(5)

    async def get(record: str, rid: str) -> dict[str, Any]:
        async with sem:
            return await v.ns.get(record, rid, expand_sub_resources=True)
    invoices = await asyncio.gather(*(get("invoice", i) for i in inv_ids))
    payments = await asyncio.gather(*(get("customerPayment", i) for i in pay_ids))
    return {"time": time_entries, "timebills": timebills, "invoices": invoices, "payments": payments}


def _lines(rec: dict[str, Any], sublist: str) -> list[dict[str, Any]]:
    sub = rec.get(sublist) or {}
    return sub.get("items", []) if isinstance(sub, dict) else sub


def _ref(v: Any) -> str | None:
    return str(v["id"]) if isinstance(v, dict) and v.get("id") is not None else (str(v) if v is not None else None)


def _dec(v: Any) -> Decimal:
    return Decimal(str(v)) if v is not None else Decimal("0")


def _invoice(rec: dict[str, Any]) -> Any:
    """A core-issued NetSuite invoice as a canonical InvoiceEvent (lines name their sources: `[time 12,13; v1]`)."""
    from q2c_harness.canonical import InvoiceEvent, InvoiceLine

    memo = MEMO_RE.search(rec.get("memo") or "")
    if memo is None:
        return None  # intercompany or not the core's
    invoice_id = memo["invoice"]
    cur = rec.get("currency", {})
    lines = []
    for n, ln in enumerate(_lines(rec, "item"), start=1):
        m = LINE_RE.search(ln.get("description") or "")
        lines.append(InvoiceLine(line_id=f"{invoice_id}-{n}", kind=m["kind"] if m else "adjustment",
                                 description=ln.get("description") or "", quantity=_dec(ln.get("quantity")),
                                 unit_price=_dec(ln.get("rate")), amount=_dec(ln.get("amount")),
                                 source_ids=[s for s in (m["sources"].split(",") if m else []) if s],
                                 contract_version=int(m["version"]) if m else int(memo["version"])))
    return InvoiceEvent(
        correlation_id=f"ns-invoice-{rec['id']}", xref={"netsuite": str(rec["id"])}, invoice_id=invoice_id,
        sow_id=memo["sow"], engagement_id=memo["sow"], client_id=_ref(rec.get("entity")) or "",
        contracting_entity_id=_ref(rec.get("subsidiary")) or "", invoice_date=date.fromisoformat(str(rec["tranDate"])[:10]),
        currency=cur.get("refName") if isinstance(cur, dict) and cur.get("refName") else "USD",
        contract_version=int(memo["version"]), lines=lines, net_total=_dec(rec.get("subtotal")),
        tax_total=_dec(rec.get("taxTotal")), gross_total=_dec(rec.get("total")), status=invoice_status(rec))


def _facts(raw: dict[str, Any], engagements: list[str]) -> tuple[Facts, list[Any]]:
    from q2c_harness.canonical import TimeTransaction

    invoices = [i for i in (_invoice(rec) for rec in raw["invoices"]) if i is not None]
    times = []
    for e in raw["time"]:
        state = {"unsubmitted": "draft"}.get(e.get("approval_state") or "unsubmitted", e.get("approval_state"))
        times.append(TimeTransaction(
            correlation_id=f"psa-time-{e['id']}", xref={"psa": e["id"]}, time_entry_id=str(e["id"]),
            engagement_id=str(e["workspace_id"]), sow_id=str(e["workspace_id"]), resource_id=str(e["user_id"]),
            role="Consultant", region="NA", delivering_entity_id="US01",
            work_date=date.fromisoformat(e["date_performed"]), hours=Decimal(e["time_in_minutes"]) / 60,
            approval_state=state, billable=bool(e.get("billable", True)), billing_status="unbilled"))
    inv_by_ns = {i.xref.get("netsuite"): i.invoice_id for i in invoices}
    payments, apps = [], []
    for p in raw["payments"]:
        pay_id = str(p.get("tranId") or p["id"])
        payments.append(Payment(correlation_id=f"ns-payment-{p['id']}", xref={"netsuite": str(p["id"])},
                                payment_id=pay_id, client_id=_ref(p.get("customer")) or "",
                                received_on=date.fromisoformat(str(p["tranDate"])[:10]), currency="USD",
                                amount=Decimal(str(p["payment"]))))
        apps.append(CashApplication(correlation_id=f"ns-payment-{p['id']}", application_id=f"APP-{pay_id}",
                                    payment_id=pay_id, currency="USD", applications=[
                                        AppliedAmount(invoice_id=inv_by_ns.get(_ref(a.get("doc")), _ref(a.get("doc")) or ""),
                                                      amount=Decimal(str(a["amount"]))) for a in _lines(p, "apply")],
                                    unapplied=Decimal(str(p.get("unapplied") or 0))))
    return Facts(invoices=invoices, time_entries=times, payments=payments, cash_applications=apps), invoices


def run_checks(core: Any, plan: dict[str, Any]) -> dict[str, Any]:
    raw = core.vendors.run(_read(core))
    engagements = [str(e.get("engagement_id") or e.get("engagement", {}).get("engagement_id") or e.get("sow", {}).get("sow_id")) for e in core.store.engagements()]
    approved = {str(e["id"]) for e in raw["time"] if e.get("approval_state") == "approved"}
    not_approved = {str(e["id"]) for e in raw["time"]} - approved
    tb = Counter(str(r.get("externalid") or "").upper().removeprefix("Q2C-TIME-") for r in raw["timebills"])
    facts, invoices = _facts(raw, engagements)
    on_lines: Counter[str] = Counter()
    for inv in invoices:
        for ln in inv.lines:
            if ln.kind == "time":
                on_lines.update(s.upper().removeprefix("T-") for s in ln.source_ids)
    problems: list[str] = []
    unbilled = sorted(i for i in approved if tb.get(i, 0) == 0)
    twice = sorted(i for i in approved if tb.get(i, 0) > 1 or on_lines.get(i, 0) > 1)
    not_on_invoice = sorted(i for i in approved if on_lines.get(i, 0) == 0)
    billed_unapproved = sorted(i for i in not_approved if tb.get(i, 0) or on_lines.get(i, 0))
    if unbilled:
        problems.append(f"{len(unbilled)} approved entries have no timeBill (e.g. {unbilled[:5]})")
    if not_on_invoice:
        problems.append(f"{len(not_on_invoice)} approved entries are on no invoice (e.g. {not_on_invoice[:5]})")
    if twice:
        problems.append(f"{len(twice)} entries billed more than once (e.g. {twice[:5]})")
    if billed_unapproved:
        problems.append(f"{len(billed_unapproved)} unapproved entries billed (e.g. {billed_unapproved[:5]})")
    planned = plan["batches"] and sum(b["count"] for b in plan["batches"])
    if len(raw["time"]) != planned:
        problems.append(f"{len(raw['time'])} time entries in the PSA, {planned} planned")
    violations = check_all(facts)
    evaluated = [v for v in violations if not any(k in v.invariant.lower() for k in NOT_EVALUATED)]
    for v in evaluated:
        problems.append(f"invariant {v.invariant}: {v.message}")
    exceptions = [{"id": e.id, "lot": e.lot, "error_class": e.error_class, "owner": getattr(e, "owner", None),
                   "message": (e.message or "")[:300]} for e in core.exceptions()]
    if exceptions:
        problems.append(f"{len(exceptions)} open exception-queue items (listed in the report)")
    return {"ok": not problems, "problems": problems,
            "counts": {"psa_time_entries": len(raw["time"]), "psa_approved": len(approved),
                       "ns_timebills": len(raw["timebills"]), "ns_timebills_distinct": len(tb),
                       "ns_invoices": len(raw["invoices"]), "core_invoices": len(invoices),
                       "invoice_time_sources": sum(on_lines.values()), "billed_twice": len(twice),
                       "approved_unbilled": len(unbilled), "ns_payments": len(raw["payments"]),
                       "core_runs": len(core.store.runs())},
            "invariants": {"violations": [{"invariant": v.invariant, "message": v.message} for v in evaluated][:50],
                           "skipped_as_not_evaluated": len(violations) - len(evaluated)},
            "exceptions": exceptions}


def sim_metrics(spec: dict[str, Any]) -> dict[str, Any]:
    """Requests and 429s per simulator, from each simulator's Prometheus metrics."""
    out: dict[str, Any] = {}
    with httpx.Client(verify=spec.get("ca_bundle") or True, timeout=30) as http:
        for name, url in spec["simulators"].items():
            text = http.get(f"{url}/__admin/metrics").text
            total = rejected = r429 = 0.0
            for line in text.splitlines():
                if line.startswith("sim_requests_total{"):
                    val = float(line.rsplit(" ", 1)[1])
                    total += val
                    if 'status="429"' in line:
                        r429 += val
                elif line.startswith("sim_quota_rejections_total{"):
                    rejected += float(line.rsplit(" ", 1)[1])
            out[name] = {"requests": int(total), "status_429": int(r429), "quota_rejections": int(rejected)}
    return out
