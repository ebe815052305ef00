"""The load world, built through the vendors' public APIs: engagements sold in Salesforce (account, opportunity,
primary quote, line; Closed Won in bulk), activated by the core (flow a), a pool of consultants (PSA users with
NetSuite employees) staffed across them, and the *plan* the Locust users work through: one batch per consultant,
engagement and half month (bulk time entries, then a timesheet submission), with user-scoped PSA tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from q2c_harness.flows.provision import ensure_resource
from q2c_harness.flows.runtime import CoreRuntime
from q2c_harness.flows.vendors import NS_ACCOUNT, PSA_ACCOUNT, SF_TENANT

PERIOD = "2026-01"
HALVES = (("2026-01-05", "2026-01-16"), ("2026-01-19", "2026-01-30"))  # working days Mon-Fri in each half
CHUNK = 200  # Salesforce composite collections


@dataclass
class WorldSize:
    engagements: int
    entries: int
    consultants: int = 0  # 0: derived (about one consultant per 2.5 engagements, 4..200)

    def pool(self) -> int:
        return self.consultants or max(4, min(200, (self.engagements * 2) // 5))


def working_days(start: str, end: str) -> list[str]:
    from datetime import date, timedelta

    d, last, out = date.fromisoformat(start), date.fromisoformat(end), []
    while d <= last:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d += timedelta(days=1)
    return out


def sell_engagements(core: CoreRuntime, n: int, *, prefix: str = "Load") -> list[str]:
    """n accounts, opportunities, primary quotes and lines (T&M, no cap reached), then Closed Won in bulk."""
    sf = core.vendors.sf

    async def go() -> list[str]:
        opps: list[str] = []
        for lo in range(0, n, CHUNK):
            k = min(CHUNK, n - lo)
            accts = await sf.create_many("Account", [{"Name": f"{prefix} Client {lo + i:05d} Inc",
                                                      "BillingCountry": "US"} for i in range(k)], all_or_none=True)
            acct_ids = [r.id for r in accts]
            o = await sf.create_many("Opportunity", [{"Name": f"{prefix} Engagement {lo + i:05d}",
                                                      "StageName": "Prospecting", "CloseDate": "2026-01-31",
                                                      "AccountId": a} for i, a in enumerate(acct_ids)],
                                     all_or_none=True)
            opp_ids = [r.id for r in o]
            q = await sf.create_many("SBQQ__Quote__c", [{
                "SBQQ__Opportunity2__c": op, "SBQQ__Account__c": a, "SBQQ__Primary__c": True,
                "SBQQ__Status__c": "Accepted", "SBQQ__StartDate__c": "2026-01-01", "SBQQ__EndDate__c": "2026-12-31"}
                for op, a in zip(opp_ids, acct_ids)], all_or_none=True)
            await sf.create_many("SBQQ__QuoteLine__c", [{
                "SBQQ__Quote__c": r.id, "SBQQ__Quantity__c": 1, "SBQQ__NetPrice__c": Decimal("9000000.00"),
                "SBQQ__NetTotal__c": Decimal("9000000.00"), "SBQQ__ChargeType__c": "Usage",
                "SBQQ__Description__c": "Delivery services (T&M)", "SBQQ__EndDate__c": "2026-12-31"} for r in q],
                all_or_none=True)
            await sf.update_many("Opportunity", [{"id": op, "StageName": "Closed Won"} for op in opp_ids],
                                 all_or_none=True)
            opps += opp_ids
        return opps

    return core.vendors.run(go())


def staff_pool(core: CoreRuntime, n: int) -> tuple[list[str], str]:
    """n consultants (US01, NA) with NetSuite employees, and one delivery manager; returns (user ids, manager id)."""
    psa = core.vendors.psa

    async def go() -> tuple[list[str], str]:
        import asyncio

        role = str((await psa.create("roles", {"name": "Consultant"}))["id"])
        mrole = str((await psa.create("roles", {"name": "Manager"}))["id"])
        users = await psa.create_many("users", [{"full_name": f"Consultant {i:04d}",
                                                 "email_address": f"consultant.{i:04d}@q2c.test",
                                                 "role_id": int(role), "region": "NA", "legal_entity": "US01"}
                                                for i in range(n)])
        ids = [str(u["id"]) for u in users]
        mgr = await psa.create("users", {"full_name": "Delivery Manager", "email_address": "dm@q2c.test",
                                         "role_id": int(mrole), "region": "NA", "legal_entity": "US01"})
        sem = asyncio.Semaphore(5)

        async def emp(uid: str, i: int) -> None:
            async with sem:
                await ensure_resource(core.vendors, uid, first="Consultant", last=f"{i:04d}", entity_id="US01")
        await asyncio.gather(*(emp(u, i) for i, u in enumerate(ids)))
        return ids, str(mgr["id"])

    return core.vendors.run(go())


def build_plan(*, endpoints: dict[str, Any], workspaces: list[str], consultants: list[str], manager: str,
               entries: int, tokens: dict[str, str], extra: dict[str, Any]) -> dict[str, Any]:
    """Batches (consultant, workspace, half month, count): two consultants per engagement, entries spread evenly."""
    slots = [(workspaces[j], consultants[(2 * j + k) % len(consultants)], half)
             for j in range(len(workspaces)) for k in range(2) for half in range(len(HALVES))]
    base, rest = divmod(entries, len(slots))
    batches = []
    for i, (ws, user, half) in enumerate(slots):
        count = base + (1 if i < rest else 0)
        while count > 0:  # a batch stays within the PSA bulk limit (300)
            take = min(300, count)
            batches.append({"id": len(batches), "user": user, "workspace_id": ws, "half": half,
                            "start": HALVES[half][0], "end": HALVES[half][1], "count": take})
            count -= take
    return {"endpoints": endpoints, "period": PERIOD, "account": PSA_ACCOUNT, "sf_tenant": SF_TENANT,
            "ns_account": NS_ACCOUNT, "manager": manager, "tokens": tokens, "batches": batches,
            "days": {str(h): working_days(*HALVES[h]) for h in range(len(HALVES))}, **extra}


def mint_tokens(endpoints: dict[str, Any], users: list[str]) -> dict[str, Any]:
    """User-scoped PSA tokens, a Salesforce session and a NetSuite bearer token, through the admin APIs."""
    urls = endpoints["simulators"]
    verify = endpoints.get("ca_bundle") or True
    with httpx.Client(verify=verify, timeout=30) as http:
        psa = {u: http.post(f"{urls['psa']}/__admin/psa/tokens", json={"account": PSA_ACCOUNT, "user_id": u})
               .json()["access_token"] for u in users}
        sf = http.post(f"{urls['salesforce']}/__admin/salesforce/tokens", json={"tenant": SF_TENANT}).json()
        ns = http.post(f"{urls['netsuite']}/__admin/netsuite/accounts/{NS_ACCOUNT}/access-tokens").json()
    return {"psa": psa, "salesforce": sf["access_token"], "netsuite": ns["access_token"]}


def write_plan(plan: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(plan))
    return path
