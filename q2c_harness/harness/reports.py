"""Scenario reports: JUnit XML for CI, an HTML report for people, and a JSON summary (reports/ by default).

The HTML report puts failures first. Per scenario: why it failed in one line, each failing invariant (expected vs
actual, and the correlation-id trail across systems), the invariants evaluated with their counts (when the run has
them), the invoices and payments read back from the ERP (net, tax and gross with their currency), the steps on the
scenario's clock, the faults each simulator injected (its own counters: duplicates and reorders included), KPIs,
the exception queue, and each transaction's timeline across CRM, PSA and ERP in scenario time.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from .runner import ScenarioResult
from .scenario import fault_profile_name

ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "CLP", "ISK", "VND"}


# ---- words and numbers ------------------------------------------------------------------------------------------
def money(amount: Any, currency: str | None) -> str:
    """``USD 9,765.00``: the currency's minor units, rounded half up, thousands separated."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return f"{currency or ''} {amount}".strip()
    places = Decimal("1") if (currency or "").upper() in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")
    return f"{currency or ''} {value.quantize(places, rounding=ROUND_HALF_UP):,}".strip()


def money_by_currency(amounts: dict[str, Any]) -> str:
    return ", ".join(money(v, k) for k, v in sorted(amounts.items())) or "none"


def verdict(r: ScenarioResult) -> str:
    return "PASS" if r.ok else ("ERROR" if r.error else "FAIL")


def reason(r: ScenarioResult) -> str:
    """Why a scenario failed, in one line ("" when it passed)."""
    if r.ok:
        return ""
    if r.error:
        return r.error.strip().splitlines()[0]
    if r.expectation_failures:
        return f"expectation: {r.expectation_failures[0]}"
    if r.violations:
        v = r.violations[0]
        return f"invariant {v.invariant}: {v.message}"
    if r.not_evaluated:  # never green on nothing: an invariant that checked nothing fails the scenario
        return f"invariant {r.not_evaluated[0]}: not evaluated (it checked nothing)"
    return "no invariant evaluated"


def failures_first(results: list[ScenarioResult]) -> list[ScenarioResult]:
    return sorted(results, key=lambda r: (r.ok, r.error is None))  # errors, then failures, then passes; stable


# ---- tables read from the run ----------------------------------------------------------------------------------
def invoice_rows(r: ScenarioResult) -> list[dict[str, Any]]:
    """Each invoice the core issued, as read back from the ERP."""
    if r.facts is None:
        return []
    numbers = numbers_of(r)
    worked = {t.time_entry_id: t.work_date for t in r.facts.facts.time_entries}
    rows = []
    for inv in sorted(r.facts.facts.invoices, key=lambda i: (i.engagement_id, i.invoice_date, i.invoice_id)):
        days = sorted(worked[s] for line in inv.lines for s in line.source_ids if s in worked)
        period = f"{days[0]} to {days[-1]}" if days else inv.invoice_date.strftime("%Y-%m")
        rows.append({"engagement": inv.engagement_id, "invoice": numbers[inv.invoice_id],
                     "invoice_id": inv.invoice_id, "date": inv.invoice_date.isoformat(), "period": period,
                     "currency": inv.currency, "net": str(inv.net_total), "tax": str(inv.tax_total),
                     "gross": str(inv.gross_total), "status": inv.status})
    return rows


def payment_rows(r: ScenarioResult) -> list[dict[str, Any]]:
    if r.facts is None:
        return []
    numbers = {str(rec.get("id")): rec.get("tranId") for rec in r.facts.raw_payments}
    invoice_numbers = numbers_of(r)
    applied: dict[str, list[str]] = {}
    unapplied: dict[str, Decimal] = {}
    for app in r.facts.facts.cash_applications:
        applied.setdefault(app.payment_id, []).extend(
            f"{invoice_numbers.get(a.invoice_id, a.invoice_id)} {money(a.amount, app.currency)}"
            for a in app.applications)
        unapplied[app.payment_id] = unapplied.get(app.payment_id, Decimal("0")) + app.unapplied
    return [{"payment": numbers.get(p.xref.get("netsuite", "")) or p.payment_id, "client": p.client_id,
             "received_on": p.received_on.isoformat(), "currency": p.currency, "amount": str(p.amount),
             "applied_to": applied.get(p.payment_id, []), "unapplied": str(unapplied.get(p.payment_id, 0))}
            for p in sorted(r.facts.facts.payments, key=lambda p: (p.received_on, p.payment_id))]


