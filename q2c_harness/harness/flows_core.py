"""`CoreDriver` over the flows' `CoreRuntime` (q2c_harness.flows.runtime): in-process on ASGI transports, or against
real HTTPS servers through an endpoints file. Reference data (entities, rate cards, FX, tax) comes from the
scenario's master data."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from q2c_harness.billing import FxRateTable
from q2c_harness.canonical import FxPolicy
from q2c_harness.connectors.http import RetryPolicy

from .core import CoreDriver
from .invariants import InvariantResult, Tally, result_of
from .steps import ExpectationFailed


CORE_URL = "https://core.q2c"  # where the in-process core takes webhooks


class FlowsCore(CoreDriver):
    name = "q2c flows"

    def __init__(self, *, scenario: Any, sims: dict[str, Any], vendors: Any, mode: str, endpoints: Any,
                 workdir: Path) -> None:
        self.scenario, self.sims, self.mode, self.endpoints, self.workdir = scenario, sims, mode, endpoints, workdir
        self.stack = AsyncExitStack()
        self.rt: Any = None
        self._vendors = vendors
        start = scenario.start
        self._now: datetime = start if start.tzinfo else start.replace(tzinfo=timezone.utc)

    # ---- lifecycle ----------------------------------------------------------------------------------------------
    def _reference(self, ctx: Any) -> Any:
        from q2c_harness.flows.reference import ReferenceData

        w, sc = ctx.world, self.scenario
        quotes = [s for s in sc.steps if s.kind == "close_quote"]
        country_entity = {w.clients[q.client].country: q.entity for q in quotes}
        for e in w.entities.values():
            country_entity.setdefault(e.country, e.entity_id)
        policy = next((q.fx_policy for q in quotes if q.fx_policy), None)
        fx = FxPolicy(**policy.model_dump()) if policy else FxPolicy(rate_type="corporate", rate_date_rule="work_date")
        card = next((q.rate_card for q in quotes if q.rate_card), None) or next(iter(w.rate_cards), "")
        return ReferenceData(legal_entities=dict(w.entities), country_entity=country_entity,
                             rate_cards=dict(w.rate_cards), default_rate_card=card, fx_policy=fx, fx_rates=FxRateTable(w.fx),
                             tax_rates=dict(w.tax_rates), ic_markup_percent=sc.master_data.intercompany_markup_percent)

    async def start(self, ctx: Any) -> None:
        from q2c_harness.flows.runtime import CoreRuntime

        t = self.scenario.tenants
        db = f"sqlite:///{self.workdir}/core.sqlite"
        ref = self._reference(ctx)
        conc = self.scenario.faults.netsuite_concurrency
        extra: dict[str, Any] = {"netsuite_concurrency": max(1, conc)} if conc else {}
        # the scenario runs on the simulators' virtual clock: backoff sleeps are token (a vendor outage is waited out
        # by moving the clock, not by sleeping), and circuit-breaker cooldowns are measured on the virtual clock
        extra["retry"] = RetryPolicy(max_attempts=6, base_delay=0.001, max_delay=0.004, max_total_delay=0.05,
                                     seed=self.scenario.seed)
        self._now = ctx.now
        if self.scenario.master_data.tax_service:  # the firm's tax service account, the one the checker reads
            acct = ctx.vendors.tax_account
            extra.update(tax_url=ctx.vendors.base_urls["tax"], tax_account=acct["account_id"],
                         tax_license_key=acct["license_key"])
        if self.scenario.master_data.payment_gateway:  # the firm's gateway account
            extra.update(payments_url=ctx.vendors.base_urls["payments"], payments_key=ctx.vendors.tokens["payments"])
        if self.mode == "in-process":
            self.rt = await self.stack.enter_async_context(CoreRuntime.in_process(
                self.sims, db_url=db, ref=ref, sf_tenant=t.salesforce, ns_account=t.netsuite, psa_account=t.psa,
                **extra))
            self._use_virtual_clock()
            if self.scenario.master_data.payment_gateway:
                await self._subscribe_webhooks(ctx)
        else:
            import httpx

            from q2c_harness.flows.provision import provision_salesforce_fields
            from q2c_harness.flows.vendors import VendorConfig

            path = self.workdir / "endpoints.json"
            self.endpoints.write(path)
            config = VendorConfig.from_endpoints_file(path, sf_tenant=t.salesforce, ns_account=t.netsuite,
                                                      psa_account=t.psa)
            if extra:
                config = config.with_(**extra)
            async with httpx.AsyncClient(base_url=self.endpoints.base_urls["salesforce"],
                                         verify=self.endpoints.ca_bundle or True) as admin:
                await provision_salesforce_fields(admin, t.salesforce)
            self.rt = await asyncio.to_thread(CoreRuntime.build, config, db_url=db, ref=ref)
            self._use_virtual_clock()
            await asyncio.to_thread(self.rt.provision)

    async def _subscribe_webhooks(self, ctx: Any) -> None:
        """In-process, the core's ops app (its ``POST /webhooks/payments``) is where the gateway delivers: the core
        subscribes to it, and the gateway sends only when a ``deliver_webhooks`` step says so (deterministic).
        Against real servers the core reads the gateway's event list instead."""
        import secrets

        import httpx

        from q2c_harness.ops.app import create_ops_app

        app = create_ops_app(self.rt.engine, token=secrets.token_urlsafe(16), dashboard=False,
                             gateway_webhook=self.rt.receive_gateway_webhook_sync)
        self.sims["payments"].webhooks.transports[CORE_URL] = httpx.ASGITransport(app)
        r = await ctx.vendors.clients["payments"].put("/__admin/payments/webhooks/config",
                                                      json={"auto_deliver": False})
        r.raise_for_status()
        await asyncio.to_thread(self.rt.register_gateway_webhook, f"{CORE_URL}/webhooks/payments")

    def _virtual_seconds(self) -> float:
        return self._now.timestamp()

    def _use_virtual_clock(self) -> None:
        v = self.rt.vendors
        for client in (v.sf, v.ns, v.psa, v.tax, v.payments):
            if client is None:
                continue
            client.account.clock = self._virtual_seconds
            client.account._breakers.clear()
        runner = self.rt.engine.runner
        if hasattr(runner, "_sleep"):  # the inline runner's step retries wait on the virtual clock: no real sleep
            runner._sleep = lambda _seconds: None

    async def provisioned(self, ctx: Any) -> None:
        from q2c_harness.flows.provision import ensure_resource

        for pid, uid in ctx.psa_users.items():
            p = ctx.world.people[pid]
            first, _, last = p.full_name.partition(" ")
            await asyncio.to_thread(self.rt.vendors.run, ensure_resource(self.rt.vendors, uid, first=first,
                                                                         last=last or pid, entity_id=p.entity))

    async def rate_cards_changed(self, ctx: Any) -> None:
        self.rt.ref.rate_cards.update(ctx.world.rate_cards)  # the billing team publishes the same version

    async def close(self) -> None:
        if self.rt is not None and self.mode != "in-process":
            await asyncio.to_thread(self.rt.close)
        await self.stack.aclose()

    # ---- core steps ---------------------------------------------------------------------------------------------
    def engagement_id(self, refs: Any) -> str:
        return f"ENG-{refs.sf_opportunity}"

    def engagement_key(self, refs: Any) -> str | None:
        return self.engagement_id(refs)

    async def sync(self, ctx: Any, rounds: int) -> str:
        total: dict[str, int] = {}
        failed: list[str] = []
        for _ in range(rounds):
            got, error = await self._poll()
            if error:
                failed.append(error)
            for k, n in got.items():
                total[k] = total.get(k, 0) + n
        for refs in ctx.engagements.values():
            if refs.workspace is None and refs.sf_opportunity:
                rows = await ctx.vendors.sf_query(
                    f"SELECT Id, PSA_Workspace_Id__c FROM Opportunity WHERE Id = '{refs.sf_opportunity}'")
                refs.workspace = (rows[0].get("PSA_Workspace_Id__c") if rows else None) or None
        return ", ".join(f"{k} {n}" for k, n in total.items()) + " event(s)" + \
            (f"; poll failed ({'; '.join(failed)}), the next poll picks up from the cursor" if failed else "")

    async def _poll(self) -> tuple[dict[str, int], str | None]:
        """One tick of the core's poller: each feed in turn; a vendor outage fails that feed's poll only (its cursor
        stays, so the next tick reads the same events again), as the served core does."""
        got: dict[str, int] = {}
        errors = []
        intake = self.rt.intake
        for name, poll in (("salesforce", intake.poll_salesforce), ("psa", intake.poll_psa),
                           ("netsuite", intake.poll_payments), ("payments", intake.poll_gateway)):
            try:
                if name == "payments" and self.rt.vendors.payments is None:
                    continue  # no gateway in this scenario
                got[name] = await asyncio.to_thread(poll)
            except Exception as exc:  # noqa: BLE001 - the served core logs and polls again next tick
                got[name] = 0
                errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:120]}")
        await self.rt.drain()
        return got, "; ".join(errors) or None

    async def time_passes(self, ctx: Any) -> str:
        got, error = await self._poll()
        return ", ".join(f"{k} {n}" for k, n in got.items() if n) + (f" (poll failed: {error})" if error else "")

    async def billing_run(self, ctx: Any, step: Any) -> str:
        period = step.period_end.isoformat()[:7]
        names = step.engagements or list(ctx.engagements)
        posted = []
        for name in names:
            refs = ctx.engagements[name]
            if refs.spec.billing == "fixed_fee" and not await self._has_staged(refs, period):
                continue
            res = await self.rt.run_billing(self.engagement_id(refs), period)
            if res is not None:
                what = res.get("invoice_id") or (f"parked ({res.get('lot')} lot, {res.get('error')})"[:160]
                                                 if res.get("status") == "parked" else res.get("status")) \
                    if isinstance(res, dict) else res
                posted.append(f"{name}:{what}")
        await self.rt.drain()
        return f"period {period}: " + (", ".join(posted) or "nothing to bill")

    async def _has_staged(self, refs: Any, period: str) -> bool:
        return bool(self.rt.store.staged(self.engagement_id(refs), period))

    async def replay(self, ctx: Any, step: Any) -> str:
        events = [e for e in self.rt.engine.inbox.list(limit=100_000) if e.workflow_name]
        if step.day is not None:
            events = [e for e in events if e.received_at[:10] == step.day.isoformat()
                      or str((e.payload or {}).get("created_at", ""))[:10] == step.day.isoformat()] or events
        for _ in range(step.times):
            for e in sorted(events, key=lambda e: e.received_at):
                await self.rt.replay_event(e.key)
        await self.rt.drain()
        return f"replayed {len(events)} event(s) x{step.times}"

    async def redeliver(self, ctx: Any, step: Any) -> str:
        feeds = {"psa": ("psa:events", ""), "salesforce": ("salesforce:changeevents", "-2")}
        names = list(feeds) if step.feed == "all" else [step.feed]
        for name in names:
            await asyncio.to_thread(self.rt.store.set_cursor, *feeds[name])
        return f"{', '.join(names)} feed offset rewound to the start"

    async def resolve_exception(self, ctx: Any, step: Any) -> str:
        if step.fix == "accept_milestone" and step.milestone:
            from .scenario import AcceptMilestone
            from .steps import accept_milestone

            await accept_milestone(ctx, AcceptMilestone(engagement=step.engagement, milestone=step.milestone))
        fixed = []
        if step.fix == "correct_rate":
            # billing-ops: the rate card's rate applies (an approved PSA entry is locked; the decision is the core's)
            names = [step.engagement] if step.engagement else list(ctx.engagements)
            for name in names:
                eid = self.engagement_id(ctx.engagements[name])
                for b in await asyncio.to_thread(self.rt.rate_mismatches, eid):
                    await asyncio.to_thread(self.rt.correct_rate, eid, b["source_id"], actor="billing-ops",
                                            reason=f"scenario {self.scenario.name}: contract rate card applies")
                    fixed.append(f"{b['source_id']} {b['psa_rate']}->{b['rate']}")
        items = await asyncio.to_thread(self.rt.exceptions)
        if step.code:
            items = [i for i in items if i.code == step.code]
        if step.engagement:
            items = [i for i in items if self._concerns(ctx, i, step.engagement)]
        if len(items) < step.expect_at_least:
            raise ExpectationFailed(f"expected at least {step.expect_at_least} open exception(s), found {len(items)}")
        for i in items:
            await self.rt.retry_exception(i.id, reason=f"scenario {self.scenario.name}")
        await self.rt.drain()
        left = len(await asyncio.to_thread(self.rt.exceptions))
        return (f"corrected {', '.join(fixed)}; " if fixed else "") + \
            f"retried {len(items)} exception(s), {left} open"

    async def dispute_invoice(self, ctx: Any, step: Any, entry_ids: list[str]) -> str:
        """Billing-ops credits the engagement's (last) invoice of the period and re-invoices the rest."""
        eid = self.engagement_id(ctx.engagements[step.engagement])
        posted = [r for r in await asyncio.to_thread(self.rt.store.runs, eid)
                  if r["status"] == "posted" and r["period"] == step.period]
        if not posted:
            raise ExpectationFailed(f"engagement {step.engagement} has no invoice for {step.period} to dispute")
        out = await asyncio.to_thread(self.rt.correct_invoice, eid, posted[-1]["invoice_id"], written_off=entry_ids,
                                      on=ctx.now.date(), actor="billing-ops",
                                      reason=f"scenario {self.scenario.name}: {step.reason}")
        return (f"{out['invoice_id']} credited ({out['credit_memo_id']}, {out['credited']} {out['currency']}), "
                f"re-invoiced as {out['reinvoice_id']} ({out['reinvoice_gross']}); {len(entry_ids)} entries "
                "written off")

    async def close_period(self, ctx: Any, step: Any) -> str:
        path = await asyncio.to_thread(self.rt.close_period, step.period_end.isoformat()[:7],
                                       self.workdir / "exports")
        rows = path.read_text(encoding="utf-8").count("\n") - 1
        return f"revenue inputs for {rows} fixed-fee engagement(s): {path.name}"

    async def revenue_schedule(self, ctx: Any) -> list[dict[str, str]]:
        import csv

        out: list[dict[str, str]] = []
        for path in sorted((self.workdir / "exports").glob("revenue-*.csv")):
            with path.open(encoding="utf-8", newline="") as f:
                out.extend(csv.DictReader(f))
        return out

    def _concerns(self, ctx: Any, item: Any, engagement: str) -> bool:
        """An exception item is about an engagement when its message or payload names the engagement id or the
        engagement's PSA workspace."""
        refs = ctx.engagements[engagement]
        eid = self.engagement_id(refs)
        payload = item.payload if isinstance(item.payload, dict) else {}
        inner = payload.get("payload", payload) if isinstance(payload, dict) else {}
        cur = (inner.get("current_payload") or {}) if isinstance(inner, dict) else {}
        ws = str(cur.get("workspace_id") or inner.get("workspace_id") or "") if isinstance(inner, dict) else ""
        return eid in (item.message or "") or eid in json.dumps(payload, default=str) or \
            (bool(ws) and ws == str(refs.workspace))

    async def sign_change_order(self, ctx: Any, refs: Any, step: Any) -> str:
        v = ctx.vendors
        due = max((m.due for m in step.milestones), default=refs.spec.end)
        qid = (await v.sf("POST", "/sobjects/SBQQ__Quote__c/", {
            "SBQQ__Opportunity2__c": refs.sf_opportunity, "SBQQ__Account__c": refs.sf_account,
            "SBQQ__Primary__c": False, "SBQQ__Type__c": "Amendment", "SBQQ__Status__c": "Draft",
            "SBQQ__EndDate__c": due.isoformat(), "SBQQ__NetAmount__c": float(step.value_delta),
            "CurrencyIsoCode": refs.spec.currency}))["id"]
        await v.sf("PATCH", f"/sobjects/SBQQ__Quote__c/{qid}", {"SBQQ__Status__c": "Accepted"})
        for m in step.milestones:  # the flow names the change order's milestone "Change order <n>"
            refs.psa_milestones.pop(m.id, None)
            refs.milestones[m.id] = refs.milestones[m.id].model_copy(update={"name": f"Change order {step.number}"})
        return f"amendment quote {qid} accepted (+{step.value_delta})"

    async def receive_payment(self, ctx: Any, step: Any) -> str:
        """Accounts receivable records the client's payment in NetSuite, applied to the engagement's open invoices."""
        refs = ctx.engagements[step.engagement]
        job = await ctx.vendors.ns("GET", f"/job/eid:Q2C-ENGAGEMENT-{self.engagement_id(refs).upper()}")
        job_id = str(job.json()["id"])
        rows = await ctx.vendors.suiteql(f"SELECT id, entity, amountremaining FROM invoice WHERE job = {job_id} "
                                         "ORDER BY id")
        open_ = [(r["id"], Decimal(str(r.get("amountremaining") or 0)), r["entity"]) for r in rows
                 if Decimal(str(r.get("amountremaining") or 0)) > 0]
        if not open_:
            raise ExpectationFailed(f"engagement {step.engagement} has no open invoice in NetSuite to pay")
        amount = sum((o[1] for o in open_), Decimal(0)) if step.amount == "full" else Decimal(step.amount)
        left, apply = amount, []
        for rid, remaining, _ in open_:
            take = min(left, remaining)
            if take > 0:
                apply.append({"doc": {"id": str(rid)}, "amount": str(take)})
                left -= take
        day = (step.day or ctx.now.date()).isoformat()
        pid = await ctx.vendors.ns_create("customerPayment", {"customer": {"id": str(open_[0][2])},
                                                              "payment": str(amount), "tranDate": day,
                                                              "apply": {"items": apply}})
        return f"payment {pid} of {amount} applied to {len(apply)} invoice(s)"

    # ---- reads --------------------------------------------------------------------------------------------------
    async def crm_status(self, ctx: Any, refs: Any) -> dict[str, Any]:
        rows = await ctx.vendors.sf_query(
            "SELECT Id, StageName, Invoice_Status__c, Invoice_Number__c, Amount_Invoiced__c, Amount_Paid__c, "
            f"PSA_Workspace_Id__c FROM Opportunity WHERE Id = '{refs.sf_opportunity}'")
        return rows[0] if rows else {}

    async def exceptions(self) -> list[dict[str, Any]]:
        if self.rt is None:
            return []
        items = await asyncio.to_thread(self.rt.exceptions, status=None)
        return [{"id": i.id, "lot": i.lot, "status": i.status, "error": f"{i.error_class} {i.code}: {i.message}",
                 "correlation_id": i.correlation_id, "owner": i.owner} for i in items]

    async def timeline(self) -> dict[str, list[dict[str, Any]]]:
        if self.rt is None:
            return {}
        out: dict[str, list[dict[str, Any]]] = {}
        for r in await asyncio.to_thread(self.rt.engine.audit.recent, 100_000):
            cid = r.correlation_id or "(none)"
            what = r.operation or r.rule or r.kind
            out.setdefault(cid, []).append({"at": r.at, "system": r.system or "q2c", "what": what,
                                            "ref": json.dumps(r.inputs, default=str)[:300],
                                            "outcome": json.dumps(r.outcome, default=str)[:200]})
        for events in out.values():
            events.sort(key=lambda e: e["at"])
        return out

    async def kpis(self) -> dict[str, Any]:
        if self.rt is None:
            return {}
        counts = await asyncio.to_thread(self.rt.engine.exceptions.counts)
        return {"exception_queue": counts}

    async def integration_results(self, ctx: Any) -> list[InvariantResult]:
        audit = Tally("14.audit_chain")
        records = await asyncio.to_thread(self.rt.engine.audit.recent, 1_000_000)
        problems = await asyncio.to_thread(self.rt.engine.audit.verify_chain)
        audit.checked = len(records) - len(problems)
        for p in problems:
            audit.fail(f"audit record {p.get('seq')}: {p.get('problem')}", "an intact hash chain", p, str(p.get("seq")))
        return [result_of(audit), result_of(await self._exactly_once(ctx))]

    async def _exactly_once(self, ctx: Any) -> Tally:
        """Each PSA event (the payload the PSA delivered, by its id) became one piece of work in the core, however
        often it was delivered."""
        t = Tally("14.exactly_once")
        taken: dict[str, list[str]] = {}
        for e in await asyncio.to_thread(self.rt.engine.inbox.list, limit=1_000_000):
            if e.source == "psa" and isinstance(e.payload, dict) and "id" in e.payload:
                taken.setdefault(str(e.payload["id"]), []).append(e.key)
        for event_id, keys in sorted(taken.items()):
            t.same(1, len(keys), f"PSA event {event_id} was taken in {len(keys)} times ({', '.join(keys)})",
                   event_id, *keys)
        return t

    async def clock_moved(self, instant: datetime) -> None:
        """NetSuite access tokens live on the virtual clock: the core gets a fresh one, as its token job would."""
        self._now = instant
        if self.rt is None:
            return
        token = await self._vendors.mint_netsuite_token()
        self.rt.vendors.ns.auth.token = token
