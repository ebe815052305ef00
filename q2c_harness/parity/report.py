"""A verify report as a table (terminal), JUnit XML (CI) and JSON."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from .runner import Outcome, RecordReport, VerifyReport

_MARK = {"pass": "ok", "known-gap": "gap", "fail": "FAIL", "skipped": "skip", "error": "ERROR"}


def _source(o: Outcome) -> str:
    s = o.source
    if s.get("kind") == "documented":
        return f"{s.get('url', '')}" + (f" ({s['section']})" if s.get("section") else "")
    return f"recorded from {s.get('target', '?')} at {s.get('recorded_at', '?')}" if s else ""


def render_table(report: VerifyReport) -> str:
    width = max([len(o.snapshot) for o in report.outcomes] + [8])
    lines = [f"parity {report.provider}: {report.snapshots} against {report.target}",
             f"  {'snapshot':<{width}}  {'result':<6}  differences"]
    for o in report.outcomes:
        n = len(o.differences) + len(o.stale_gaps)
        extra = f"{n} open" if n else ""
        if o.gapped:
            extra += (", " if extra else "") + f"{len(o.gapped)} known gap(s)"
        lines.append(f"  {o.snapshot:<{width}}  {_MARK[o.result]:<6}  {extra or o.message}")
        for d in o.differences:
            lines.append(f"      - {d.render()}")
        for g in o.stale_gaps:
            lines.append(f"      - stale known gap at {g.path}: it no longer differs, remove the mark")
        for d, g in o.gapped:
            lines.append(f"      ~ known gap: {d.render()}  [{g.reason}]")
        if o.result == "error":
            lines.append(f"      ! {o.message}")
    summary = ", ".join(f"{report.count(r)} {r}" for r in ("pass", "known-gap", "fail", "skipped", "error"))
    lines.append(f"{len(report.outcomes)} snapshot(s): {summary}"
                 + ("" if report.checked else "  <- NOTHING checked: FAIL"))
    return "\n".join(lines)


def to_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "provider": report.provider, "target": report.target, "snapshots": report.snapshots, "ok": report.ok,
        "counts": {r: report.count(r) for r in ("pass", "known-gap", "fail", "skipped", "error")},
        "outcomes": [{
            "snapshot": o.snapshot, "probe": o.probe, "result": o.result, "message": o.message, "source": o.source,
            "differences": [d.__dict__ for d in o.differences],
            "known_gaps": [{**d.__dict__, "reason": g.reason, "doc": g.doc} for d, g in o.gapped],
            "stale_gaps": [g.__dict__ for g in o.stale_gaps],
        } for o in report.outcomes],
    }


def to_junit(report: VerifyReport) -> bytes:
    suite = ET.Element("testsuite", name=f"parity.{report.provider}", tests=str(len(report.outcomes)),
                       failures=str(report.count("fail")), errors=str(report.count("error")),
                       skipped=str(report.count("skipped")))
    for o in report.outcomes:
        case = ET.SubElement(suite, "testcase", classname=f"parity.{report.provider}", name=o.snapshot)
        detail = "\n".join([d.render() for d in o.differences] + ([o.message] if o.message else []))
        if o.result == "fail":
            ET.SubElement(case, "failure", message=f"{len(o.differences) + len(o.stale_gaps)} difference(s)"
                          ).text = detail
        elif o.result == "error":
            ET.SubElement(case, "error", message=o.message[:200]).text = o.message
        elif o.result == "skipped":
            ET.SubElement(case, "skipped", message=o.message)
        out = [f"source: {_source(o)}", f"probe: {o.probe}"]
        out += [f"known gap: {d.render()} [{g.reason}]" for d, g in o.gapped]
        ET.SubElement(case, "system-out").text = "\n".join(out)
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)


def render_record(report: RecordReport) -> str:
    lines = [f"parity record {report.provider} from {report.target}: {len(report.written)} snapshot(s) written, "
             f"{len(report.skipped)} skipped, {len(report.errors)} error(s)"]
    lines += [f"  wrote {p}" for p in report.written]
    lines += [f"  skipped {pid}: {why}" for pid, why in report.skipped]
    lines += [f"  ERROR {pid}: {why}" for pid, why in report.errors]
    return "\n".join(lines)


def dumps(report: VerifyReport) -> str:
    return json.dumps(to_json(report), indent=2, default=str)
