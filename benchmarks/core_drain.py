"""Month-end drain of the integration core: approved time entries billed through NetSuite.

    python -m benchmarks.core_drain [--entries 10000] [--engagements 200] [--latency-ms 50] [--concurrency 5]
                                    [--json PATH]

Setup (not timed, no latency): simulators in-process, the core durable (DBOS, SQLite in a temp dir, queue ``q2c``);
``--engagements`` T&M engagements sold and activated through flow (a); three people staffed; ``--entries`` time
entries logged and approved in the PSA and staged by the intake workflows. Then NetSuite gets a kernel latency fault
(``--latency-ms`` on every request) and its concurrency limit (``--concurrency``, which is also the connectors'
per-account budget), and the drain is timed: a billing run per engagement (time bills in chunks, the client invoice,
the intercompany invoice, the Opportunity status) until every workflow is finished.

Reported: drain time; the ERP calls actually made (the NetSuite simulator's journal over the drain) and the
vendor-bound minimum ``calls x latency / concurrency``; the ratio; engine overhead per billing run and per ERP call
(``(drain - minimum) / n``). Nothing lost: every approved entry has exactly one time bill (by external id, read
through the NetSuite API) and the invoices add up to hours x rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from typing import Any

PEOPLE = (("Ada Lovelace", "Consultant", "NA", "US01"), ("Grace Hopper", "Consultant", "NA", "US01"),
          ("Alan Turing", "Architect", "EMEA", "UK01"))
RATE = {"Consultant": Decimal("150"), "Architect": Decimal("195")}
PERIOD = "2026-01"


async def _setup(core: Any, engagements: int, entries: int) -> dict[str, Any]:
    from q2c_harness.flows.provision import ensure_resource

    sf, psa = core.vendors.sf, core.vendors.psa

    async def one(i: int) -> str:
        acct = await sf.create("Account", {"Name": f"Client {i:04d} Inc", "BillingCountry": "US"})
        opp = await sf.create("Opportunity", {"Name": f"Rollout {i:04d}", "StageName": "Prospecting",
                                              "CloseDate": "2026-01-31", "AccountId": acct})
        q = await sf.create("SBQQ__Quote__c", {"SBQQ__Opportunity2__c": opp, "SBQQ__Account__c": acct,
                                               "SBQQ__Primary__c": True, "SBQQ__Status__c": "Accepted",
                                               "SBQQ__StartDate__c": "2026-01-01", "SBQQ__EndDate__c": "2026-06-30"})
        await sf.create("SBQQ__QuoteLine__c", {
            "SBQQ__Quote__c": q, "SBQQ__Quantity__c": 1, "SBQQ__NetPrice__c": Decimal("90000000.00"),
            "SBQQ__NetTotal__c": Decimal("90000000.00"), "SBQQ__ChargeType__c": "Usage",
            "SBQQ__Description__c": "Implementation services", "SBQQ__EndDate__c": "2026-03-31"})
        await sf.update("Opportunity", opp, {"StageName": "Closed Won"})
        return opp

    def on_loop(coro: Any) -> Any:
        return asyncio.to_thread(core.vendors.run, coro)

    async def sell_all() -> list[str]:
        out: list[str] = []
        for start in range(0, engagements, 20):
            out += await asyncio.gather(*(one(i) for i in range(start, min(engagements, start + 20))))
        return out

    opps = await on_loop(sell_all())
    await core.poll_once()
    await core.drain()
    assert not core.exceptions(), [e.message for e in core.exceptions()][:3]

    async def staff() -> dict[str, str]:
        roles: dict[str, str] = {}
        people = {}
        for full, role, region, entity in PEOPLE:
            if role not in roles:
                roles[role] = str((await psa.create("roles", {"name": role}))["id"])
            u = await psa.create("users", {"full_name": full, "email_address": f"{full.split()[0].lower()}@q2c.test",
                                           "role_id": int(roles[role]), "region": region, "legal_entity": entity})
            first, _, last = full.partition(" ")
            await ensure_resource(core.vendors, str(u["id"]), first=first, last=last, entity_id=entity)
            people[str(u["id"])] = role
        return people

    people = await on_loop(staff())
    users = sorted(people)
    days = [f"{PERIOD}-{d:02d}" for d in range(1, 29)]
    per = [entries // engagements + (1 if i < entries % engagements else 0) for i in range(engagements)]
    world: dict[str, Any] = {}

    async def log(opp: str, n: int) -> None:
        eng = core.store.engagement_by_opportunity(opp)
        assert eng is not None, f"{opp} not activated"
        ws = int(eng["keys"]["workspace_id"])
        plan = [(users[k % len(users)], days[(k // len(users)) % len(days)]) for k in range(n)]
        ids: list[str] = []
        for s in range(0, len(plan), 300):
            made = await psa.create_many("time_entries", [
                {"workspace_id": ws, "user_id": int(u), "date_performed": d, "time_in_minutes": 60}
                for u, d in plan[s:s + 300]])
            ids += [str(t["id"]) for t in made]
        for u in users:
            mine = [d for uu, d in plan if uu == u]
            if mine:
                sub = await psa.create("timesheet_submissions", {"user_id": int(u), "workspace_id": ws,
                                                                 "start_date": min(mine), "end_date": max(mine)})
                await psa.approve_timesheet(sub["id"])
        world[eng["engagement"]["engagement_id"]] = {
            "opportunity": opp, "entries": ids, "gross": sum((RATE[people[u]] for u, _ in plan), Decimal("0"))}

    async def log_all() -> None:
        for start in range(0, engagements, 20):
            await asyncio.gather(*(log(opps[i], per[i]) for i in range(start, min(engagements, start + 20))))

    await on_loop(log_all())
    await core.poll_once()
    await core.drain()
    assert not core.exceptions(), [e.message for e in core.exceptions()][:3]
    return world


async def _verify(core: Any, world: dict[str, Any]) -> dict[str, Any]:
    ns = core.vendors.ns

    async def read() -> dict[str, Any]:
        tb = await ns.suiteql_all("SELECT id, externalid FROM timebill")
        inv = await ns.suiteql_all("SELECT id, externalid FROM invoice")
        client = [r for r in inv if str(r["externalid"]).upper().startswith("Q2C-INVOICE-INV-")]
        sem = asyncio.Semaphore(5)

        async def total(rid: str) -> tuple[str, Decimal]:
            async with sem:
                rec = await ns.get("invoice", rid)
            return str(rec["externalId"]).upper(), Decimal(str(rec["total"]))

        totals = dict(await asyncio.gather(*(total(str(r["id"])) for r in client)))
        return {"tb": tb, "inv": inv, "totals": totals}

    got = await asyncio.to_thread(core.vendors.run, read())
    tb = Counter(str(r["externalid"]).upper() for r in got["tb"])
    expected = {f"Q2C-TIME-{t}".upper() for e in world.values() for t in e["entries"]}
    inv = Counter(str(r["externalid"]).upper() for r in got["inv"])
    problems = []
    if set(tb) != expected:
        problems.append(f"time bills: {len(expected - set(tb))} missing, {len(set(tb) - expected)} unexpected")
    if any(c > 1 for c in tb.values()):
        problems.append(f"time bills duplicated: {sum(1 for c in tb.values() if c > 1)}")
    if any(c > 1 for c in inv.values()):
        problems.append(f"invoices duplicated: {sum(1 for c in inv.values() if c > 1)}")
    for eng, e in world.items():
        prefix = f"Q2C-INVOICE-INV-{eng}-{PERIOD}-".upper()
        billed = sum((v for k, v in got["totals"].items() if k.startswith(prefix)), Decimal("0"))
        if billed != e["gross"]:
            problems.append(f"{eng}: invoiced {billed}, expected {e['gross']}")
    billed_rows = Counter(r["source_id"] for r in core.store.billed())
    if len(billed_rows) != len(expected) or any(c > 1 for c in billed_rows.values()):
        problems.append(f"core billed {len(billed_rows)} sources for {len(expected)} entries")
    return {"time_bills": len(tb), "invoices": len(inv), "problems": problems[:10]}


async def run(entries: int, engagements: int, latency_ms: float, concurrency: int, workers: int = 20
              ) -> dict[str, Any]:
    from q2c_harness.flows.runtime import CoreRuntime
    from q2c_simulators.kernel.faults import LatencyFault
    from q2c_simulators.kernel.serving import build_simulators
    from q2c_simulators.netsuite.simulator import CONCURRENCY_QUOTA

    sims = build_simulators(["salesforce", "netsuite", "psa"], seed=7)
    ns_sim = sims["netsuite"]
    # Setup logs every entry through the PSA in bulk; its stand-in request quota (600 burst, 50/s) is not what is
    # measured here, so it gets room (the drain itself makes no PSA calls on the critical path).
    psa_quota = sims["psa"].quotas.get("account_requests")
    if psa_quota is not None:
        sims["psa"].quotas.set(psa_quota.model_copy(update={"rate_per_second": 10_000.0, "limit": 100_000}))
    ns_sim.journal.resize(max(200_000, entries * 3))
    with tempfile.TemporaryDirectory(prefix="q2c-drain-") as tmp:
        t_setup = time.monotonic()
        async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{tmp}/core.sqlite", durable=True,
                                          netsuite_concurrency=concurrency,
                                          worker_concurrency=workers) as core:
            world = await _setup(core, engagements, entries)
            setup_s = time.monotonic() - t_setup
            pairs = core.store.pending_runs()
            assert len(pairs) == engagements, (len(pairs), engagements)
            spec = ns_sim.quotas.get(CONCURRENCY_QUOTA)
            ns_sim.quotas.set(spec.model_copy(update={"limit": concurrency, "tenant_limits": {}}))
            ns_sim.faults.add(LatencyFault(kind="latency", id="drain-latency", ms=latency_ms))
            seq0 = ns_sim.journal.total
            t0 = time.monotonic()
            for eng, period in pairs:
                await asyncio.to_thread(core.intake.start_billing, eng, period)
            counts = await core.drain(timeout=3600)
            drain_s = time.monotonic() - t0
            seq1 = ns_sim.journal.total
            ns_sim.faults.remove("drain-latency")
            drained = [e for e in ns_sim.journal._entries if seq0 < e.seq <= seq1]  # noqa: SLF001
            calls = seq1 - seq0
            rejected = sum(1 for e in drained if e.status == 429)
            ops = Counter((e.method, e.path.split("/")[5] if e.path.count("/") >= 5 else e.path) for e in drained)
            check = await _verify(core, world)
            runs = core.store.runs()
            parked = len(core.exceptions())
    minimum = calls * latency_ms / 1000 / concurrency
    return {
        "entries": entries, "engagements": engagements, "latency_ms": latency_ms, "concurrency": concurrency,
        "workflow_concurrency": workers,
        "setup_s": round(setup_s, 1), "drain_s": round(drain_s, 2), "erp_calls": calls, "erp_429": rejected,
        "minimum_s": round(minimum, 2), "ratio": round(drain_s / minimum, 3) if minimum else None,
        "overhead_per_run_ms": round((drain_s - minimum) * 1000 / max(1, len(pairs)), 1),
        "overhead_per_erp_call_ms": round((drain_s - minimum) * 1000 / max(1, calls), 2),
        "workflows": counts, "runs": len(runs), "runs_posted": sum(1 for r in runs if r["status"] == "posted"),
        "parked": parked, "calls_by_operation": {f"{m} {p}": n for (m, p), n in ops.most_common(12)},
        **check,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.core_drain", description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--engagements", type=int, default=200)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--concurrency", type=int, default=5)
    ap.add_argument("--workers", type=int, default=20,
                    help="billing runs executed at once (DBOS queue worker_concurrency); ERP calls stay under the budget")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    out = asyncio.run(run(args.entries, args.engagements, args.latency_ms, args.concurrency,
                         args.workers))
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    ok = not out["problems"] and out["runs_posted"] == out["engagements"] and not out["parked"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
