"""A small world for the flow tests, built through the vendors' public APIs (as users would): a Salesforce account,
opportunity, primary CPQ quote and lines; PSA roles and users; NetSuite employees for them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from q2c_harness.flows.provision import ensure_resource
from q2c_harness.flows.runtime import CoreRuntime


async def on_vendors(core: CoreRuntime, coro: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(core.vendors.run, coro)


async def sell(core: CoreRuntime, *, name: str = "Acme Rollout", country: str = "US", charge: str = "Usage",
               lines: list[tuple[str, str]] | None = None, close: bool = True,
               address: dict[str, str] | None = None, frequency: str | None = None) -> str:
    """Account (with ``address``: Billing* fields) + opportunity + primary quote; returns the opportunity id
    (Closed Won when ``close``)."""
    sf = core.vendors.sf

    async def go() -> str:
        acct = await sf.create("Account", {"Name": f"{name} Inc", "BillingCountry": country, **(address or {})})
        opp = await sf.create("Opportunity", {"Name": name, "StageName": "Prospecting", "CloseDate": "2026-01-31",
                                              "AccountId": acct})
        q = await sf.create("SBQQ__Quote__c", {"SBQQ__Opportunity2__c": opp, "SBQQ__Account__c": acct,
                                               "SBQQ__Primary__c": True, "SBQQ__Status__c": "Accepted",
                                               "SBQQ__StartDate__c": "2026-01-01", "SBQQ__EndDate__c": "2026-06-30"})
        for desc, amount in lines or [("Implementation services", "50000.00")]:
            await sf.create("SBQQ__QuoteLine__c", {
                "SBQQ__Quote__c": q, "SBQQ__Quantity__c": 1, "SBQQ__NetPrice__c": Decimal(amount),
                "SBQQ__NetTotal__c": Decimal(amount), "SBQQ__ChargeType__c": charge, "SBQQ__Description__c": desc,
                "SBQQ__EndDate__c": "2026-03-31", **({"SBQQ__BillingFrequency__c": frequency} if frequency else {})})
        if close:
            await sf.update("Opportunity", opp, {"StageName": "Closed Won"})
        return opp
    return await on_vendors(core, go())


async def staff(core: CoreRuntime, users: list[tuple[str, str, str, str]], *, employees: bool = True
                ) -> dict[str, str]:
    """PSA users (name, role, region, legal entity) -> {name: psa user id}; NetSuite employees for them."""
    psa = core.vendors.psa

    async def go() -> dict[str, str]:
        roles: dict[str, str] = {}
        out = {}
        for full, role, region, entity in users:
            if role not in roles:
                roles[role] = str((await psa.create("roles", {"name": role}))["id"])
            u = await psa.create("users", {"full_name": full, "email_address": f"{full.replace(' ', '.').lower()}@q2c.test",
                                           "role_id": int(roles[role]), "region": region, "legal_entity": entity})
            out[full] = str(u["id"])
            if employees:
                first, _, last = full.partition(" ")
                await ensure_resource(core.vendors, str(u["id"]), first=first, last=last or first, entity_id=entity)
        return out
    return await on_vendors(core, go())


async def log_and_approve(core: CoreRuntime, workspace_id: str, entries: list[tuple[str, str, int]]) -> list[str]:
    """Time entries (user id, date, minutes) in a workspace, submitted and approved per user; returns entry ids."""
    psa = core.vendors.psa

    async def go() -> list[str]:
        ids: dict[str, list[str]] = {}
        for user, day, minutes in entries:
            te = await psa.create("time_entries", {"workspace_id": int(workspace_id), "user_id": int(user),
                                                   "date_performed": day, "time_in_minutes": minutes})
            ids.setdefault(user, []).append(str(te["id"]))
        for user, tids in ids.items():
            days = sorted(d for u, d, _ in entries if u == user)
            sub = await psa.create("timesheet_submissions", {"user_id": int(user), "workspace_id": int(workspace_id),
                                                             "start_date": days[0], "end_date": days[-1]})
            await psa.approve_timesheet(sub["id"])
        return [t for v in ids.values() for t in v]
    return await on_vendors(core, go())
