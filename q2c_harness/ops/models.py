"""Strict request models and response models of the ops API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from q2c_harness.engine import exception_queue

# PostgreSQL text holds no NUL; the lengths are the columns' (owner, actor, correlation id, event type: 100).
NO_NUL = r"^[^\x00]+$"
Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_NUL)]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]


def _integral_float(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer; strict pydantic does not. Accept integral floats, nothing else."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


ItemId = Annotated[int, Field(ge=1, le=2**31 - 1), BeforeValidator(_integral_float)]
Lot = Literal["transient", "business"]
ItemStatus = Literal["open", "retrying", "resolved", "ignored"]
InboxStatus = Literal["received", "processing", "done", "failed"]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# Who acts is the caller's identity (ops/identity.py), never a body field; `owner` is whom an item is assigned to.
class RetryRequest(Strict):
    reason: Text | None = None


class CloseRequest(Strict):
    reason: Text
    owner: Name | None = None


class AssignRequest(Strict):
    owner: Name
    reason: Text | None = None


class BulkReplayByIds(Strict):
    """Retry the listed exception items."""
    reason: Text | None = None
    ids: Annotated[list[ItemId], Field(min_length=1, max_length=100)]


class BulkReplayByLot(Strict):
    """Retry every open item of a lot (oldest first)."""
    reason: Text | None = None
    lot: Lot


BulkReplayRequest = BulkReplayByIds | BulkReplayByLot


class ReplayEvent(Strict):
    """Run an inbox event's workflow again under a new workflow id."""
    inbox_key: Annotated[str, Field(min_length=3, max_length=600, pattern=r"^[^:\x00]+:[^\x00]+$")]


class ReplayWorkflow(Strict):
    """Fork a workflow from its first step under a new workflow id."""
    workflow_id: Annotated[str, Field(min_length=1, max_length=600, pattern=r"^[^\x00]+$")]


ReplayRequest = ReplayEvent | ReplayWorkflow


# The exception queue's own records are the response shapes: one definition, no copy to drift.
Action = exception_queue.Action
ExceptionItemOut = exception_queue.ExceptionItem


class BulkReplayOut(BaseModel):
    attempted: int
    resolved: int
    results: list[dict[str, Any]]


class ReplayOut(BaseModel):
    workflow_id: str


class InboxEventOut(BaseModel):
    source: str
    event_id: str
    event_type: str
    payload: Any
    correlation_id: str
    workflow_id: str
    inbox_key: str
    workflow_name: str | None
    status: str
    attempts: int
    error: Any
    received_at: str
    updated_at: str


class TimelineEntry(BaseModel):
    at: str
    kind: str
    summary: str
    ref: str


class TransactionOut(BaseModel):
    correlation_id: str
    timeline: list[TimelineEntry]
    inbox: list[InboxEventOut]
    audit: list[dict[str, Any]]
    exceptions: list[ExceptionItemOut]
    events: list[dict[str, Any]]
    effects: list[dict[str, Any]]


class EventOut(BaseModel):
    offset: int
    event_key: str
    type: str
    payload: Any
    correlation_id: str | None
    occurred_at: str
    published_at: str


class AuditVerifyOut(BaseModel):
    ok: bool
    problems: list[dict[str, Any]]


class HealthOut(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


class Problem(BaseModel):
    detail: Any


class TraceEntry(BaseModel):
    at: str
    correlation_id: str
    group: Literal["CRM", "PSA", "ERP", "core"]
    system: str
    kind: str
    stage: str
    summary: str
    workflow_name: str | None
    ref: str | None = None
    status: Any = None
    attempt: int | None = None
    operation: str | None = None


class TraceRun(BaseModel):
    correlation_id: str
    inbox_key: str
    workflow_name: str | None
    status: str
    received_at: str


class TraceOut(BaseModel):
    correlation_id: str
    correlation_ids: list[str]
    runs: list[TraceRun]
    stages: list[str]
    groups: list[str]
    entries: list[TraceEntry]


class KpiPoint(BaseModel):
    start: str
    end: str
    events: int
    activation_seconds_p50: float | None
    billing_cycle_latency_seconds_p50: float | None
    invoice_exception_rate: float | None
    unbilled_backlog_items: int
    cash_application_lag_seconds_p50: float | None


class KpiHistoryOut(BaseModel):
    bucket: Literal["hour", "day"]
    points: list[KpiPoint]


class SearchHit(BaseModel):
    kind: Literal["record", "inbound event", "exception", "invoice"]
    system: str | None
    object: str | None
    id: str
    correlation_ids: list[str]
    canonical_id: str | None = None
    matched: bool | None = None  # a record: the one the id named (False: the same thing in another system)
    status: str | None = None
    code: str | None = None
    owner: str | None = None
    number: str | None = None  # a NetSuite invoice's tranId
    engagement_id: str | None = None
    amount: str | None = None
    currency: str | None = None


class SimulatorOut(BaseModel):
    name: str
    base_url: str
    ok: bool
    health: dict[str, Any] | None
    quotas: list[dict[str, Any]]
    tenants: list[dict[str, Any]] = []  # {tenant, quotas: [{name, kind, limit, used, remaining, ...}]}
    faults: list[dict[str, Any]]
    seed: Any = None
    error: str | None
