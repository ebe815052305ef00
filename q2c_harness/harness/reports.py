"""Scenario reports: JUnit XML for CI, an HTML report for people, and a JSON summary (reports/ by default).

The HTML report shows, per scenario: the steps with their time, pass or fail with each failing invariant (expected
vs actual, and the correlation-id trail across systems), KPIs, the faults each simulator injected and the core
absorbed, and each transaction's timeline across CRM, PSA and ERP (the core's audit log by correlation id).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from .runner import ScenarioResult


def _j(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def write_junit(results: list[ScenarioResult], path: Path) -> Path:
    failures = sum(1 for r in results if not r.ok and r.error is None)
    errors = sum(1 for r in results if r.error is not None)
    suite = ET.Element("testsuite", name="q2c-scenarios", tests=str(len(results)), failures=str(failures),
                       errors=str(errors), time=f"{sum(r.seconds for r in results):.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"scenarios.{r.mode}", name=r.name, time=f"{r.seconds:.3f}")
        if r.error is not None:
            ET.SubElement(case, "error", message=r.error.splitlines()[0][:500]).text = r.explain()
        elif not r.ok:
            first = r.violations[0].invariant if r.violations else "expectation"
            ET.SubElement(case, "failure", message=f"{first}: {len(r.violations)} invariant violation(s), "
                          f"{len(r.expectation_failures)} expectation failure(s)").text = r.explain()
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(f"[{s.index:2}] {s.label} {s.seconds:.3f}s {'ok' if s.ok else 'FAIL'} {s.detail}"
                             for s in r.steps)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path


def summary(results: list[ScenarioResult]) -> list[dict[str, Any]]:
    return [{"name": r.name, "ok": r.ok, "seed": r.seed, "mode": r.mode, "seconds": round(r.seconds, 3),
             "error": r.error, "expectation_failures": r.expectation_failures,
             "violations": [{"invariant": v.invariant, "message": v.message, "expected": str(v.expected),
                             "actual": str(v.actual), "refs": v.refs} for v in r.violations],
             "steps": [{"index": s.index, "kind": s.kind, "label": s.label, "seconds": round(s.seconds, 4),
                        "ok": s.ok, "detail": s.detail, "error": s.error} for s in r.steps],
             "faults": r.faults, "kpis": r.kpis} for r in results]


def write_json(results: list[ScenarioResult], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary(results), indent=2, default=str) + "\n")
    return path


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.5em}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f3f3f3}.ok{color:#080;font-weight:600}.fail{color:#b00;font-weight:600}
details{margin:.3em 0}code{background:#f6f6f6;padding:0 3px}.sys-salesforce{color:#0070d2}.sys-netsuite{color:#a0522d}
.sys-psa{color:#6a1b9a}.sys-q2c{color:#555}section{border-top:2px solid #ddd;margin-top:1.5em}"""


def _e(v: Any) -> str:
    return html.escape(str(v))


