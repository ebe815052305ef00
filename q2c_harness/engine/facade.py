"""``Engine``: the one object flows and the ops API hold. One database URL, every engine table, one runner.

The path of an inbound event: ``handle`` accepts it into the inbox (dedupe on source + event id) and starts the
registered workflow under the id derived from the inbox key; the workflow wrapper (``Engine.workflow``) sets the
correlation id, marks the inbox row processing/done/failed and, when the workflow raises, parks the message in the
exception queue lot its error class names. Inside the workflow, flows call steps (``Engine.step``: retry policy
per class), external writes through ``effect`` (idempotency key + ledger + audit), decisions through ``decide``
(audit), business events through ``publish`` (event log), and multi-system steps through ``sagas``.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from q2c_harness.errors import IntegrationError

from q2c_harness import correlation
from .audit import AuditLog, AuditRecord
from .compensation import SagaLog
from .db import DEFAULT_URL, Database, NotFound, utcnow
from .durable import DEFAULT_QUEUE, DbosRunner, DurableRunner, InlineRunner, WorkflowNotFound
from .events import EventLog
from .exception_queue import ExceptionItem, ExceptionQueue, lot_for
from .idempotency import Effect, EffectLedger
from .inbox import Inbox, InboxEvent, workflow_id_for
from q2c_harness.retry import STEP, RetryPolicy
from .xref import CrossReference

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
WORKFLOW_HANDLER = "workflow"
RETRY_TIMEOUT_SEC = 60.0


@dataclass(frozen=True)
class Handled:
    accepted: bool  # False: a duplicate of an event already in the inbox
    workflow_id: str
    correlation_id: str


class Engine:
    def __init__(self, url: str = DEFAULT_URL, *, runner: DurableRunner | None = None,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.url = url
        self.db = Database(url, clock=clock)
        self.audit = AuditLog(self.db)
        self.inbox = Inbox(self.db)
        self.xref = CrossReference(self.db)
        self.ledger = EffectLedger(self.db, self.audit)
        self.exceptions = ExceptionQueue(self.db)
        self.events = EventLog(self.db)
        self.sagas = SagaLog(self.db)
        self.runner: DurableRunner = runner if runner is not None else InlineRunner()
        self.exceptions.register_handler(WORKFLOW_HANDLER, self._retry_parked_workflow)
        self._park_step = self.runner.step("q2c.engine.park")(self._park)

    @classmethod
    def durable(cls, url: str | None = None, **runner_kwargs: Any) -> "Engine":
        """An Engine on DBOS (call ``launch()`` after registering workflows). URL: arg, ``Q2C_DATABASE_URL``,
        or the SQLite default."""
        url = url or os.environ.get("Q2C_DATABASE_URL", DEFAULT_URL)
        return cls(url, runner=DbosRunner(url, **runner_kwargs))

    def launch(self) -> None:
        self.runner.launch()

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.db.dispose()

    # registration ---------------------------------------------------------------------------------
    def workflow(self, name: str) -> Callable[[Callable[[dict[str, Any]], Any]], Callable[[dict[str, Any]], Any]]:
        """Register an event workflow ``fn(message) -> result``; ``message`` is ``InboxEvent.as_message()``.
        Errors are parked (lot by error class) and the workflow returns ``{"status": "parked", ...}``."""
        def deco(fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
            @functools.wraps(fn)
            def run(message: dict[str, Any]) -> Any:
                with correlation.use(message.get("correlation_id")):
                    source, event_id = message.get("source"), message.get("event_id")
                    if source and event_id:
                        self.inbox.mark_processing(source, event_id)
                    try:
                        result = fn(message)
                    except Exception as exc:  # noqa: BLE001 - every failure lands somewhere a person sees it
                        if source and event_id:
                            self.inbox.mark_failed(source, event_id, _error_dict(exc))
                        if message.get("retry_of") is not None:
                            raise  # a retry from the exception queue: the queue item records the outcome
                        item_id = self._park_step(name, message, exc)
                        return {"status": "parked", "exception_id": item_id, "lot": lot_for(exc),
                                "error": _error_dict(exc)}
                    if source and event_id:
                        self.inbox.mark_done(source, event_id)
                    return result
            return self.runner.workflow(name)(run)
        return deco

    def step(self, name: str | None = None, *, retry: RetryPolicy = STEP) -> Callable[[F], F]:
        """A checkpointed step under the step retry budget (q2c_harness/retry.py)."""
        return self.runner.step(name, retry=retry)

    def _park(self, workflow_name: str, message: dict[str, Any], exc: BaseException) -> int:
        item = self.exceptions.park(exc, {"workflow": workflow_name, "message": message},
                                    correlation_id=message.get("correlation_id"), handler=WORKFLOW_HANDLER,
                                    source_key=message.get("workflow_id"), owner=getattr(exc, "owner", None))
        self.audit.record_decision(rule="engine.park", inputs={"workflow": workflow_name,
                                                              "workflow_id": message.get("workflow_id")},
                                   outcome={"exception_id": item, "lot": lot_for(exc), "error": _error_dict(exc)})
        return item

    # inbound ------------------------------------------------------------------------------------------
    def handle(self, source: str, event_id: str, event_type: str, payload: Any, *, workflow: str,
               correlation_id: str | None = None, queue: str | None = None) -> Handled:
        """Accept an inbound event and start its workflow (id derived from the inbox key, so once).
        A duplicate still (re)starts the same workflow id: that covers a crash between accept and start."""
        cid = correlation_id or correlation.current() or correlation.new_correlation_id()
        accepted = self.inbox.accept(source, event_id, event_type, payload, cid, workflow_name=workflow)
        ev = self.inbox.get(source, event_id)
        if queue is None:
            self.runner.start(workflow, ev.workflow_id, ev.as_message())
        else:
            self.runner.enqueue(workflow, ev.workflow_id, ev.as_message(), queue=queue)
        return Handled(accepted, ev.workflow_id, ev.correlation_id)

    def replay_event(self, inbox_key: str) -> str:
        """Run an inbox event's workflow again under a new id; effects dedupe through the ledger."""
        ev = self.inbox.get_by_key(inbox_key)
        if not ev.workflow_name:
            raise NotFound(f"inbox event {inbox_key} has no workflow recorded")
        new_id = self._fresh_id(f"{ev.workflow_id}:replay")
        self.runner.start(ev.workflow_name, new_id, ev.as_message())
        return new_id

    def replay_workflow(self, workflow_id: str) -> str:
        """Fork a workflow from its first step under a new id (effects dedupe through the ledger)."""
        if self.runner.status(workflow_id) is None:
            raise WorkflowNotFound(workflow_id)
        return self.runner.fork(workflow_id, 0)

    def _fresh_id(self, prefix: str) -> str:
        n = 1
        while self.runner.status(f"{prefix}:{n}") is not None:
            n += 1
        return f"{prefix}:{n}"

    def _retry_parked_workflow(self, payload: Any, item: ExceptionItem) -> Any:
        workflow_name, message = payload["workflow"], dict(payload["message"])
        message["retry_of"] = item.id
        wid = self._fresh_id(f"{message.get('workflow_id') or workflow_name}:retry")
        self.runner.start(workflow_name, wid, message)
        return self.runner.result(wid, timeout=RETRY_TIMEOUT_SEC)

    # inside workflows -------------------------------------------------------------------------------
    def effect(self, key: str, *, system: str, operation: str, request: Any, call: Callable[[str], T],
               lookup: Callable[[str], T | None] | None = None,
               result_ref: Callable[[T], str | None] | None = None) -> Effect[T]:
        """An external write, at most once per idempotency key (see ``idempotency.EffectLedger.run_once``)."""
        return self.ledger.run_once(key, system=system, operation=operation, request=request, call=call,
                                    lookup=lookup, result_ref=result_ref)

    def decide(self, rule: str, inputs: Any, outcome: Any, *, system: str | None = None) -> AuditRecord:
        """Record a decision (which rule, which inputs, which outcome) in the audit log."""
        return self.audit.record_decision(rule=rule, inputs=inputs, outcome=outcome, system=system)

    def publish(self, type: str, payload: Any, *, key: str | None = None, occurred_at: Any = None) -> int:
        """Publish a business event (idempotent on ``key``); returns its offset."""
        return self.events.publish(type, payload, key=key, occurred_at=occurred_at)[0]

    # reading -----------------------------------------------------------------------------------------
    def transaction(self, correlation_id: str) -> dict[str, Any]:
        """Everything known under one correlation id, plus a merged timeline in time order."""
        inbox = [e.to_dict() for e in self.inbox.list(correlation_id=correlation_id, limit=1000)]
        audit = [r.to_dict() for r in self.audit.for_correlation(correlation_id)]
        items = [i.to_dict() for i in self.exceptions.list(correlation_id=correlation_id, limit=1000)]
        evs = [e.to_dict() for e in self.events.read(0, limit=1000, correlation_id=correlation_id)]
        effects = self.ledger.list(correlation_id=correlation_id, limit=1000)
        timeline: list[dict[str, Any]] = []
        for e in inbox:
            timeline.append({"at": e["received_at"], "kind": "inbox", "summary":
                             f"{e['source']} {e['event_type']} {e['event_id']} ({e['status']})",
                             "ref": e["inbox_key"]})
        for r in audit:
            what = f"{r['system']} {r['operation']} -> {r['outcome']}" if r["kind"] == "write" else \
                f"rule {r['rule']} -> {r['outcome']}"
            timeline.append({"at": r["at"], "kind": f"audit.{r['kind']}", "summary": what, "ref": str(r["seq"])})
        for i in items:
            for h in i["history"]:
                timeline.append({"at": h["at"], "kind": "exception", "summary":
                                 f"#{i['id']} {i['lot']} {h['action']}: {h['reason'] or ''}".strip(),
                                 "ref": str(i["id"])})
        for e in evs:
            timeline.append({"at": e["published_at"], "kind": "event", "summary": e["type"],
                             "ref": str(e["offset"])})
        timeline.sort(key=lambda t: (t["at"], t["kind"]))
        return {"correlation_id": correlation_id, "timeline": timeline, "inbox": inbox, "audit": audit,
                "exceptions": items, "events": evs, "effects": effects}

    def transactions(self, *, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Recent inbound transactions (inbox events), newest first."""
        return [e.to_dict() for e in self.inbox.list(status=status, limit=limit)]

    def inbox_event(self, inbox_key: str) -> InboxEvent:
        return self.inbox.get_by_key(inbox_key)

    @property
    def default_queue(self) -> str:
        return DEFAULT_QUEUE


def _error_dict(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, IntegrationError):
        return exc.to_dict()
    return {"error_class": type(exc).__name__, "message": str(exc)}
