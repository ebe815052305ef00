"""Memory per record: build a simulator in-process, write N records into one tenant through its backend (the same
create call its routes make), and report the process's RSS growth and bytes per record.

    python -m benchmarks.memory [--records 1000000] [--only NAME] [--max-seconds 300] [--output docs/benchmarks.md]

Each simulator is measured in a fresh child process (so one's memory does not count for the next); the child stops at
--max-seconds and reports how many records it wrote. Writes the section between `<!-- memory:begin -->` and
`<!-- memory:end -->` of docs/benchmarks.md and the raw figures to reports/benchmarks-memory.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.report import write_section

SIMULATORS = ["salesforce", "netsuite", "psa"]
TENANT = "bench"


def rss_self() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# ---- one writer per simulator: (what is written, a function writing record i) -------------------------------------
def salesforce_writer(sim: Any) -> tuple[str, Callable[[int], Any]]:
    b = sim.tenants.get(TENANT)
    account = b.sobject("Account")
    user = "005000000000001AAA"

    def write(i: int) -> Any:
        return b.create(account, {"Name": f"Bench Account {i}", "AccountNumber": f"BA-{i:08d}",
                                  "Industry": "Consulting", "BillingCity": "Lyon", "Phone": "+33 4 00 00 00 00"}, user)

    return "Account (sObject create, as POST /sobjects/Account)", write


def netsuite_writer(sim: Any) -> tuple[str, Callable[[int], Any]]:
    b = sim.tenants.get(TENANT)
    customer = b.record_type("customer")

    def write(i: int) -> Any:
        return b.create(customer, {"companyName": f"Bench Customer {i}", "externalId": f"BC-{i:08d}",
                                   "email": f"ap{i}@example.test", "subsidiary": {"id": "1"}, "terms": {"id": "2"}})

    return "customer (record service create, as POST /record/v1/customer)", write


def psa_writer(sim: Any) -> tuple[str, Callable[[int], Any]]:
    b = sim.tenants.get(TENANT)
    role = b.create("roles", {"name": "Consultant"})
    user = b.create("users", {"full_name": "Bench Consultant", "email_address": "bench@example.test", "region": "EMEA",
                              "role_id": role["id"]})
    card = b.create("rate_cards", {"title": "Bench card", "currency": "EUR"})
    b.create("rate_card_versions", {"rate_card_id": card["id"], "effective_date": "2024-01-01",
                                     "rates": [{"role_id": role["id"], "rate_in_cents": 15_000}]})
    ws = b.create("workspaces", {"title": "Bench engagement", "currency": "EUR", "rate_card_id": card["id"]})
    story = b.create("stories", {"title": "Delivery", "workspace_id": ws["id"]})
    b.create("participations", {"workspace_id": ws["id"], "user_id": user["id"], "role_id": role["id"]})

    def write(i: int) -> Any:
        return b.create("time_entries", {"workspace_id": ws["id"], "story_id": story["id"], "user_id": user["id"],
                                         "date_performed": f"2024-02-{1 + i % 28:02d}",
                                         "time_in_minutes": 15 + i % 8 * 15, "notes": f"task {i}"}, user["id"])

    return "time entry (as POST /api/v1/time_entries.json, rated, with its subscribed event)", write


WRITERS = {"salesforce": salesforce_writer, "netsuite": netsuite_writer, "psa": psa_writer}


def measure_one(name: str, records: int, max_seconds: float) -> dict[str, Any]:
    """In this process: build the simulator, write up to `records` records, and measure."""
    from q2c_simulators.kernel.serving import build_simulators

    sim = build_simulators([name])[name]
    what, write = WRITERS[name](sim)
    write(-1)  # first write pays for lazy imports and caches
    gc.collect()
    before = rss_self()
    start = time.monotonic()
    done = 0
    stopped = ""
    while done < records:
        write(done)
        done += 1
        if done % 10_000 == 0:
            elapsed = time.monotonic() - start
            print(f"  {name}: {done:,} records, {elapsed:.0f} s, RSS {rss_self() / 2**20:,.0f} MB", file=sys.stderr,
                  flush=True)
            if elapsed > max_seconds:
                stopped = f"stopped at the {max_seconds:g} s limit"
                break
    elapsed = time.monotonic() - start
    gc.collect()
    after = rss_self()
    return {"simulator": name, "what": what, "requested": records, "records": done, "seconds": round(elapsed, 1),
            "records_per_s": round(done / elapsed) if elapsed else None, "rss_before": before, "rss_after": after,
            "bytes_per_record": round((after - before) / done) if done else None, "stopped": stopped}


def render_memory_section(results: list[dict[str, Any]], command: str, date: str) -> str:
    out = ["## Memory per record", "",
           f"Measured {date} with `{command}`: each simulator built in-process in a fresh Python process (journal, "
           f"quotas and event feeds as by default), records written into one tenant through the backend's own create "
           f"function (what the route calls after parsing the request), RSS read from /proc/self/status before and "
           f"after (after a `gc.collect()`). Growth includes indexes, change-event logs and allocator overhead.", "",
           "| simulator | record written | records | time | records/s | RSS before | RSS after | bytes/record |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            out.append(f"| {r['simulator']} | — | — | — | — | — | — | not measured: {r['error']} |")
            continue
        records = f"{r['records']:,}" + (f" of {r['requested']:,} ({r['stopped']})" if r["stopped"] else "")
        out.append(f"| {r['simulator']} | {r['what']} | {records} | {r['seconds']:,} s | {r['records_per_s']:,} | "
                   f"{r['rss_before'] / 2**20:,.0f} MB | {r['rss_after'] / 2**20:,.0f} MB | "
                   f"{r['bytes_per_record']:,} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--only", action="append", choices=SIMULATORS, metavar="NAME")
    p.add_argument("--max-seconds", type=float, default=300, help="per simulator; the count reached is reported")
    p.add_argument("--output", default="docs/benchmarks.md")
    p.add_argument("--json", default="reports/benchmarks-memory.json")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure_one(args.child, args.records, args.max_seconds)))
        return 0
    results = []
    for name in args.only or SIMULATORS:
        print(f"[{name}] writing {args.records:,} records in a child process ...", flush=True)
        proc = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--child", name, "--records",
                               str(args.records), "--max-seconds", str(args.max_seconds)],
                              stdout=subprocess.PIPE, text=True)
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            result = {"simulator": name, "error": f"child exited with {proc.returncode}"}
        print(f"[{name}] {result}", flush=True)
        results.append(result)
    command = "python -m benchmarks.memory " + " ".join(argv if argv is not None else sys.argv[1:])
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    write_section(args.output, "memory", render_memory_section(results, command.strip(), date))
    raw = Path(args.json)
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps({"date": date, "command": command, "results": results}, indent=2))
    print(f"wrote {args.output} (section memory) and {raw}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
