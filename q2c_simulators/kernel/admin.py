"""The admin API under `/__admin`, the same on every simulator, with its own OpenAPI document.

Tenants, reset, snapshot and restore, the virtual clock, the seed, fault rules and profiles, quotas, the request
journal (query, count, verify, near misses) and Prometheus metrics. Bad input gets a 4xx naming the field and
changes nothing: bodies are validated whole before anything is touched.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from fastapi import Body, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt, ValidationError

from .faults import FaultProfile, FaultRule
from .http import document_responses, install_method_not_allowed
from .journal import JournalQuery
from .matching import Instant, StrictModel
from .quotas import QuotaRule
from .store import write_json

if TYPE_CHECKING:
    from .simulator import Simulator

TENANT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
TenantId = Annotated[str, Path(pattern=TENANT_PATTERN)]


def current_simulator(request: Request) -> Any:
    """The simulator an admin request is for: a vendor's admin.py endpoints take it as
    `sim: Annotated[VendorSimulator, Depends(current_simulator)]`."""
    return request.app.state.simulator


_Strict = StrictModel


class Problem(BaseModel):
    detail: str


class TenantCreate(_Strict):
    id: str = Field(pattern=TENANT_PATTERN)


class TenantView(BaseModel):
    id: str
    records: dict[str, int]


class TenantList(BaseModel):
    tenants: list[TenantView]


class ClockView(BaseModel):
    now: datetime
    frozen: bool
    offset_seconds: float


class ClockChange(_Strict):
    """Applied in order: real (back to real time), set (an instant; frozen there with freeze=true), freeze or
    unfreeze, advance_seconds. An empty body changes nothing and returns the clock."""

    set: Instant | None = None
    freeze: bool | None = None
    advance_seconds: NonNegativeFloat | None = Field(default=None, le=10 * 365 * 86400)
    real: bool | None = None


class SeedView(_Strict):
    seed: int = Field(ge=0, le=2**31 - 1)


class FaultList(BaseModel):
    seed: int
    faults: list[dict[str, Any]]


class QuotaList(BaseModel):
    quotas: list[dict[str, Any]]


class StoreDump(_Strict):
    collections: dict[str, dict[str, dict[str, Any]]]
    sequences: dict[str, int]


class Snapshot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    simulator: str
    format: Literal[1] = 1
    taken_at: str | None = None
    tenants: dict[str, StoreDump]


class SnapshotFile(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="file name inside the simulator's snapshot directory")


class SnapshotSaved(BaseModel):
    name: str
    path: str
    tenants: int


class RestoreFromFile(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="a file saved by POST /snapshot")


class RestoreInline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    snapshot: Snapshot


Restore = RestoreFromFile | RestoreInline


class RequestList(BaseModel):
    total: int
    evicted: int
    requests: list[dict[str, Any]]


class Count(BaseModel):
    count: int
    evicted: int


class Verification(JournalQuery):
    """Expect exactly `count`, or between `at_least` and `at_most`; with none of them, at least once."""

    count: NonNegativeInt | None = None
    at_least: NonNegativeInt | None = None
    at_most: NonNegativeInt | None = None


class VerificationResult(BaseModel):
    ok: bool
    count: int
    expected: str
    evicted: int
    near_misses: list[str]


class JournalConfig(_Strict):
    capacity: PositiveInt = Field(le=10_000_000)
    body_limit: NonNegativeInt | None = Field(default=None, le=1_000_000)


class Health(BaseModel):
    simulator: str
    status: Literal["ok"]
    seed: int
    tenants: int
    clock: ClockView
    journal: dict[str, int]


_ERRORS = {404: {"model": Problem}, 409: {"model": Problem}}


def build_admin_app(sim: Simulator) -> FastAPI:
    admin = FastAPI(
        title=f"{sim.title} admin API",
        version="1.0.0",
        description="Kernel admin API shared by every q2c-harness simulator: tenants, state, clock, faults, quotas, journal.",
        docs_url="/docs",
        redoc_url=None,
    )

    def clock_view() -> ClockView:
        return ClockView(**sim.clock.state())

    def tenant_view(tid: str) -> TenantView:
        store = sim.tenants.get(tid).store
        return TenantView(id=tid, records={c: store.count(c) for c in store.collections()})

    @admin.get("/health", response_model=Health, tags=["kernel"])
    def health() -> Health:
        return Health(
            simulator=sim.name, status="ok", seed=sim.seed, tenants=len(sim.tenants.ids()), clock=clock_view(),
            journal={"total": sim.journal.total, "kept": len(sim.journal), "capacity": sim.journal.capacity},
        )

    @admin.post("/reset", status_code=204, tags=["kernel"])
    def reset_everything() -> Response:
        """Every tenant, the journal, fault rules, quota counts and changes, and the clock back to real time."""
        sim.reset()
        return Response(status_code=204)

    # ---- tenants -------------------------------------------------------------------------------------------------
    @admin.get("/tenants", response_model=TenantList, tags=["tenants"])
    def list_tenants() -> TenantList:
        return TenantList(tenants=[tenant_view(t) for t in sim.tenants.ids()])

    @admin.post("/tenants", response_model=TenantView, status_code=201, tags=["tenants"])
    def create_tenant(body: TenantCreate) -> TenantView:
        return tenant_view(body.id)

    @admin.get("/tenants/{tenant}", response_model=TenantView, responses=_ERRORS, tags=["tenants"])
    def get_tenant(tenant: TenantId) -> TenantView:
        if tenant not in sim.tenants:
            raise HTTPException(404, f"no tenant {tenant!r}")
        return tenant_view(tenant)

    @admin.post("/tenants/{tenant}/reset", response_model=TenantView, responses=_ERRORS, tags=["tenants"])
    def reset_tenant(tenant: TenantId) -> TenantView:
        if tenant not in sim.tenants:
            raise HTTPException(404, f"no tenant {tenant!r}")
        sim.tenants.reset(tenant)
        return tenant_view(tenant)

    @admin.delete("/tenants/{tenant}", status_code=204, responses=_ERRORS, tags=["tenants"])
    def delete_tenant(tenant: TenantId) -> Response:
        if not sim.tenants.delete(tenant):
            raise HTTPException(404, f"no tenant {tenant!r}")
        return Response(status_code=204)

    # ---- snapshot and restore ------------------------------------------------------------------------------------
    def take_snapshot(tenant: str | None) -> dict[str, Any]:
        tenants = sim.tenants.dump()
        if tenant is not None:
            tenants = {k: v for k, v in tenants.items() if k == tenant}
        return {"simulator": sim.name, "format": 1, "taken_at": sim.clock.now().isoformat(), "tenants": tenants}

    @admin.get("/snapshot", response_model=Snapshot, tags=["state"])
    def get_snapshot(tenant: Annotated[str | None, Query(pattern=TENANT_PATTERN)] = None) -> Any:
        return JSONResponse(take_snapshot(tenant))

    @admin.post("/snapshot", response_model=SnapshotSaved, status_code=201, tags=["state"])
    def save_snapshot(body: SnapshotFile) -> SnapshotSaved:
        data = take_snapshot(None)
        path = write_json(sim.snapshot_dir / body.name, data)
        return SnapshotSaved(name=body.name, path=str(path), tenants=len(data["tenants"]))

    @admin.post("/restore", response_model=TenantList, responses=_ERRORS, tags=["state"])
    def restore(body: Restore) -> TenantList:
        if isinstance(body, RestoreFromFile):
            path = sim.snapshot_dir / body.name
            if not path.is_file():
                raise HTTPException(404, f"no snapshot named {body.name!r} in {sim.snapshot_dir}")
            try:
                snapshot = Snapshot.model_validate_json(path.read_text())
            except ValidationError as exc:
                raise HTTPException(409, f"snapshot file {body.name!r} is not a valid snapshot: {exc.errors()[0]['msg']}")
        else:
            snapshot = body.snapshot
        if snapshot.simulator != sim.name:
            raise HTTPException(409, f"snapshot is of simulator {snapshot.simulator!r}, not {sim.name!r}")
        sim.tenants.load({t: d.model_dump() for t, d in snapshot.tenants.items()})
        return list_tenants()

    # ---- clock and seed ------------------------------------------------------------------------------------------
    @admin.get("/clock", response_model=ClockView, tags=["clock"])
    def get_clock() -> ClockView:
        return clock_view()

    @admin.post("/clock", response_model=ClockView, tags=["clock"])
    def change_clock(body: ClockChange) -> ClockView:
        if body.real:
            sim.clock.reset()
        if body.set is not None:
            sim.clock.set(body.set, freeze=bool(body.freeze))
        elif body.freeze is True:
            sim.clock.freeze()
        elif body.freeze is False:
            sim.clock.unfreeze()
        if body.advance_seconds:
            sim.clock.advance(body.advance_seconds)
        return clock_view()

    @admin.get("/seed", response_model=SeedView, tags=["faults"])
    def get_seed() -> SeedView:
        return SeedView(seed=sim.seed)

    @admin.put("/seed", response_model=SeedView, tags=["faults"])
    def set_seed(body: SeedView) -> SeedView:
        sim.faults.seed = body.seed
        return body

    # ---- faults --------------------------------------------------------------------------------------------------
    def fault_list() -> FaultList:
        return FaultList(seed=sim.seed, faults=[r.view() for r in sim.faults.rules()])

    @admin.get("/faults", response_model=FaultList, tags=["faults"])
    def list_faults() -> FaultList:
        return fault_list()

    @admin.post("/faults", status_code=201, tags=["faults"])
    def add_fault(rule: Annotated[FaultRule, Body()]) -> dict[str, Any]:
        return sim.faults.add(rule).view()

    @admin.put("/faults", response_model=FaultList, tags=["faults"])
    def replace_faults(profile: FaultProfile) -> FaultList:
        sim.faults.load_profile(profile)
        return fault_list()

    @admin.post(
        "/faults/profile", response_model=FaultList, tags=["faults"],
        responses={400: {"model": Problem}},
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/yaml": {"schema": {"$ref": "#/components/schemas/FaultProfile"}}}}},
    )
    async def load_profile(request: Request) -> FaultList:
        """A fault profile file's text, YAML or JSON: `{seed: 7, faults: [{kind: latency, ms: 50}, ...]}`."""
        text = (await request.body()).decode("utf-8", "replace")
        try:
            profile = parse_profile(text)
        except ProfileError as exc:
            raise HTTPException(400, str(exc)) from None
        sim.faults.load_profile(profile)
        return fault_list()

    @admin.delete("/faults", status_code=204, tags=["faults"])
    def clear_faults() -> Response:
        sim.faults.clear()
        return Response(status_code=204)

    @admin.delete("/faults/{rule_id}", status_code=204, responses=_ERRORS, tags=["faults"])
    def delete_fault(rule_id: Annotated[str, Path(max_length=64)]) -> Response:
        if not sim.faults.remove(rule_id):
            raise HTTPException(404, f"no fault rule {rule_id!r}")
        return Response(status_code=204)

    # ---- quotas --------------------------------------------------------------------------------------------------
    @admin.get("/quotas", response_model=QuotaList, tags=["quotas"])
    def list_quotas(tenant: Annotated[str | None, Query(pattern=TENANT_PATTERN)] = None) -> QuotaList:
        """Every quota with its use for `tenant` (global quotas ignore it)."""
        return QuotaList(quotas=sim.quotas.report(tenant))

    @admin.put("/quotas", status_code=200, tags=["quotas"])
    def put_quota(spec: Annotated[QuotaRule, Body()]) -> dict[str, Any]:
        """Create or replace the quota named in the body."""
        sim.quotas.set(spec)
        return spec.model_dump(mode="json", exclude_none=True)

    @admin.delete("/quotas/{name}", status_code=204, responses=_ERRORS, tags=["quotas"])
    def delete_quota(name: Annotated[str, Path(max_length=64)]) -> Response:
        if not sim.quotas.remove(name):
            raise HTTPException(404, f"no quota {name!r}")
        return Response(status_code=204)

    @admin.post("/quotas/reset", status_code=204, tags=["quotas"])
    def reset_quotas(defaults: bool = False) -> Response:
        """Forget all counts; with `defaults=true` also undo every quota change made through admin."""
        sim.quotas.reset(specs=defaults)
        return Response(status_code=204)

    # ---- request journal -----------------------------------------------------------------------------------------
    def request_list(q: JournalQuery, limit: int | None) -> RequestList:
        rows = sim.journal.query(q, limit)
        return RequestList(total=sim.journal.total, evicted=sim.journal.evicted, requests=[e.to_dict() for e in rows])

    @admin.get("/requests", response_model=RequestList, tags=["journal"])
    def list_requests(
        method: Annotated[str | None, Query(pattern=r"^[A-Za-z]{1,10}$")] = None,
        path: Annotated[str | None, Query(max_length=1024)] = None,
        tenant: Annotated[str | None, Query(max_length=128)] = None,
        operation: Annotated[str | None, Query(max_length=128)] = None,
        status: Annotated[int | None, Query(ge=100, le=599)] = None,
        since_seq: Annotated[int | None, Query(ge=0)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> RequestList:
        q = JournalQuery(method=method, path=path, tenant=tenant, operation=operation, status=status, since_seq=since_seq)
        return request_list(q, limit)

    @admin.post("/requests/find", response_model=RequestList, tags=["journal"])
    def find_requests(q: JournalQuery, limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> RequestList:
        return request_list(q, limit)

    @admin.post("/requests/count", response_model=Count, tags=["journal"])
    def count_requests(q: JournalQuery) -> Count:
        return Count(count=sim.journal.count(q), evicted=sim.journal.evicted)

    @admin.post("/requests/verify", response_model=VerificationResult, tags=["journal"])
    def verify_requests(v: Verification) -> VerificationResult:
        """Did matching requests arrive exactly `count` (or at least / at most) times? Near misses explain a no."""
        q = JournalQuery(**v.model_dump(exclude={"count", "at_least", "at_most"}))
        if v.count is None and v.at_least is None and v.at_most is None:
            v = v.model_copy(update={"at_least": 1})
        n = sim.journal.count(q)
        ok = (v.count is None or n == v.count) and (v.at_least is None or n >= v.at_least) and (
            v.at_most is None or n <= v.at_most)
        expected = " and ".join(
            f"{label} {value}" for label, value in (("exactly", v.count), ("at least", v.at_least), ("at most", v.at_most))
            if value is not None)
        return VerificationResult(
            ok=ok, count=n, expected=expected, evicted=sim.journal.evicted,
            near_misses=[] if ok else sim.journal.near_misses(q),
        )

    @admin.get("/requests/unmatched", response_model=RequestList, tags=["journal"])
    def unmatched_requests(limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> RequestList:
        """Requests no route matched, each with the closest routes (near misses)."""
        return request_list(JournalQuery(unmatched=True), limit)

    @admin.delete("/requests", status_code=204, tags=["journal"])
    def clear_requests() -> Response:
        sim.journal.clear()
        return Response(status_code=204)

    @admin.put("/requests/config", response_model=JournalConfig, tags=["journal"])
    def configure_journal(body: JournalConfig) -> JournalConfig:
        sim.journal.resize(body.capacity)
        if body.body_limit is not None:
            sim.journal.body_limit = body.body_limit
        return JournalConfig(capacity=sim.journal.capacity, body_limit=sim.journal.body_limit)

    @admin.get("/metrics", response_class=PlainTextResponse, tags=["kernel"])
    def metrics() -> PlainTextResponse:
        """Prometheus text exposition: sim_requests_total, sim_faults_injected_total, sim_quota_rejections_total."""
        return PlainTextResponse(sim.metrics.render(), media_type="text/plain; version=0.0.4")

    if sim.admin_router is not None:
        admin.include_router(sim.admin_router)
    admin.state.simulator = sim
    install_method_not_allowed(admin)
    document_responses(admin, {400: "The request body is not valid JSON"}, with_body_only={400})
    return admin


class ProfileError(ValueError):
    """A fault profile file that cannot be used; the message names the line or the field."""


def parse_profile(text: str) -> FaultProfile:
    """Parse a fault profile (YAML is a superset of JSON)."""
    if not text.strip():
        raise ProfileError("fault profile is empty; send `faults: []` to clear every rule")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ProfileError(f"fault profile is not valid YAML or JSON{where}") from None
    if not isinstance(data, dict):
        raise ProfileError("fault profile must be a mapping with a `faults` list")
    try:
        return FaultProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"fault profile field {field}: {first['msg']}") from None