def numbers_of(r: ScenarioResult) -> dict[str, str]:
    """The core's invoice id -> the ERP's invoice number."""
    if r.facts is None:
        return {}
    by_record = {str(rec.get("id")): rec.get("tranId") for rec in r.facts.raw_invoices}
    return {i.invoice_id: by_record.get(i.xref.get("netsuite", "")) or i.invoice_id for i in r.facts.facts.invoices}


def _instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def timelines(r: ScenarioResult) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each correlation id's events in scenario time: the core logs wall-clock instants, placed here in the step
    during which they happened and shown on that step's virtual clock."""
    starts = [(_instant(s.started_at), s) for s in r.steps if s.started_at]
    starts = [(t, s) for t, s in starts if t is not None]

    def placed(event: dict[str, Any]) -> dict[str, Any]:
        at = _instant(event.get("at", ""))
        step = None
        for t, s in starts:
            if at is not None and t <= at:
                step = s
        return {**event, "step": f"{step.index} {step.kind}" if step else "",
                "scenario_time": step.clock if step else ""}

    out = [(cid, [placed(e) for e in events]) for cid, events in r.timeline.items()]
    return sorted(out, key=lambda item: str(item[1][0].get("at", "")) if item[1] else "")


def invariant_rows(r: ScenarioResult) -> list[dict[str, Any]]:
    """Each invariant: its verdict, how many facts it checked and how many of them violated it."""
    return [{"invariant": i.invariant, "status": i.status, "checked": i.checked, "violated": len(i.violations),
             "not_applicable": i.not_applicable} for i in r.invariants]


# ---- JUnit and JSON ---------------------------------------------------------------------------------------------
def write_junit(results: list[ScenarioResult], path: Path) -> Path:
    """One test case per scenario, and one per invariant of each (skipped with the reason when not applicable)."""
    invariants = [i for r in results for i in r.invariants]
    failures = sum(1 for r in results if not r.ok and r.error is None) + sum(1 for i in invariants if not i.ok)
    errors = sum(1 for r in results if r.error is not None)
    suite = ET.Element("testsuite", name="q2c-scenarios", tests=str(len(results) + len(invariants)),
                       failures=str(failures), errors=str(errors),
                       skipped=str(sum(1 for i in invariants if i.status == "not applicable")),
                       time=f"{sum(r.seconds for r in results):.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"scenarios.{r.mode}", name=r.name, time=f"{r.seconds:.3f}")
        if not r.ok:
            ET.SubElement(case, "error" if r.error is not None else "failure",
                          message=reason(r)[:500]).text = r.explain()
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(f"[{s.index:2}] {s.clock} {s.label} {s.seconds:.3f}s {'ok' if s.ok else 'FAIL'} "
                             f"{s.detail}" for s in r.steps)
        for inv in r.invariants:
            icase = ET.SubElement(suite, "testcase", classname=f"scenarios.{r.name}", name=inv.invariant, time="0")
            props = ET.SubElement(icase, "properties")
            ET.SubElement(props, "property", name="checked", value=str(inv.checked))
            ET.SubElement(props, "property", name="violated", value=str(len(inv.violations)))
            if inv.status == "not applicable":
                ET.SubElement(icase, "skipped", message=f"not applicable: {inv.not_applicable}")
            elif not inv.ok:
                ET.SubElement(icase, "failure", message=inv.summary()[:500]).text = "\n".join(
                    f"{v.message}\n  expected: {v.expected}\n  actual:   {v.actual}" for v in inv.violations)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path


def summary(results: list[ScenarioResult]) -> list[dict[str, Any]]:
    return [{"name": r.name, "ok": r.ok, "reason": reason(r), "seed": r.seed, "mode": r.mode,
             "fault_profile": fault_profile_name(r.fault_profile), "seconds": round(r.seconds, 3),
             "error": r.error, "expectation_failures": r.expectation_failures,
             "violations": [{"invariant": v.invariant, "message": v.message, "expected": str(v.expected),
                             "actual": str(v.actual), "refs": v.refs} for v in r.violations],
             "invariants": invariant_rows(r),
             "steps": [{"index": s.index, "kind": s.kind, "label": s.label, "clock": s.clock,
                        "seconds": round(s.seconds, 4), "ok": s.ok, "detail": s.detail, "error": s.error}
                       for s in r.steps],
             "invoices": invoice_rows(r), "payments": payment_rows(r),
             "faults": r.faults, "kpis": r.kpis} for r in results]


def write_json(results: list[ScenarioResult], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary(results), indent=2, default=str) + "\n")
    return path


