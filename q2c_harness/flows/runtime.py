"""The runtime that wires engine, vendors, flows and intake together.

In-process (scenarios, tests)::

    async with CoreRuntime.in_process(sims, db_url="sqlite:///x.sqlite") as core:
        await core.poll_once()                     # pull every source into the inbox; run what it started
        await core.run_billing("ENG-006...", "2026-01")
        await core.drain()                         # wait for every started workflow
        core.exceptions()                          # open exception-queue items

With the default ``InlineRunner`` every workflow runs to completion inside the call that started it, so a scenario
steps deterministically. ``durable=True`` uses DBOS (one per process) with a queue; ``drain`` then waits.

Served (``q2c core serve`` / ``q2c core worker``): ``CoreRuntime.from_config`` on DBOS, ``serve_forever`` polls the
sources every ``poll_interval`` seconds, runs due billing runs and serves the ops API; ``worker`` only executes
queued workflows (several workers on PostgreSQL share the queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from q2c_harness.engine import Engine
from q2c_harness.engine.db import DEFAULT_URL
from q2c_harness.engine.durable import DEFAULT_QUEUE, TERMINAL

from . import (cash_to_crm, change_order, credit_and_rebill, milestone_to_invoice, quote_to_project, revenue_inputs,
               time_to_invoice)
from .context import FlowContext
from .intake import Intake
from .provision import provision_netsuite, provision_salesforce_fields
from .reference import ReferenceData, demo_reference
from .store import FlowStore
from .vendors import NS_ACCOUNT, PSA_ACCOUNT, SF_TENANT, VendorConfig, Vendors

FLOW_MODULES = (quote_to_project, time_to_invoice, milestone_to_invoice, change_order, cash_to_crm)


def register_flows(ctx: FlowContext) -> None:
    for mod in FLOW_MODULES:
        mod.register(ctx)


class CoreRuntime:
    def __init__(self, engine: Engine, vendors: Vendors, ref: ReferenceData | None = None, *,
                 queue: str | None = None, webhook_secret: str | None = None) -> None:
        self.engine = engine
        self.vendors = vendors
        self.ref = ref or demo_reference()
        self.store = FlowStore(engine.db)
        self.ctx = FlowContext(engine=engine, vendors=vendors, store=self.store, ref=self.ref)
        self.queue = queue
        self.intake = Intake(self.ctx, queue=queue)
        self.webhook_secret = webhook_secret or vendors.config.psa_webhook_secret
        self.gateway_webhook_secret: str | None = vendors.config.payments_webhook_secret
        register_flows(self.ctx)

    # ---- construction ------------------------------------------------------------------------------------------
    @classmethod
    def build(cls, config: VendorConfig, *, db_url: str | None = None, durable: bool = False,
              ref: ReferenceData | None = None, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
              worker_concurrency: int = 8, executor_id: str | None = None) -> "CoreRuntime":
        url = db_url or DEFAULT_URL
        if durable:
            kwargs: dict[str, Any] = {"polling_interval_sec": 0.05}
            if executor_id:
                kwargs["executor_id"] = executor_id
            engine = Engine.durable(url, **kwargs)
        else:
            engine = Engine(url)
        vendors = Vendors(config, transports=dict(transports or {}))
        rt = cls(engine, vendors, ref, queue=DEFAULT_QUEUE if durable else None)
        if durable:
            engine.runner.register_queue(DEFAULT_QUEUE, worker_concurrency=worker_concurrency)
            engine.launch()
        return rt

    @classmethod
    def from_config(cls, *, endpoints_file: str | None = None, db_url: str | None = None, durable: bool = True,
                    **kw: Any) -> "CoreRuntime":
        config = VendorConfig.from_endpoints_file(endpoints_file) if endpoints_file else VendorConfig.from_env()
        return cls.build(config, db_url=db_url, durable=durable, **kw)

    @classmethod
    @contextlib.asynccontextmanager
    async def in_process(cls, sims: Mapping[str, Any], *, db_url: str | None = None, durable: bool = False,
                         ref: ReferenceData | None = None, provision: bool = True, sf_tenant: str = SF_TENANT,
                         ns_account: str = NS_ACCOUNT, psa_account: str = PSA_ACCOUNT,
                         webhook_secret: str | None = None, worker_concurrency: int = 8,
                         tax_service: bool = False, payments: str | None = None,
                         **config_changes: Any) -> AsyncIterator["CoreRuntime"]:
        """The core against in-process simulators (``build_simulators``): credentials minted through their admin
        APIs, the integration provisioned (custom fields, NetSuite master data), SQLite in a temp file by default.
        ``tax_service``: invoices are taxed by the tax simulator (an account minted for the core, unless
        ``config_changes`` name one). ``payments``: a payment gateway account (its events are polled; a key is
        minted for it on the payments simulator)."""
        if payments and not config_changes.get("payments_key"):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(sims["payments"].asgi),
                                         base_url="https://payments.sim") as a:
                r = await a.post("/__admin/payments/keys", json={"account": payments})
                r.raise_for_status()
                config_changes = {**config_changes, "payments_url": "https://payments.sim",
                                  "payments_key": r.json()["secret_key"]}
        names = ("salesforce", "netsuite", "psa", *(("tax",) if tax_service or config_changes.get("tax_url") else ()),
                 *(("payments",) if config_changes.get("payments_url") else ()))
        transports = {name: httpx.ASGITransport(sims[name].asgi) for name in names}
        if tax_service and not config_changes.get("tax_account"):
            async with httpx.AsyncClient(transport=transports["tax"], base_url="https://tax.sim") as a:
                r = await a.post("/__admin/tax/accounts", json={})
                r.raise_for_status()
                config_changes = {**config_changes, "tax_url": "https://tax.sim",
                                  "tax_account": str(r.json()["account_id"]), "tax_license_key": r.json()["license_key"]}
        async with httpx.AsyncClient(transport=transports["salesforce"], base_url="https://salesforce.sim") as a:
            sf_token = (await a.post("/__admin/salesforce/tokens", json={"tenant": sf_tenant})).json()["access_token"]
            if provision:
                await provision_salesforce_fields(a, sf_tenant)
        async with httpx.AsyncClient(transport=transports["netsuite"], base_url="https://netsuite.sim") as a:
            r = await a.post(f"/__admin/netsuite/accounts/{ns_account}/access-tokens")
            r.raise_for_status()
            ns_token = r.json()["access_token"]
        async with httpx.AsyncClient(transport=transports["psa"], base_url="https://psa.sim") as a:
            psa_token = (await a.post("/__admin/psa/tokens", json={"account": psa_account})).json()["access_token"]
        config = VendorConfig(salesforce_url="https://salesforce.sim", salesforce_token=sf_token,
                              netsuite_url="https://netsuite.sim/services/rest", netsuite_account=ns_account,
                              netsuite_token=ns_token, psa_url="https://psa.sim/api/v1", psa_token=psa_token,
                              psa_webhook_secret=webhook_secret, **config_changes)
        tmp = None
        if db_url is None:
            import tempfile

            tmp = tempfile.TemporaryDirectory(prefix="q2c-core-")
            db_url = f"sqlite:///{tmp.name}/core.sqlite"
        rt = await asyncio.to_thread(cls.build, config, db_url=db_url, durable=durable, ref=ref,
                                     transports=transports, worker_concurrency=worker_concurrency)
        try:
            if provision:
                await asyncio.to_thread(rt.provision)
            yield rt
        finally:
            await asyncio.to_thread(rt.close)
            if tmp is not None:
                tmp.cleanup()

    def provision(self) -> dict[str, Any]:
        """NetSuite master data for the reference data (idempotent)."""
        return self.vendors.run(provision_netsuite(self.vendors, self.ref))

    def close(self) -> None:
        self.vendors.close()
        self.engine.shutdown()

    # ---- stepping (sync core; the async API below wraps it) -----------------------------------------------------
    def poll_once_sync(self) -> dict[str, int]:
        out = {"salesforce": self.intake.poll_salesforce(), "psa": self.intake.poll_psa(),
               "netsuite": self.intake.poll_payments()}
        if self.vendors.payments is not None:
            out["payments"] = self.intake.poll_gateway()
        return out

    def register_gateway_webhook(self, url: str) -> str:
        """Subscribe ``url`` (the served core's ``POST /webhooks/payments``) to the gateway's payment and refund
        events; the signing secret it answers once is kept for verifying deliveries."""
        gw = self.vendors.payments
        assert gw is not None, "no payment gateway configured"
        ep = self.vendors.run(gw.create_webhook_endpoint(url, list(cash_to_crm.GATEWAY_EVENTS),
                                                         idempotency_key=f"q2c-webhook-{url}"))
        self.gateway_webhook_secret = str(ep["secret"])
        return self.gateway_webhook_secret

    def receive_gateway_webhook_sync(self, body: bytes, headers: Mapping[str, str]) -> int:
        if not self.gateway_webhook_secret:
            from q2c_harness.errors import AuthError

            raise AuthError("payments: no webhook secret configured", system="payments", code="NO_SECRET")
        return self.intake.receive_gateway_webhook(body, headers, secret=self.gateway_webhook_secret)

    def run_billing_sync(self, engagement_id: str, period: str) -> Any:
        time_to_invoice.stage_recurring(self.ctx, engagement_id, period)  # a managed-services fee is due monthly
        time_to_invoice.stage_usage(self.ctx, engagement_id, period)  # the units the PSA reports for the month
        wid = self.intake.start_billing(engagement_id, period)
        return None if wid is None else self.engine.runner.result(wid, timeout=600)

    def stage_month(self, period: str) -> int:
        """Stage what falls due for a month without an event of its own: every managed-services fee and the metered
        usage the PSA reports for it (idempotent). Returns how many sources were new."""
        n = 0
        for data in self.store.engagements():
            eid = data["engagement"]["engagement_id"]
            n += time_to_invoice.stage_recurring(self.ctx, eid, period) + time_to_invoice.stage_usage(self.ctx, eid,
                                                                                                      period)
        return n

    def run_due_billing_sync(self, period: str | None = None, *, parallel: int = 1) -> list[Any]:
        pairs = [p for p in self.store.pending_runs() if period is None or p[1] == period]
        if parallel <= 1:
            return [self.run_billing_sync(e, p) for e, p in pairs]
        with ThreadPoolExecutor(parallel) as pool:
            return list(pool.map(lambda ep: self.run_billing_sync(*ep), pairs))

    def drain_sync(self, timeout: float = 600.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        counts = {"success": 0, "error": 0, "other": 0}
        for wid in list(self.intake.started):
            info = self.engine.runner.status(wid)
            while info is not None and info.status not in TERMINAL and time.monotonic() < deadline:
                time.sleep(0.02)
                info = self.engine.runner.status(wid)
            key = info.status if info is not None and info.status in counts else "other"
            counts[key] += 1
        self.intake.started.clear()
        return counts

    # ---- the in-process API a scenario runner steps with --------------------------------------------------------
    async def poll_once(self) -> dict[str, int]:
        """Pull Salesforce change events, PSA subscribed events and NetSuite payments into the inbox and start
        (inline: run) their workflows."""
        return await asyncio.to_thread(self.poll_once_sync)

    async def run_billing(self, engagement_id: str, period: str) -> Any:
        """One billing run for an engagement and period (``YYYY-MM``); None when nothing is billable."""
        return await asyncio.to_thread(self.run_billing_sync, engagement_id, period)

    async def run_due_billing(self, period: str | None = None, *, parallel: int = 1) -> list[Any]:
        """A billing run for every (engagement, period) with staged, unbilled transactions."""
        return await asyncio.to_thread(self.run_due_billing_sync, period, parallel=parallel)

    async def receive_webhook(self, body: bytes, headers: Mapping[str, str]) -> int:
        if not self.webhook_secret:
            raise RuntimeError("no PSA webhook secret configured")
        return await asyncio.to_thread(self.intake.receive_webhook, body, headers, secret=self.webhook_secret)

    async def drain(self, timeout: float = 600.0) -> dict[str, int]:
        """Wait until every workflow started so far is finished (a no-op inline)."""
        return await asyncio.to_thread(self.drain_sync, timeout)

    async def retry_exception(self, item_id: int, *, actor: str = "scenario", reason: str = "retry") -> Any:
        return await asyncio.to_thread(self.engine.exceptions.retry, item_id, actor=actor, reason=reason)

    def rate_mismatches(self, engagement_id: str) -> list[dict[str, Any]]:
        """Staged time entries of an engagement whose PSA rate is not the rate card's (and not corrected yet)."""
        staged = [s for p in sorted({r["period"] for r in self.store.runs(engagement_id)} |
                                    {p for e, p in self.store.pending_runs() if e == engagement_id})
                  for s in self.store.staged(engagement_id, p)]
        return time_to_invoice.rate_mismatches(self.ctx, engagement_id, staged)

    def correct_rate(self, engagement_id: str, source_id: str, *, actor: str, reason: str) -> dict[str, Any]:
        """Billing-ops' fix for ``RateCardMismatch``: bill the entry at the rate card's rate (recorded, audited);
        then retry the parked run. (An approved PSA time entry is locked, so the fix is recorded in the core.)"""
        bad = {b["source_id"]: b for b in self.rate_mismatches(engagement_id)}
        if source_id not in bad:
            raise KeyError(f"{source_id}: no uncorrected rate mismatch on engagement {engagement_id}")
        b = bad[source_id]
        self.store.correct_rate(source_id, engagement_id, Decimal(b["psa_rate"]), Decimal(b["rate"]), actor=actor,
                                reason=reason)
        self.engine.decide("billing.rate_correction", {"source_id": source_id, "psa_rate": b["psa_rate"],
                                                       "actor": actor, "reason": reason},
                           {"rate": b["rate"], "rate_card_id": b["rate_card_id"],
                            "rate_card_version": b["rate_card_version"]})
        return b

    def correct_invoice(self, engagement_id: str, invoice_id: str, *, written_off: list[str], on: Any, actor: str,
                        reason: str) -> dict[str, Any]:
        """Billing-ops' correction of an issued invoice: a credit memo crediting it in full and a re-invoice
        without the ``written_off`` PSA entries, linked both ways in NetSuite (flows/credit_and_rebill.py)."""
        return credit_and_rebill.correct_invoice(self.ctx, engagement_id, invoice_id, written_off=written_off,
                                                 on=on, reason=reason, actor=actor)

    def close_period(self, period: str, exports_dir: str | Path) -> Path:
        """Month-end close: the revenue-recognition inputs of every fixed-fee engagement, written to
        ``<exports_dir>/revenue-<period>.csv`` (flows/revenue_inputs.py, columns in docs/flows.md)."""
        return revenue_inputs.close_period(self.ctx, period, Path(exports_dir))

    async def replay_event(self, inbox_key: str) -> Any:
        wid = await asyncio.to_thread(self.engine.replay_event, inbox_key)
        return await asyncio.to_thread(self.engine.runner.result, wid, 600)

    def exceptions(self, *, lot: str | None = None, status: str | None = "open") -> list[Any]:
        return self.engine.exceptions.list(lot=lot, status=status, limit=1000)

    def events(self, types: list[str] | None = None) -> list[Any]:
        return self.engine.events.read(0, limit=100_000, types=types)

    # ---- served ------------------------------------------------------------------------------------------------
    def serve_forever(self, *, poll_interval: float = 2.0, billing: bool = True,
                      stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        staged_months: set[str] = set()
        while not stop.is_set():
            try:
                self.poll_once_sync()
                if billing:
                    # once a month is over, its fees and reported usage are due (once per month per process: usage
                    # reported later for that month is staged by an explicit run_billing or stage_month)
                    today = datetime.now(timezone.utc).date()
                    closed = f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}"
                    if closed not in staged_months:
                        self.stage_month(closed)
                        staged_months.add(closed)
                    for e, p in self.store.pending_runs():
                        self.intake.start_billing(e, p)
            except Exception as exc:  # noqa: BLE001 - a poll failure must not stop the server; next tick retries
                print(f"q2c core: poll failed: {type(exc).__name__}: {exc}", flush=True)
            stop.wait(poll_interval)
