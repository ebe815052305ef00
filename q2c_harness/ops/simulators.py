"""Simulator status for the dashboard: the ops API proxies each simulator's admin API (read only:
``/__admin/health``, ``/__admin/quotas``, ``/__admin/faults``, ``/__admin/tenants``), so the browser needs no
simulator URL, CA or CORS. Quota use is per tenant (an org, account or PSA tenant has its own limits): ``tenants``
lists each tenant's use of every tenant-scoped quota; ``quotas`` the definitions, with global quotas' use.

Configured with ``create_ops_app(engine, simulators=...)``: a mapping name -> base URL, or name -> (base URL,
httpx transport) for in-process simulators; or the ``Q2C_OPS_SIMULATORS`` environment variable naming an
endpoints file from ``q2c sim serve --endpoints-file`` (``{"simulators": {...}, "ca_bundle": ...}``).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from typing import Any

import httpx

Target = str | tuple[str, Any]
MAX_TENANTS = 50  # a simulator serving more tenants than a dashboard can show lists the first 50


class SimulatorStatus:
    def __init__(self, targets: Mapping[str, Target] | None = None, *, verify: Any = True,
                 timeout: float = 3.0) -> None:
        self.targets = dict(targets or {})
        self.verify = verify
        self.timeout = timeout

    @classmethod
    def from_env(cls) -> "SimulatorStatus":
        path = os.environ.get("Q2C_OPS_SIMULATORS")
        if not path:
            return cls()
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        return cls(spec.get("simulators", {}), verify=spec.get("ca_bundle") or True)

    async def one(self, name: str) -> dict[str, Any]:
        target = self.targets[name]
        base, transport = (target, None) if isinstance(target, str) else target
        out: dict[str, Any] = {"name": name, "base_url": base, "ok": False, "health": None, "quotas": [],
                               "tenants": [], "faults": [], "error": None}
        try:
            kwargs: dict[str, Any] = {"base_url": base, "timeout": self.timeout}
            if transport is not None:
                kwargs["transport"] = transport
            else:
                kwargs["verify"] = self.verify
            async with httpx.AsyncClient(**kwargs) as c:
                health, quotas, faults, tenants = await asyncio.gather(
                    c.get("/__admin/health"), c.get("/__admin/quotas"), c.get("/__admin/faults"),
                    c.get("/__admin/tenants"))
                for r in (health, quotas, faults, tenants):
                    r.raise_for_status()
                ids = [t["id"] for t in tenants.json().get("tenants", [])][:MAX_TENANTS]
                per_tenant = await asyncio.gather(*(c.get("/__admin/quotas", params={"tenant": t}) for t in ids))
            for r in per_tenant:
                r.raise_for_status()
            out.update(ok=True, health=health.json(), quotas=quotas.json().get("quotas", []),
                       faults=faults.json().get("faults", []), seed=faults.json().get("seed"),
                       tenants=[{"tenant": t, "quotas": [q for q in r.json().get("quotas", [])
                                                         if q.get("scope", "tenant") == "tenant"]}
                                for t, r in zip(ids, per_tenant)])
        except (httpx.HTTPError, ValueError) as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"[:500]
        return out

    async def all(self) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(self.one(n) for n in sorted(self.targets))))
