"""The durable-execution port, and its DBOS Transact 3.4 adapter. Every DBOS detail stays in this module.

``DurableRunner`` is what flows and the Engine use: register workflows and steps (before ``launch``), start or
enqueue a workflow under an id (the id is the idempotency key: starting the same id twice runs it once), read
its status and result, recover pending workflows after a crash, fork/replay one.

Steps get OUR retry policy (q2c_harness/retry.py: the step budget; a transient error its vendor call already
retried is not retried again; BusinessError never); DBOS's own step retries stay off so there is one policy, not two.
A step is checkpointed when it returns: a crash inside a step re-runs that step on recovery, which is why every
external write inside a step goes through the effect ledger (``idempotency.py``).

Two implementations:
- ``DbosRunner``: DBOS Transact. SQLite system database beside our SQLite file (``x.sqlite`` -> ``x.dbos.sqlite``:
  separate files avoid two writers contending for one SQLite lock); on PostgreSQL, the same database (DBOS keeps
  its tables in the ``dbos`` schema). DBOS is process-global: one ``DbosRunner`` per process.
- ``InlineRunner``: runs workflows synchronously in the caller's thread, no durability. For unit tests of flows
  and for the ops API tests.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from q2c_harness.retry import STEP, RetryPolicy, call_with_retry

F = TypeVar("F", bound=Callable[..., Any])

PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED = "pending", "enqueued", "success", "error", "cancelled"
TERMINAL = (SUCCESS, ERROR, CANCELLED)
DEFAULT_QUEUE = "q2c"


@dataclass(frozen=True)
class WorkflowInfo:
    workflow_id: str
    name: str
    status: str  # pending / enqueued / success / error / cancelled
    error: str | None
    created_at: str | None
    updated_at: str | None
    queue: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class WorkflowNotFound(LookupError):
    pass


class WorkflowTimeout(TimeoutError):
    pass


@runtime_checkable
class DurableRunner(Protocol):
    def workflow(self, name: str | None = None) -> Callable[[F], F]: ...
    def step(self, name: str | None = None, *, retry: RetryPolicy = STEP) -> Callable[[F], F]: ...
    def register_queue(self, name: str, *, worker_concurrency: int | None = None,
                       limit_per_period: tuple[int, float] | None = None) -> None: ...
    def launch(self) -> None: ...
    def start(self, workflow: Callable[..., Any] | str, workflow_id: str, *args: Any, **kwargs: Any) -> str: ...
    def enqueue(self, workflow: Callable[..., Any] | str, workflow_id: str, *args: Any,
                queue: str = DEFAULT_QUEUE, **kwargs: Any) -> str: ...
    def status(self, workflow_id: str) -> WorkflowInfo | None: ...
    def result(self, workflow_id: str, timeout: float | None = None) -> Any: ...
    def list(self, *, status: str | Sequence[str] | None = None, limit: int = 100) -> list[WorkflowInfo]: ...
    def steps(self, workflow_id: str) -> list[dict[str, Any]]: ...
    def recover(self) -> list[str]: ...
    def fork(self, workflow_id: str, from_step: int = 0) -> str: ...
    def shutdown(self) -> None: ...


def _retrying(fn: F, retry: RetryPolicy) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return call_with_retry(lambda: fn(*args, **kwargs), retry)
    return wrapper  # type: ignore[return-value]


def dbos_system_url(url: str) -> str:
    """Where DBOS keeps its system tables for one of our database URLs."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        stem = path[:-len(".sqlite")] if path.endswith(".sqlite") else path
        return f"sqlite:///{stem}.dbos.sqlite"
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