def _scenario_html(r: ScenarioResult) -> str:
    mark = '<span class="ok">PASS</span>' if r.ok else '<span class="fail">FAIL</span>'
    out = [f'<section id="{_e(r.name)}"><h2>{_e(r.name)} {mark}</h2>',
           f"<p>{_e(r.title)} &mdash; seed {r.seed}, {_e(r.mode)}, faults {_e(r.fault_profile or 'none')}, "
           f"{r.seconds:.2f}s</p>"]
    if r.error:
        out.append(f"<pre class='fail'>{_e(r.error)}</pre>")
    if r.violations or r.expectation_failures:
        out.append("<h3>What failed</h3><table><tr><th>invariant</th><th>explanation</th><th>expected</th>"
                   "<th>actual</th><th>correlation trail</th></tr>")
        for f in r.expectation_failures:
            out.append(f"<tr><td>expectation</td><td colspan=4>{_e(f)}</td></tr>")
        for v in r.violations:
            out.append(f"<tr><td>{_e(v.invariant)}</td><td>{_e(v.message)}</td><td><code>{_e(v.expected)}</code></td>"
                       f"<td><code>{_e(v.actual)}</code></td><td>{_e(r.trail_for(v.refs))}</td></tr>")
        out.append("</table>")
    out.append("<h3>Steps</h3><table><tr><th>#</th><th>step</th><th>time</th><th></th><th>detail</th></tr>")
    for s in r.steps:
        out.append(f"<tr><td>{s.index}</td><td>{_e(s.label)}</td><td>{s.seconds:.3f}s</td>"
                   f"<td class={'ok' if s.ok else 'fail'}>{'ok' if s.ok else 'FAIL'}</td>"
                   f"<td>{_e(s.error or s.detail)}</td></tr>")
    out.append("</table><h3>KPIs</h3><table>")
    for k, v in r.kpis.items():
        out.append(f"<tr><th>{_e(k)}</th><td>{_e(v if not isinstance(v, (dict, list)) else _j(v))}</td></tr>")
    out.append("</table><h3>Faults injected (and absorbed when the scenario passed)</h3><table>"
               "<tr><th>simulator</th><th>rule / quota</th><th>injected</th></tr>")
    for sim, rules in r.faults.items():
        for rule, n in sorted(rules.items()):
            out.append(f"<tr><td>{_e(sim)}</td><td>{_e(rule)}</td><td>{n}</td></tr>")
    out.append("</table>")
    if r.exceptions:
        out.append("<h3>Exception queue</h3><table><tr><th>id</th><th>lot</th><th>status</th><th>error</th>"
                   "<th>correlation id</th></tr>")
        for x in r.exceptions:
            out.append(f"<tr><td>{_e(x.get('id'))}</td><td>{_e(x.get('lot'))}</td><td>{_e(x.get('status'))}</td>"
                       f"<td>{_e(x.get('error'))}</td><td>{_e(x.get('correlation_id'))}</td></tr>")
        out.append("</table>")
    if r.timeline:
        out.append(f"<h3>Transactions ({len(r.timeline)} correlation ids): timeline across CRM, PSA and ERP</h3>")
        for cid, events in list(r.timeline.items())[:200]:
            systems = sorted({e.get("system") or "q2c" for e in events})
            out.append(f"<details><summary><code>{_e(cid)}</code> &mdash; {len(events)} events, "
                       f"{_e(' / '.join(systems))}</summary><table><tr><th>at</th><th>system</th><th>what</th>"
                       f"<th>outcome</th></tr>")
            for e in events:
                sysname = e.get("system") or "q2c"
                out.append(f"<tr><td>{_e(e.get('at', ''))}</td><td class='sys-{_e(sysname)}'>{_e(sysname)}</td>"
                           f"<td>{_e(e.get('what', ''))}</td><td>{_e(e.get('outcome', ''))}</td></tr>")
            out.append("</table></details>")
    out.append("</section>")
    return "\n".join(out)


def write_html(results: list[ScenarioResult], path: Path) -> Path:
    passed = sum(r.ok for r in results)
    rows = "".join(f"<tr><td><a href='#{_e(r.name)}'>{_e(r.name)}</a></td><td>{_e(r.mode)}</td><td>{r.seed}</td>"
                   f"<td class={'ok' if r.ok else 'fail'}>{'PASS' if r.ok else 'FAIL'}</td><td>{r.seconds:.2f}s</td>"
                   f"<td>{len(r.violations)}</td></tr>" for r in results)
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>q2c scenarios</title><style>{_CSS}</style>"
            f"</head><body><h1>q2c scenario suite: {passed}/{len(results)} passed</h1>"
            f"<table><tr><th>scenario</th><th>mode</th><th>seed</th><th>result</th><th>time</th><th>violations</th>"
            f"</tr>{rows}</table>" + "".join(_scenario_html(r) for r in results) + "</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def write_reports(results: list[ScenarioResult], directory: Path) -> dict[str, Path]:
    directory = Path(directory)
    return {"html": write_html(results, directory / "scenarios.html"),
            "junit": write_junit(results, directory / "scenarios-junit.xml"),
            "json": write_json(results, directory / "scenarios.json")}
