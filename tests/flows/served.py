"""Flows against simulators served on real sockets (the crash test, the `q2c core` subprocess tests, the
benchmark smoke): build a world through the vendors' APIs with an inline runtime, then let subprocess workers bill
it; afterwards read the outcome back through the vendors' APIs and check it.

World: ``n`` engagements (T&M, US client, contracting entity US01), each with ``entries`` approved time entries by
three people (two US01 consultants at 150/h, one UK01 architect at 195/h -> one intercompany cross-charge per
engagement). The approvals are left in the PSA event feed for the workers' intake to pick up.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx

from q2c_harness.flows.provision import ensure_resource, provision_salesforce_fields
from q2c_harness.flows.runtime import CoreRuntime
from q2c_harness.flows.vendors import SF_TENANT

PEOPLE = (("Ada Lovelace", "Consultant", "NA", "US01"), ("Grace Hopper", "Consultant", "NA", "US01"),
          ("Alan Turing", "Architect", "EMEA", "UK01"))
RATE = {"Consultant": Decimal("150"), "Architect": Decimal("195")}


def setup_world(endpoints_file: str, db_url: str, *, engagements: int, entries: int, period: str = "2026-01",
                minutes: int = 60) -> dict[str, Any]:
    """Sell and activate ``engagements`` engagements (flow a, inline), staff them, log and approve ``entries``
    time entries per engagement. Returns {"engagements": {eng id: {"opportunity", "entries", "expected_gross"}}}."""
    import json

    spec = json.loads(open(endpoints_file).read())
    core = CoreRuntime.from_config(endpoints_file=endpoints_file, db_url=db_url, durable=False)
    try:
        async def fields() -> None:
            async with httpx.AsyncClient(base_url=spec["simulators"]["salesforce"],
                                         verify=spec.get("ca_bundle") or True) as a:
                await provision_salesforce_fields(a, SF_TENANT)
        asyncio.run(fields())
        core.provision()
        sf, psa = core.vendors.sf, core.vendors.psa

        async def sell_all() -> list[str]:
            async def one(i: int) -> str:
                acct = await sf.create("Account", {"Name": f"Client {i:04d} Inc", "BillingCountry": "US"})
                opp = await sf.create("Opportunity", {"Name": f"Rollout {i:04d}", "StageName": "Prospecting",
                                                      "CloseDate": "2026-01-31", "AccountId": acct})
                q = await sf.create("SBQQ__Quote__c", {"SBQQ__Opportunity2__c": opp, "SBQQ__Account__c": acct,
                                                       "SBQQ__Primary__c": True, "SBQQ__Status__c": "Accepted",
                                                       "SBQQ__StartDate__c": "2026-01-01",
                                                       "SBQQ__EndDate__c": "2026-06-30"})
                await sf.create("SBQQ__QuoteLine__c", {
                    "SBQQ__Quote__c": q, "SBQQ__Quantity__c": 1, "SBQQ__NetPrice__c": Decimal("5000000.00"),
                    "SBQQ__NetTotal__c": Decimal("5000000.00"), "SBQQ__ChargeType__c": "Usage",
                    "SBQQ__Description__c": "Implementation services", "SBQQ__EndDate__c": "2026-03-31"})
                await sf.update("Opportunity", opp, {"StageName": "Closed Won"})
                return opp
            out = []
            for start in range(0, engagements, 10):
                out += await asyncio.gather(*(one(i) for i in range(start, min(engagements, start + 10))))
            return out

        opps = core.vendors.run(sell_all())
        core.poll_once_sync()
        assert not core.exceptions(), [e.message for e in core.exceptions()]

        async def staff_all() -> dict[str, tuple[str, str]]:
            roles: dict[str, str] = {}
            people = {}
            for full, role, region, entity in PEOPLE:
                if role not in roles:
                    roles[role] = str((await psa.create("roles", {"name": role}))["id"])
                u = await psa.create("users", {"full_name": full,
                                               "email_address": f"{full.replace(' ', '.').lower()}@q2c.test",
                                               "role_id": int(roles[role]), "region": region,
                                               "legal_entity": entity})
                first, _, last = full.partition(" ")
                await ensure_resource(core.vendors, str(u["id"]), first=first, last=last, entity_id=entity)
                people[str(u["id"])] = (full, role)
            return people

        people = core.vendors.run(staff_all())
        users = sorted(people)
        world: dict[str, Any] = {"engagements": {}, "period": period}
        days = [f"{period}-{d:02d}" for d in range(1, 29)]

        async def log(ws: str, i: int) -> tuple[list[str], Decimal]:
            plan = [(users[k % len(users)], days[(k // len(users)) % len(days)]) for k in range(entries)]
            made = await psa.create_many("time_entries", [
                {"workspace_id": int(ws), "user_id": int(u), "date_performed": d, "time_in_minutes": minutes}
                for u, d in plan])
            gross = sum((RATE[people[u][1]] * Decimal(minutes) / 60 for u, _ in plan), Decimal("0"))
            for u in users:
                mine = [d for uu, d in plan if uu == u]
                if not mine:
                    continue
                sub = await psa.create("timesheet_submissions", {"user_id": int(u), "workspace_id": int(ws),
                                                                 "start_date": min(mine), "end_date": max(mine)})
                await psa.approve_timesheet(sub["id"])
            return [str(t["id"]) for t in made], gross

        async def log_all() -> list[tuple[list[str], Decimal]]:
            out = []
            for start in range(0, len(opps), 10):
                batch = []
                for i in range(start, min(len(opps), start + 10)):
                    eng = core.store.engagement_by_opportunity(opps[i])
                    assert eng is not None, f"opportunity {opps[i]} not activated"
                    batch.append(log(eng["keys"]["workspace_id"], i))
                out += await asyncio.gather(*batch)
            return out

        logged = core.vendors.run(log_all())
        for opp, (ids, gross) in zip(opps, logged):
            eng = core.store.engagement_by_opportunity(opp)
            world["engagements"][eng["engagement"]["engagement_id"]] = {
                "opportunity": opp, "entries": ids, "expected_gross": str(gross.quantize(Decimal("0.01")))}
        return world
    finally:
        core.close()


def check_vendor_state(endpoints_file: str, world: dict[str, Any], *, one_run: bool = True) -> dict[str, Any]:
    """Read NetSuite, Salesforce and the PSA back through their APIs: every approved entry has exactly one time
    bill, every engagement exactly one client invoice (total = hours x rate) and one intercompany invoice, every
    opportunity says Invoiced, no PSA reference is duplicated. Returns counts; raises AssertionError otherwise.
    ``one_run=False`` (a scheduler may bill an engagement in several runs while its time is still arriving): the
    client invoices of an engagement add up to hours x rate instead."""
    from q2c_harness.flows.vendors import VendorConfig, Vendors

    vendors = Vendors(VendorConfig.from_endpoints_file(endpoints_file))
    try:
        ns, sf, psa = vendors.ns, vendors.sf, vendors.psa
        period = world["period"]

        async def read() -> dict[str, Any]:
            tb = await ns.suiteql_all("SELECT id, externalid FROM timebill")
            inv = await ns.suiteql_all("SELECT id, externalid FROM invoice")
            refs = await psa.list_all("external_references")
            opps = {}
            for e in world["engagements"].values():
                opps[e["opportunity"]] = (await sf.get("Opportunity", e["opportunity"]))
            totals: dict[str, Any] = {}
            for eng in world["engagements"]:
                prefix = f"Q2C-INVOICE-INV-{eng}-{period}-".upper()
                mine = [str(r["id"]) for r in inv if str(r["externalid"]).upper().startswith(prefix)]
                if mine:
                    got = await asyncio.gather(*(ns.get("invoice", rid) for rid in mine))
                    totals[eng] = sum((Decimal(str(g["total"])) for g in got), Decimal("0"))
                else:
                    totals[eng] = None
            return {"timebills": tb, "invoices": inv, "refs": refs, "opps": opps, "totals": totals}

        got = vendors.run(read())
    finally:
        vendors.close()
    tb = Counter(str(r["externalid"]).upper() for r in got["timebills"])
    expected_tb = {f"Q2C-TIME-{t}".upper() for e in world["engagements"].values() for t in e["entries"]}
    missing = expected_tb - set(tb)
    dupes = {k: c for k, c in tb.items() if c > 1}
    assert not missing, f"{len(missing)} time bills missing, e.g. {sorted(missing)[:5]}"
    assert not dupes, f"time bills duplicated: {dupes}"
    assert set(tb) == expected_tb, f"unexpected time bills: {sorted(set(tb) - expected_tb)[:5]}"
    inv = Counter(str(r["externalid"]).upper() for r in got["invoices"])
    assert all(c == 1 for c in inv.values()), f"invoices duplicated: {[k for k, c in inv.items() if c > 1]}"
    client = {k for k in inv if k.startswith("Q2C-INVOICE-INV-")}
    ic = {k for k in inv if k.startswith("Q2C-INVOICE-IC-")}
    if one_run:
        assert len(client) == len(world["engagements"]), (len(client), sorted(client)[:5])
        assert len(ic) == len(world["engagements"]), (len(ic), sorted(ic)[:5])
    else:
        assert len(client) >= len(world["engagements"]) and 1 <= len(ic) <= len(client), (len(client), len(ic))
    for eng, e in world["engagements"].items():
        assert got["totals"][eng] is not None, f"no invoice for {eng}"
        assert Decimal(str(got["totals"][eng])) == Decimal(e["expected_gross"]), (eng, got["totals"][eng], e)
        assert got["opps"][e["opportunity"]]["Invoice_Status__c"] == "Invoiced", e["opportunity"]
    refs = Counter((r["service_name"], r["service_model"], r["service_model_ref"], r["subject_type"])
                   for r in got["refs"])
    assert all(c == 1 for c in refs.values()), f"PSA references duplicated: {[k for k, c in refs.items() if c > 1]}"
    return {"timebills": len(tb), "invoices": len(inv), "psa_references": len(refs)}


def check_core_state(db_url: str, world: dict[str, Any]) -> dict[str, Any]:
    """The core's own books: every entry billed once, every run posted, the effect ledger complete, no exception
    open, the audit chain verifies."""
    from q2c_harness.engine import Engine

    engine = Engine(db_url)
    try:
        from q2c_harness.flows.store import FlowStore

        store = FlowStore(engine.db)
        billed = Counter(r["source_id"] for r in store.billed())
        expected = {f"T-{t}" for e in world["engagements"].values() for t in e["entries"]}
        assert set(billed) == expected and all(c == 1 for c in billed.values())
        runs = store.runs()
        assert runs and all(r["status"] in ("posted", "empty") for r in runs), [(r["run_id"], r["status"]) for r in runs]
        open_items = engine.exceptions.list(status="open", limit=100)
        assert not open_items, [(i.code, i.message) for i in open_items]
        pending = [e for e in engine.ledger.list(limit=100_000) if e["status"] != "done"]
        assert not pending, pending[:3]
        problems = engine.audit.verify_chain()
        assert not problems, problems[:3]
        return {"runs": len(runs), "billed": len(billed)}
    finally:
        engine.db.dispose()