class DbosRunner:
    """``DurableRunner`` on DBOS Transact 3.4."""

    _instance_lock = threading.Lock()
    _instance: "DbosRunner | None" = None

    def __init__(self, url: str, *, app_name: str = "q2c", app_version: str = "q2c-engine-1",
                 executor_id: str | None = None, polling_interval_sec: float = 0.01,
                 log_level: str = "WARNING") -> None:
        from dbos import DBOS

        with DbosRunner._instance_lock:
            if DbosRunner._instance is not None:
                raise RuntimeError("DBOS is process-global: one DbosRunner per process (shutdown() the other)")
            DbosRunner._instance = self
        self.url = url
        self.system_url = dbos_system_url(url)
        self.polling_interval_sec = polling_interval_sec
        self._workflows: dict[str, Callable[..., Any]] = {}
        self._queues: dict[str, dict[str, Any]] = {DEFAULT_QUEUE: {}}
        self._launched = False
        config: dict[str, Any] = {
            "name": app_name, "system_database_url": self.system_url, "application_version": app_version,
            "log_level": log_level, "notification_listener_polling_interval_sec": 0.05,
        }
        if executor_id:
            config["executor_id"] = executor_id
        self._dbos = DBOS(config=config)  # type: ignore[arg-type]

    # registration -------------------------------------------------------------------------------
    def workflow(self, name: str | None = None) -> Callable[[F], F]:
        from dbos import DBOS

        def deco(fn: F) -> F:
            wf_name = name or fn.__qualname__
            wrapped = DBOS.workflow(name=wf_name)(fn)
            self._workflows[wf_name] = wrapped
            return wrapped  # type: ignore[return-value]
        return deco

    def step(self, name: str | None = None, *, retry: RetryPolicy = STEP) -> Callable[[F], F]:
        from dbos import DBOS

        def deco(fn: F) -> F:
            return DBOS.step(name=name or fn.__qualname__)(_retrying(fn, retry))  # type: ignore[return-value]
        return deco

    def register_queue(self, name: str, *, worker_concurrency: int | None = None,
                       limit_per_period: tuple[int, float] | None = None) -> None:
        cfg: dict[str, Any] = {"worker_concurrency": worker_concurrency}
        if limit_per_period:
            cfg["limiter"] = {"limit": limit_per_period[0], "period": limit_per_period[1]}
        self._queues[name] = cfg
        if self._launched:
            self._register_queue(name, cfg)

    def _register_queue(self, name: str, cfg: dict[str, Any]) -> None:
        from dbos import DBOS

        DBOS.register_queue(name, polling_interval_sec=self.polling_interval_sec, on_conflict="always_update",
                            **{k: v for k, v in cfg.items() if v is not None})

    # lifecycle ----------------------------------------------------------------------------------
    def launch(self) -> None:
        """Start DBOS (recovers this executor's pending workflows), then register queues (3.x: after launch)."""
        from dbos import DBOS

        DBOS.launch()
        self._launched = True
        for name, cfg in self._queues.items():
            self._register_queue(name, cfg)

    def shutdown(self) -> None:
        from dbos import DBOS

        DBOS.destroy(destroy_registry=False)
        with DbosRunner._instance_lock:
            DbosRunner._instance = None

    # running ------------------------------------------------------------------------------------
    def _fn(self, workflow: Callable[..., Any] | str) -> Callable[..., Any]:
        if isinstance(workflow, str):
            try:
                return self._workflows[workflow]
            except KeyError:
                raise WorkflowNotFound(f"no workflow registered as {workflow!r}") from None
        return workflow

    def start(self, workflow: Callable[..., Any] | str, workflow_id: str, *args: Any, **kwargs: Any) -> str:
        from dbos import DBOS, SetWorkflowID

        with SetWorkflowID(workflow_id):
            return DBOS.start_workflow(self._fn(workflow), *args, **kwargs).workflow_id

    def enqueue(self, workflow: Callable[..., Any] | str, workflow_id: str, *args: Any,
                queue: str = DEFAULT_QUEUE, **kwargs: Any) -> str:
        from dbos import DBOS, SetWorkflowID

        q = DBOS.retrieve_queue(queue)
        if q is None:
            raise LookupError(f"queue {queue!r} is not registered (register_queue before or after launch)")
        with SetWorkflowID(workflow_id):
            return q.enqueue(self._fn(workflow), *args, **kwargs).workflow_id

    def status(self, workflow_id: str) -> WorkflowInfo | None:
        from dbos import DBOS

        st = DBOS.get_workflow_status(workflow_id)
        return _info(st) if st is not None else None

    def result(self, workflow_id: str, timeout: float | None = None) -> Any:
        from dbos import DBOS

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.status(workflow_id)
            if info is None:
                raise WorkflowNotFound(workflow_id)
            if info.status in TERMINAL:
                return DBOS.retrieve_workflow(workflow_id).get_result()
            if deadline is not None and time.monotonic() > deadline:
                raise WorkflowTimeout(f"{workflow_id} still {info.status} after {timeout}s")
            time.sleep(0.01)

    def list(self, *, status: str | Sequence[str] | None = None, limit: int = 100) -> list[WorkflowInfo]:
        """Workflows in any of the given statuses, newest first. Several statuses are read in one query: a
        workflow moving from enqueued to pending between two reads would be counted in neither."""
        from dbos import DBOS

        dbos_status = None if status is None else [d for s in _statuses(status) for d in _TO_DBOS.get(s, [s.upper()])]
        rows = DBOS.list_workflows(status=dbos_status, limit=limit, sort_desc=True, load_input=False,
                                   load_output=False)
        return [_info(r) for r in rows]

    def steps(self, workflow_id: str) -> list[dict[str, Any]]:
        from dbos import DBOS

        out = []
        for s in DBOS.list_workflow_steps(workflow_id):
            out.append({"step": s["function_id"], "name": s["function_name"],
                        "error": None if s.get("error") is None else repr(s["error"]),
                        "child_workflow_id": s.get("child_workflow_id")})
        return out

    def recover(self) -> list[str]:
        """Recover this executor's PENDING workflows (DBOS also does it at launch)."""
        from dbos import DBOS

        return [h.workflow_id for h in DBOS._recover_pending_workflows()]

    def fork(self, workflow_id: str, from_step: int = 0) -> str:
        """Re-run a workflow under a new id, reusing checkpointed outputs of steps before ``from_step``
        (0 or 1: re-run everything; effects still dedupe through the ledger)."""
        from dbos import DBOS

        return DBOS.fork_workflow(workflow_id, max(from_step, 1)).workflow_id


