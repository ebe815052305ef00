"""The load report: request rates and latency percentiles (Locust's CSV), 429s absorbed (simulators' metrics,
Locust's retried calls, the connectors' call log), drain time, engine overhead per transaction, peak RSS, and the
correctness checks; as HTML, CSV and JSON in reports/load/."""

from __future__ import annotations

import csv
import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any


def locust_stats(out: Path, name: str) -> list[dict[str, Any]]:
    path = out / f"{name}_stats.csv"
    if not path.exists():
        return []
    with path.open() as f:
        return [dict(r) for r in csv.DictReader(f)]


def locust_failures(out: Path, name: str) -> list[dict[str, Any]]:
    path = out / f"{name}_failures.csv"
    if not path.exists():
        return []
    with path.open() as f:
        return [dict(r) for r in csv.DictReader(f)]


def burst_problems(out: Path, name: str, locust_exit: int | None, log: Path) -> list[str]:
    """Never green on nothing: a Locust run that failed, or that sent no request, proved nothing about load."""
    problems = []
    if locust_exit is None:
        problems.append("Locust did not run")
    elif locust_exit != 0:
        last = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-1:] if log.exists() else []
        problems.append(f"Locust exited with {locust_exit}" + (f": {last[0].strip()[:300]}" if last else "")
                        + f" (log: {log})")
    agg = next((s for s in locust_stats(out, name) if s.get("Name") == "Aggregated"), {})
    if int(agg.get("Request Count") or 0) == 0:
        problems.append("Locust sent 0 requests")
    return problems


def figures(out: Path, name: str, record: Any, result: dict[str, Any]) -> dict[str, Any]:
    stats = locust_stats(out, name)
    fails = locust_failures(out, name)
    absorbed = sum(int(f["Occurrences"]) for f in fails if "absorbed" in f.get("Error", ""))
    other = sum(int(f["Occurrences"]) for f in fails if "absorbed" not in f.get("Error", ""))
    agg = next((s for s in stats if s.get("Name") == "Aggregated"), {})
    eng = result.get("engine", {})
    tx = max(1, eng.get("transactions", 0))
    busy_ms = eng.get("core_busy_seconds", 0) * 1000 / tx
    vendor_ms = eng.get("vendor_seconds", 0) * 1000 / tx
    return {"requests": int(agg.get("Request Count") or 0), "req_per_s": float(agg.get("Requests/s") or 0),
            "p50_ms": agg.get("50%"), "p95_ms": agg.get("95%"), "p99_ms": agg.get("99%"),
            "locust_429_absorbed": absorbed, "locust_other_failures": other,
            "sim_429": {k: v["status_429"] for k, v in result.get("sim_metrics", {}).items()},
            "connector_429": result.get("connector_calls", {}).get("429", {}),
            "connector_retries": result.get("connector_calls", {}).get("retries", {}),
            "drain_seconds": result.get("drain_seconds"),
            "core_transactions": eng.get("transactions"), "core_wall_ms_per_transaction": round(busy_ms, 2),
            "vendor_call_ms_per_transaction": round(vendor_ms, 2),
            "engine_overhead_ms_per_transaction": round(max(0.0, busy_ms - vendor_ms), 2),
            "peak_rss_mb": result.get("peak_rss_mb", {})}


def write(out: Path, name: str, record: Any, result: dict[str, Any]) -> list[Path]:
    fig = figures(out, name, record, result)
    result["figures"] = fig
    doc = {"record": asdict(record), "result": result}
    jpath = out / f"{name}.json"
    jpath.write_text(json.dumps(doc, indent=2, default=str))
    cpath = out / f"{name}-summary.csv"
    with cpath.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric", "value"])
        for k, v in fig.items():
            w.writerow([k, json.dumps(v) if isinstance(v, dict) else v])
        for k, v in result["counts"].items():
            w.writerow([f"check.{k}", v])
        for p in record.phases:
            w.writerow([f"phase.{p.name}", p.seconds])
        w.writerow(["ok", result["ok"]])
    hpath = out / f"{name}.html"
    e = html.escape
    rows = "".join(f"<tr><td>{e(s['Type'])}</td><td>{e(s['Name'])}</td><td>{s['Request Count']}</td>"
                   f"<td>{s['Failure Count']}</td><td>{float(s['Requests/s']):.1f}</td><td>{s['50%']}</td>"
                   f"<td>{s['95%']}</td><td>{s['99%']}</td><td>{s['Max Response Time']}</td></tr>"
                   for s in locust_stats(out, name))
    exc = "".join(f"<tr><td>{x['id']}</td><td>{e(str(x['lot']))}</td><td>{e(str(x['error_class']))}</td>"
                  f"<td>{e(str(x['owner']))}</td><td>{e(x['message'])}</td></tr>" for x in result["exceptions"])
    kv = lambda d: "".join(f"<tr><th>{e(str(k))}</th><td>{e(json.dumps(v, default=str))}</td></tr>"  # noqa: E731
                           for k, v in d.items())
    phases = "".join(f"<tr><th>{e(p.name)}</th><td>{p.seconds}</td></tr>" for p in record.phases)
    status = "PASS" if result["ok"] else "FAIL"
    hpath.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>q2c load: {e(name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}.PASS{{color:green}}.FAIL{{color:#b00}}</style></head>
<body><h1>q2c load: {e(name)} <span class="{status}">{status}</span></h1>
<h2>Problems</h2><ul>{''.join(f'<li>{e(p)}</li>' for p in result['problems']) or '<li>none</li>'}</ul>
<h2>Figures</h2><table>{kv(fig)}</table>
<h2>Correctness (through the vendors' APIs)</h2><table>{kv(result['counts'])}</table>
<table>{kv(result['invariants'])}</table>
<h2>Exception queue (open items)</h2><table><tr><th>id</th><th>lot</th><th>error class</th><th>owner</th>
<th>message</th></tr>{exc}</table>
<h2>Requests (Locust)</h2><table><tr><th>type</th><th>name</th><th>requests</th><th>failures</th><th>req/s</th>
<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>{rows}</table>
<h2>Simulators</h2><table>{kv(result.get('sim_metrics', {}))}</table>
<h2>Connectors (core)</h2><table>{kv(result.get('connector_calls', {}))}</table>
<h2>Phases (s)</h2><table>{phases}</table>
<h2>Run</h2><table>{kv(record.options)}{kv(record.counts)}</table><ul>{''.join(f'<li>{e(n)}</li>' for n in record.notes)}</ul>
<p>Locust's own report: <a href="{e(name)}-locust.html">{e(name)}-locust.html</a></p></body></html>""")
    return [hpath, cpath, jpath]


def summary_text(record: Any, result: dict[str, Any]) -> str:
    fig = result["figures"]
    problems = result["problems"]
    lines = ["q2c load: PASS" if result["ok"] else
             f"q2c load: FAIL: {problems[0] if problems else 'a check failed'}"
             + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")]
    lines += [f"  {k}: {v}" for k, v in result["counts"].items()]
    lines += [f"  {k}: {v}" for k, v in fig.items()]
    lines += [f"  problem: {p}" for p in result["problems"]]
    return "\n".join(lines)


def machine_summary(record: Any, result: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    """What `q2c load month-end --json` prints: the verdict, its reasons, the figures and where the reports are."""
    return {"ok": result["ok"], "problems": result["problems"], "counts": result["counts"],
            "figures": result["figures"], "phases": [asdict(p) for p in record.phases],
            "reports": [str(p) for p in paths]}
