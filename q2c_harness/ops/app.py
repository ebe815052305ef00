"""The ops API: ``create_ops_app(engine) -> FastAPI``. Bearer-token protected (``Q2C_OPS_TOKEN``) except
``/health``. Every status a route can return is declared in its OpenAPI."""


import asyncio
import os
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from q2c_harness.engine.db import NotFound
from q2c_harness.engine.durable import WorkflowNotFound
from q2c_harness.engine.exception_queue import InvalidAction
from q2c_harness.engine.facade import Engine

from .calls import VendorCallLog
from .kpis import compute_kpis, held_billing_runs, kpi_history
from .metrics import OpsMetrics
from .simulators import SimulatorStatus, Target
from .trace import build_trace
from .identity import Identities
from .search import search
from .models import (NO_NUL, AssignRequest, AuditVerifyOut, BulkReplayByIds, BulkReplayOut, BulkReplayRequest, CloseRequest, EventOut,
                     ExceptionItemOut, HealthOut, InboxEventOut, InboxStatus, ItemStatus, KpiHistoryOut, Lot, Name, Problem,
                     ReplayEvent, ReplayOut, ReplayRequest, RetryRequest, SearchHit, SimulatorOut, TraceOut, TransactionOut)

KPI_EVENT_LIMIT = 100_000

_401 = {401: {"model": Problem, "description": "Missing or wrong bearer token"}}
_422 = {422: {"model": Problem, "description": "Invalid parameters or body"}}
_400 = {400: {"model": Problem, "description": "Body is not valid JSON"}}
_404 = {404: {"model": Problem, "description": "Not found"}}
_409 = {409: {"model": Problem, "description": "Action not allowed in the item's current status"}}


