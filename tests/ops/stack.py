"""A running stack for the dashboard tests: in-process simulators, the core (InlineRunner) with the vendor call log
attached, populated by running the flows end to end (tests/flows/world.py):

- engagement A: sold -> activated -> time approved -> billed -> invoice paid in NetSuite -> payment applied;
- engagement B: sold -> activated -> time approved -> billing run parked (no NetSuite employee for the PSA user:
  ``MISSING_MASTER_DATA``); the employee is then created, so retrying the item resolves it.

``Stack.start()`` runs all of it on its own event loop in a thread (the core's async context stays open until
``stop()``); ``serve()`` adds uvicorn serving the ops app on a real port.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from q2c_harness.flows.provision import ensure_resource
from q2c_harness.flows.runtime import CoreRuntime
from q2c_harness.ops import create_ops_app
from q2c_harness.ops.calls import attach_call_log
from q2c_harness.ops.identity import Identities, token_digest
from q2c_simulators.kernel.serving import build_simulators
from tests.flows.world import log_and_approve, on_vendors, sell, staff

TOKEN = "dashboard-test-token"
ANA_TOKEN = "ana-dashboard-token"  # a person's own token: her actions are recorded as hers
IDENTITIES = Identities(TOKEN, {"ana@acme.example": token_digest(ANA_TOKEN)})
SIM_HOSTS = {"salesforce": "https://salesforce.sim", "netsuite": "https://netsuite.sim", "psa": "https://psa.sim"}


async def populate(core: CoreRuntime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    opp_a = await sell(core, name="Acme Rollout")
    opp_b = await sell(core, name="Globex Pilot", lines=[("Pilot services", "20000.00")])
    await core.poll_once()
    eng_a = core.store.engagement_by_opportunity(opp_a)
    eng_b = core.store.engagement_by_opportunity(opp_b)
    people = await staff(core, [("Ada Lovelace", "Consultant", "NA", "US01")])
    late = await staff(core, [("Grace Hopper", "Architect", "NA", "US01")], employees=False)
    await log_and_approve(core, eng_a["keys"]["workspace_id"], [(people["Ada Lovelace"], "2026-01-05", 480),
                                                                (people["Ada Lovelace"], "2026-01-06", 240)])
    await log_and_approve(core, eng_b["keys"]["workspace_id"], [(late["Grace Hopper"], "2026-01-07", 300)])
    await core.poll_once()
    run_a = await core.run_billing(eng_a["engagement"]["engagement_id"], "2026-01")
    assert run_a and run_a["status"] == "posted", run_a
    run_b = await core.run_billing(eng_b["engagement"]["engagement_id"], "2026-01")
    assert run_b and run_b["status"] == "parked", run_b
    await on_vendors(core, core.vendors.ns.create("customerPayment", {
        "customer": {"id": eng_a["keys"]["customer_id"]}, "payment": Decimal(run_a["gross_total"]),
        "apply": {"items": [{"doc": {"id": run_a["netsuite_invoice_id"]}, "amount": Decimal(run_a["gross_total"])}]}}))
    await core.poll_once()
    # the master data the parked run misses now exists: a retry resolves the item
    await on_vendors(core, ensure_resource(core.vendors, late["Grace Hopper"], first="Grace", last="Hopper",
                                           entity_id="US01"))
    quote_cid = next(t["correlation_id"] for t in core.engine.transactions(limit=100)
                     if t["inbox_key"] == f"salesforce:opportunity-closed-won:{opp_a}")
    parked = core.exceptions(status="open")
    assert len(parked) == 1, [e.message for e in parked]
    out.update(opp_a=opp_a, opp_b=opp_b, eng_a=eng_a["engagement"]["engagement_id"],
               eng_b=eng_b["engagement"]["engagement_id"], quote_cid=quote_cid, parked_id=parked[0].id,
               parked_cid=parked[0].correlation_id)
    return out


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.info: dict[str, Any] = {}
        self.core: CoreRuntime | None = None
        self.app: Any = None
        self.server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="dashboard-stack", daemon=True)
        self._server_thread: threading.Thread | None = None
        self.base_url = ""

    def start(self, timeout: float = 60) -> "Stack":
        self._thread.start()
        if not self.ready.wait(timeout):
            raise TimeoutError("the stack did not come up")
        if self.error:
            raise self.error
        return self

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            sims = build_simulators(seed=7)
            async with CoreRuntime.in_process(sims, db_url=f"sqlite:///{self.tmp / 'core.sqlite'}") as core:
                self.core = core
                calls = attach_call_log(core.vendors, core.engine)
                self.info = await populate(core)
                targets = {name: (host, httpx.ASGITransport(sims[name].asgi)) for name, host in SIM_HOSTS.items()}
                self.app = create_ops_app(core.engine, identities=IDENTITIES, call_log=calls, simulators=targets)
                async with httpx.AsyncClient(transport=targets["netsuite"][1], base_url=SIM_HOSTS["netsuite"]) as c:
                    await c.post("/__admin/faults", json={"id": "ns-invoice-503", "kind": "error", "status": 503,
                                                          "method": "POST", "path": "/services/rest/record/v1/nope*",
                                                          "probability": 0.1})
                self.ready.set()
                await self._stop.wait()
        except BaseException as exc:  # noqa: BLE001
            self.error = exc
            self.ready.set()

    def serve(self, timeout: float = 20) -> str:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="off"))
        self._server_thread = threading.Thread(target=self.server.run, name="dashboard-uvicorn", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._server_thread.is_alive():
                raise TimeoutError("uvicorn did not start")
            time.sleep(0.05)
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            if self._server_thread:
                self._server_thread.join(10)
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