# ---- HTML -------------------------------------------------------------------------------------------------------
_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.5em}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f3f3f3}td.num{text-align:right;white-space:nowrap}.ok{color:#080;font-weight:600}
.fail{color:#b00;font-weight:600}details{margin:.3em 0}code{background:#f6f6f6;padding:0 3px}
.sys-salesforce{color:#0070d2}.sys-netsuite{color:#a0522d}.sys-psa{color:#6a1b9a}.sys-q2c{color:#555}
section{border-top:2px solid #ddd;margin-top:1.5em}p.reason{color:#b00}"""


def _e(v: Any) -> str:
    return html.escape(str(v))


def _table(head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    """Cells are already escaped."""
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td class=num>{c}</td>" if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _when(clock: str) -> str:
    """A scenario-clock instant as people read it: ``2026-11-30 23:55 UTC``."""
    at = _instant(clock) if clock else None
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else clock


def _mark(r: ScenarioResult) -> str:
    return f'<span class="{"ok" if r.ok else "fail"}">{verdict(r)}</span>'


def _failures_html(r: ScenarioResult) -> str:
    out = []
    if r.error:
        out.append(f"<pre class='fail'>{_e(r.error)}</pre>")
    if r.violations or r.expectation_failures or r.not_evaluated:
        rows = [["expectation", _e(f), "", "", ""] for f in r.expectation_failures]
        rows += [[_e(name), "not evaluated: it checked nothing", "", "", ""] for name in r.not_evaluated]
        rows += [[_e(v.invariant), _e(v.message), f"<code>{_e(v.expected)}</code>", f"<code>{_e(v.actual)}</code>",
                  _e(r.trail_for(v.refs))] for v in r.violations]
        out.append("<h3>What failed</h3>" + _table(["invariant", "explanation", "expected", "actual",
                                                     "correlation trail"], rows))
    return "".join(out)


def _invariants_html(r: ScenarioResult) -> str:
    rows = invariant_rows(r)
    if not rows:
        return ""
    return "<h3>Invariants</h3>" + _table(
        ["invariant", "status", "facts checked", "violated", "not applicable because"],
        [[_e(row["invariant"]), f"<span class={'fail' if row['status'] in ('violated', 'not evaluated') else 'ok'}>"
          f"{_e(row['status'])}</span>", str(row["checked"]), str(row["violated"]), _e(row["not_applicable"] or "")]
         for row in rows], {2, 3})


def _money_html(r: ScenarioResult) -> str:
    invoices, payments = invoice_rows(r), payment_rows(r)
    out = [f"<h3>Invoices ({len(invoices)})</h3>"]
    out.append(_table(["engagement", "invoice", "period", "net", "tax", "gross", "status"],
                      [[_e(i["engagement"]), f"{_e(i['invoice'])}<br><small>{_e(i['invoice_id'])}</small>",
                        _e(i["period"]), _e(money(i["net"], i["currency"])), _e(money(i["tax"], i["currency"])),
                        _e(money(i["gross"], i["currency"])), _e(i["status"])] for i in invoices], {3, 4, 5})
               if invoices else "<p>No invoice was issued.</p>")
    if payments:
        out.append(f"<h3>Payments ({len(payments)})</h3>")
        out.append(_table(["payment", "client", "received", "amount", "applied to", "unapplied"],
                          [[_e(p["payment"]), _e(p["client"]), _e(p["received_on"]),
                            _e(money(p["amount"], p["currency"])), _e("; ".join(p["applied_to"])),
                            _e(money(p["unapplied"], p["currency"]))] for p in payments], {3, 5}))
    return "".join(out)


def _kpi(key: str, value: Any) -> str:
    if key == "billed_gross" and isinstance(value, dict):
        return money_by_currency(value)
    return str(value) if not isinstance(value, (dict, list)) else json.dumps(value, default=str, sort_keys=True)


def _scenario_html(r: ScenarioResult) -> str:
    out = [f'<section id="{_e(r.name)}"><h2>{_e(r.name)} {_mark(r)}</h2>',
           f"<p>{_e(r.title)} &mdash; seed {r.seed}, {_e(r.mode)}, faults "
           f"{_e(fault_profile_name(r.fault_profile) or 'none')}, {r.seconds:.2f}s</p>"]
    if not r.ok:
        out.append(f"<p class=reason>{_e(reason(r))}</p>")
    out.append(_failures_html(r))
    out.append(_invariants_html(r))
    out.append(_money_html(r))
    out.append("<h3>Steps</h3>" + _table(
        ["#", "scenario time", "step", "time", "", "detail"],
        [[str(s.index), f"<span style='white-space:nowrap'>{_e(_when(s.clock))}</span>", _e(s.label), f"{s.seconds:.3f}s",
          f"<span class={'ok' if s.ok else 'fail'}>{'ok' if s.ok else 'FAIL'}</span>", _e(s.error or s.detail)]
         for s in r.steps], {3}))
    faults = [[_e(sim), _e(key.partition(":")[0]), _e(key.partition(":")[2]), str(n)]
              for sim, keys in r.faults.items() for key, n in keys.items()]
    out.append("<h3>Faults injected (and absorbed when the scenario passed)</h3>"
               + (_table(["simulator", "kind", "rule / quota", "injected"], faults, {3}) if faults
                  else "<p>None.</p>"))
    out.append("<h3>KPIs</h3>" + _table(["KPI", "value"], [[_e(k), _e(_kpi(k, v))] for k, v in r.kpis.items()]))
    if r.exceptions:
        out.append("<h3>Exception queue</h3>" + _table(
            ["id", "lot", "status", "error", "correlation id"],
            [[_e(x.get("id")), _e(x.get("lot")), _e(x.get("status")), _e(x.get("error")),
              _e(x.get("correlation_id"))] for x in r.exceptions]))
    lines = timelines(r)
    if lines:
        out.append(f"<h3>Transactions ({len(lines)} correlation ids): timeline across CRM, PSA and ERP, "
                   f"in scenario time</h3>")
        for cid, events in lines[:200]:
            systems = sorted({e.get("system") or "q2c" for e in events})
            rows = [[_e(_when(e["scenario_time"])), _e(e["step"]),
                     f"<span class='sys-{_e(e.get('system') or 'q2c')}'>{_e(e.get('system') or 'q2c')}</span>",
                     _e(e.get("what", "")), _e(e.get("outcome", ""))] for e in events]
            out.append(f"<details><summary><code>{_e(cid)}</code> &mdash; {len(events)} events, "
                       f"{_e(' / '.join(systems))}</summary>"
                       + _table(["scenario time", "step", "system", "what", "outcome"], rows) + "</details>")
    out.append("</section>")
    return "\n".join(out)


def write_html(results: list[ScenarioResult], path: Path) -> Path:
    ordered = failures_first(results)
    passed = sum(r.ok for r in results)
    rows = [[f"<a href='#{_e(r.name)}'>{_e(r.name)}</a>", _mark(r), _e(reason(r)), _e(r.mode), str(r.seed),
             f"{r.seconds:.2f}s", _e(money_by_currency(r.kpis.get("billed_gross") or {}))] for r in ordered]
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>q2c scenarios</title><style>{_CSS}</style>"
            f"</head><body><h1>q2c scenario suite: {passed}/{len(results)} passed</h1>"
            + _table(["scenario", "result", "why", "mode", "seed", "time", "billed (gross)"], rows, {5})
            + "".join(_scenario_html(r) for r in ordered) + "</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def write_reports(results: list[ScenarioResult], directory: Path) -> dict[str, Path]:
    directory = Path(directory)
    return {"html": write_html(results, directory / "scenarios.html"),
            "junit": write_junit(results, directory / "scenarios-junit.xml"),
            "json": write_json(results, directory / "scenarios.json")}