def create_ops_app(engine: Engine, *, token: str | None = None, identities: Identities | None = None,
                   call_log: VendorCallLog | None = None,
                   simulators: Mapping[str, Target] | SimulatorStatus | None = None,
                   dashboard: bool = True,
                   gateway_webhook: Callable[[bytes, Mapping[str, str]], int] | None = None) -> FastAPI:
    """``token``: the shared service token; ``identities``: per-user tokens and JWT verification (default: from the
    environment, ops/identity.py). ``call_log``: the vendor call log the trace view reads (``ops.calls.attach_call_log``); ``simulators``: the
    simulators whose admin status ``GET /simulators`` proxies (default: ``Q2C_OPS_SIMULATORS``); ``dashboard``:
    serve the web dashboard at ``/dashboard`` (docs/dashboard.md); ``gateway_webhook``: the payment gateway's pushed
    events at ``POST /webhooks/payments`` (authenticated by their ``Stripe-Signature``, not the bearer token)."""
    ids = identities or Identities.from_env(token)
    if token and ids.service_token is None:
        ids = Identities(token, ids.users, ids.jwt)
    if not ids.configured:
        raise RuntimeError("the ops API needs a bearer credential: pass token= or set Q2C_OPS_TOKEN "
                           "(or Q2C_OPS_USERS / Q2C_OPS_JWT_KEY)")
    app = FastAPI(title="q2c ops API", version="1.0.0", dependencies=[Depends(_no_unknown_query_parameters)],
                  description="Transactions, exception queue, replay, event log, KPIs, audit verification, metrics.")
    metrics = OpsMetrics(engine)
    calls = call_log if call_log is not None else VendorCallLog(engine)
    sims = simulators if isinstance(simulators, SimulatorStatus) else (
        SimulatorStatus(simulators) if simulators is not None else SimulatorStatus.from_env())
    bearer = HTTPBearer(auto_error=False)

    def authorized(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        actor = ids.actor(creds.credentials) if creds is not None and creds.scheme.lower() == "bearer" else None
        if actor is None:
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
        return actor

    auth = [Depends(authorized)]
    Actor = Annotated[str, Depends(authorized)]

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        metrics.latency.labels(path).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"detail": "body is not valid JSON"}, status_code=400)
        return JSONResponse({"detail": jsonable_errors(errors)}, status_code=422)

    if gateway_webhook is not None:
        hook = gateway_webhook

        @app.post("/webhooks/payments", tags=["intake"], responses={
            400: {"model": Problem, "description": "Signature missing, wrong or outside the replay window"}})
        async def payments_webhook(request: Request) -> Any:
            """A gateway event (Stripe-style). 2xx once it is in the inbox; anything else and the gateway retries."""
            from q2c_harness.errors import AuthError

            body = await request.body()
            try:
                taken = await asyncio.to_thread(hook, body, dict(request.headers))
            except AuthError as exc:
                return JSONResponse({"detail": str(exc)}, status_code=400)
            except ValueError:
                return JSONResponse({"detail": "body is not a JSON event"}, status_code=400)
            return {"received": True, "taken": taken}

    @app.get("/health", response_model=HealthOut, tags=["ops"],
             responses={503: {"model": Problem, "description": "Database unreachable"}, **_422})
    def health() -> Any:
        try:
            with engine.db.tx() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001
            return JSONResponse({"detail": f"database unreachable: {type(exc).__name__}"}, status_code=503)
        return {"status": "ok", "database": "ok"}

    @app.get("/transactions/{correlation_id}", response_model=TransactionOut, dependencies=auth,
             tags=["transactions"], responses={**_401, **_404, **_422})
    def transaction(correlation_id: Annotated[str, Path(min_length=1, max_length=100, pattern=NO_NUL)]) -> Any:
        tx = engine.transaction(correlation_id)
        if not tx["timeline"] and not tx["effects"]:
            raise HTTPException(404, f"nothing recorded under correlation id {correlation_id!r}")
        return tx

    @app.get("/transactions/{correlation_id}/trace", response_model=TraceOut, dependencies=auth,
             tags=["transactions"], responses={**_401, **_404, **_422})
    def trace(correlation_id: Annotated[str, Path(min_length=1, max_length=100, pattern=NO_NUL)], linked: bool = True) -> Any:
        """Every vendor call (with retries), write, decision, event and exception action under the correlation id
        and, with ``linked``, under the runs linked to it by engagement or billed source: time order, grouped by
        system (CRM, PSA, ERP, core), each placed in a Q2C stage."""
        out = build_trace(engine, correlation_id, calls, linked=linked)
        if not out["entries"]:
            raise HTTPException(404, f"nothing recorded under correlation id {correlation_id!r}")
        return out

    @app.get("/transactions", response_model=list[InboxEventOut], dependencies=auth, tags=["transactions"],
             responses={**_401, **_422})
    def transactions(status: InboxStatus | None = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Any:
        return engine.transactions(status=status, limit=limit)

    @app.get("/exceptions", response_model=list[ExceptionItemOut], dependencies=auth, tags=["exceptions"],
             responses={**_401, **_422})
    def list_exceptions(lot: Lot | None = None, status: ItemStatus | None = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                        offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> Any:
        return [i.to_dict() for i in engine.exceptions.list(lot=lot, status=status, limit=limit, offset=offset)]

    @app.post("/exceptions/replay", response_model=BulkReplayOut, dependencies=auth, tags=["exceptions"],
              responses={**_400, **_401, **_422})
    def bulk_replay(body: BulkReplayRequest, actor: Actor) -> Any:
        if isinstance(body, BulkReplayByIds):
            return engine.exceptions.bulk_replay(ids=body.ids, actor=actor, reason=body.reason)
        return engine.exceptions.bulk_replay(lot=body.lot, actor=actor, reason=body.reason)

    @app.get("/exceptions/{item_id:int}", response_model=ExceptionItemOut, dependencies=auth, tags=["exceptions"],
             responses={**_401, **_404, **_422})
    def get_exception(item_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Any:
        return _call(lambda: engine.exceptions.get(item_id).to_dict())

    @app.post("/exceptions/{item_id:int}/retry", response_model=ExceptionItemOut, dependencies=auth,
              tags=["exceptions"], responses={**_400, **_401, **_404, **_409, **_422})
    def retry(item_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: RetryRequest, actor: Actor) -> Any:
        return _call(lambda: engine.exceptions.retry(item_id, actor=actor, reason=body.reason).to_dict())

    @app.post("/exceptions/{item_id:int}/resolve", response_model=ExceptionItemOut, dependencies=auth,
              tags=["exceptions"], responses={**_400, **_401, **_404, **_409, **_422})
    def resolve(item_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: CloseRequest, actor: Actor) -> Any:
        return _call(lambda: engine.exceptions.resolve(item_id, reason=body.reason, actor=actor,
                                                       owner=body.owner).to_dict())

    @app.post("/exceptions/{item_id:int}/ignore", response_model=ExceptionItemOut, dependencies=auth,
              tags=["exceptions"], responses={**_400, **_401, **_404, **_409, **_422})
    def ignore(item_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: CloseRequest, actor: Actor) -> Any:
        return _call(lambda: engine.exceptions.ignore(item_id, reason=body.reason, actor=actor,
                                                      owner=body.owner).to_dict())

    @app.post("/exceptions/{item_id:int}/assign", response_model=ExceptionItemOut, dependencies=auth,
              tags=["exceptions"], responses={**_400, **_401, **_404, **_409, **_422})
    def assign(item_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: AssignRequest, actor: Actor) -> Any:
        """Make ``owner`` the person who must act on the item; the caller is recorded as who assigned it."""
        return _call(lambda: engine.exceptions.assign(item_id, owner=body.owner, actor=actor,
                                                      reason=body.reason).to_dict())

    @app.get("/search", response_model=list[SearchHit], dependencies=auth, tags=["transactions"],
             responses={**_401, **_422})
    def find(q: Annotated[str, Query(min_length=1, max_length=300, pattern=NO_NUL)]) -> Any:
        """Any id in hand (a vendor record id or invoice number, a canonical id, an inbound event id, a correlation
        id): what it is, and the correlation ids whose trace shows it."""
        return search(engine, q.strip() or q)

    @app.get("/me", dependencies=auth, tags=["ops"], responses={**_401, **_422})
    def me(actor: Actor) -> dict[str, str]:
        """The name the caller's actions are recorded under."""
        return {"actor": actor}

    @app.post("/replay", response_model=ReplayOut, status_code=202, dependencies=auth, tags=["replay"],
              responses={**_400, **_401, **_404, **_422})
    def replay(body: ReplayRequest) -> Any:
        if isinstance(body, ReplayEvent):
            return {"workflow_id": _call(lambda: engine.replay_event(body.inbox_key))}
        return {"workflow_id": _call(lambda: engine.replay_workflow(body.workflow_id))}

    @app.get("/events", response_model=list[EventOut], dependencies=auth, tags=["events"],
             responses={**_401, **_422})
    def read_events(from_offset: Annotated[int, Query(ge=0, le=2**53)] = 0,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    type: Annotated[list[Name], Query(max_length=20)] = []) -> Any:  # noqa: B006 (FastAPI copies defaults)
        return [e.to_dict() for e in engine.events.read(from_offset, limit=limit, types=type or None)]

    @app.get("/kpis", dependencies=auth, tags=["kpis"], responses={**_401, **_422},
             response_model=dict[str, Any])
    def kpis() -> Any:
        return compute_kpis(engine.events.read(0, limit=KPI_EVENT_LIMIT),
                            held_runs=held_billing_runs(engine.exceptions.list(limit=KPI_EVENT_LIMIT)))

    @app.get("/kpis/history", dependencies=auth, tags=["kpis"], responses={**_401, **_422},
             response_model=KpiHistoryOut)
    def kpis_history(bucket: Literal["hour", "day"] = "hour",
                     limit: Annotated[int, Query(ge=1, le=500)] = 48) -> Any:
        """The KPIs as of the end of each of the last ``limit`` hour/day buckets (running values)."""
        return kpi_history(engine.events.read(0, limit=KPI_EVENT_LIMIT), bucket, limit,
                           held=engine.exceptions.list(limit=KPI_EVENT_LIMIT))

    @app.get("/simulators", response_model=list[SimulatorOut], dependencies=auth, tags=["simulators"],
             responses={**_401, **_422})
    async def simulator_status() -> Any:
        """Each configured simulator's health, quotas (with use) and active fault rules, read from its admin API."""
        return await sims.all()

    @app.get("/audit/verify", response_model=AuditVerifyOut, dependencies=auth, tags=["audit"],
             responses={**_401, **_422})
    def verify() -> Any:
        problems = engine.audit.verify_chain()
        return {"ok": not problems, "problems": problems}

    @app.get("/metrics", dependencies=auth, tags=["ops"],
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text format"}, **_401, **_422})
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if dashboard:
        from .dashboard import mount_dashboard

        mount_dashboard(app)
    from q2c_harness.telemetry import instrument_ops_app

    instrument_ops_app(app)
    return app


def _no_unknown_query_parameters(request: Request) -> None:
    """Strict requests: a query parameter the route does not declare is a 422, not silently ignored."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = {p.alias for p in dependant.query_params}
    extra = sorted(set(request.query_params) - allowed)
    if extra:
        raise HTTPException(422, [{"type": "extra_forbidden", "loc": ["query", name], "msg": "unknown parameter"}
                                  for name in extra])


def _call(fn: Any) -> Any:
    try:
        return fn()
    except (NotFound, WorkflowNotFound) as exc:
        raise HTTPException(404, str(exc)) from exc
    except InvalidAction as exc:
        raise HTTPException(409, exc.message) from exc


def jsonable_errors(errors: Any) -> Any:
    out = []
    for e in errors:
        out.append({k: (v if isinstance(v, (str, int, float, list, type(None))) else str(v))
                    for k, v in e.items() if k in ("type", "loc", "msg", "input")})
    return out