_FROM_DBOS = {"PENDING": PENDING, "ENQUEUED": ENQUEUED, "DELAYED": ENQUEUED, "SUCCESS": SUCCESS,
              "ERROR": ERROR, "MAX_RECOVERY_ATTEMPTS_EXCEEDED": ERROR, "CANCELLED": CANCELLED}
_TO_DBOS = {ours: [d for d, o in _FROM_DBOS.items() if o == ours] for ours in set(_FROM_DBOS.values())}


def _statuses(status: str | Sequence[str]) -> list[str]:
    return [status] if isinstance(status, str) else list(status)


def _ms_iso(ms: Any) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _info(st: Any) -> WorkflowInfo:
    err = getattr(st, "error", None)
    return WorkflowInfo(workflow_id=st.workflow_id, name=st.name, status=_FROM_DBOS.get(st.status, st.status.lower()),
                        error=None if err is None else f"{type(err).__name__}: {err}",
                        created_at=_ms_iso(getattr(st, "created_at", None)),
                        updated_at=_ms_iso(getattr(st, "updated_at", None)),
                        queue=getattr(st, "queue_name", None))


class InlineRunner:
    """``DurableRunner`` without durability: workflows run to completion inside ``start``. Same retry policy."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._workflows: dict[str, Callable[..., Any]] = {}
        self._runs: dict[str, dict[str, Any]] = {}
        self._names: dict[Callable[..., Any], str] = {}
        self._sleep = sleep
        self._lock = threading.RLock()

    def workflow(self, name: str | None = None) -> Callable[[F], F]:
        def deco(fn: F) -> F:
            wf_name = name or fn.__qualname__
            self._workflows[wf_name] = fn
            self._names[fn] = wf_name
            return fn
        return deco

    def step(self, name: str | None = None, *, retry: RetryPolicy = STEP) -> Callable[[F], F]:
        def deco(fn: F) -> F:
            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return call_with_retry(lambda: fn(*args, **kwargs), retry, sleep=self._sleep)
            return wrapper  # type: ignore[return-value]
        return deco

    def register_queue(self, name: str, *, worker_concurrency: int | None = None,
                       limit_per_period: tuple[int, float] | None = None) -> None:
        return None

    def launch(self) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def start(self, workflow: Callable[..., Any] | str, workflow_id: str, *args: Any, **kwargs: Any) -> str:
        fn = self._workflows.get(workflow) if isinstance(workflow, str) else workflow
        if fn is None:
            raise WorkflowNotFound(f"no workflow registered as {workflow!r}")
        name = workflow if isinstance(workflow, str) else self._names.get(fn, fn.__qualname__)
        with self._lock:
            if workflow_id in self._runs:
                return workflow_id
            now = _now()
            run = {"name": name, "status": PENDING, "result": None, "error": None, "created_at": now,
                   "updated_at": now, "fn": fn, "args": args, "kwargs": kwargs}
            self._runs[workflow_id] = run
        try:
            run["result"] = fn(*args, **kwargs)
            run["status"] = SUCCESS
        except Exception as exc:  # noqa: BLE001 - recorded like a durable engine would
            run["error"], run["status"] = exc, ERROR
        run["updated_at"] = _now()
        return workflow_id

    def enqueue(self, workflow: Callable[..., Any] | str, workflow_id: str, *args: Any,
                queue: str = DEFAULT_QUEUE, **kwargs: Any) -> str:
        return self.start(workflow, workflow_id, *args, **kwargs)

    def status(self, workflow_id: str) -> WorkflowInfo | None:
        run = self._runs.get(workflow_id)
        if run is None:
            return None
        err = run["error"]
        return WorkflowInfo(workflow_id, run["name"], run["status"],
                            None if err is None else f"{type(err).__name__}: {err}", run["created_at"],
                            run["updated_at"])

    def result(self, workflow_id: str, timeout: float | None = None) -> Any:
        run = self._runs.get(workflow_id)
        if run is None:
            raise WorkflowNotFound(workflow_id)
        if run["error"] is not None:
            raise run["error"]
        return run["result"]

    def list(self, *, status: str | Sequence[str] | None = None, limit: int = 100) -> list[WorkflowInfo]:
        wanted = None if status is None else set(_statuses(status))
        infos = [self.status(w) for w in reversed(list(self._runs))]
        return [i for i in infos if i is not None and (wanted is None or i.status in wanted)][:limit]

    def steps(self, workflow_id: str) -> list[dict[str, Any]]:
        if workflow_id not in self._runs:
            raise WorkflowNotFound(workflow_id)
        return []

    def recover(self) -> list[str]:
        return []

    def fork(self, workflow_id: str, from_step: int = 0) -> str:
        run = self._runs.get(workflow_id)
        if run is None:
            raise WorkflowNotFound(workflow_id)
        n = sum(1 for w in self._runs if w.startswith(f"{workflow_id}:fork:")) + 1
        return self.start(run["fn"], f"{workflow_id}:fork:{n}", *run["args"], **run["kwargs"])


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
