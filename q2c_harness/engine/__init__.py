"""Durability and control: inbox dedupe, cross-reference keys, idempotency keys and the effect ledger, exception
queue, replay, compensation, audit log, event log, correlation ids; DBOS Transact behind ``durable.DurableRunner``.

Flows hold one ``Engine`` (``facade.py``); see docs/engine.md.
"""

from .durable import DbosRunner, DurableRunner, InlineRunner, WorkflowInfo
from .facade import Engine, Handled
from .idempotency import external_id_for, key_for, uuid_for
from q2c_harness.retry import RetryPolicy

__all__ = ["DbosRunner", "DurableRunner", "Engine", "Handled", "InlineRunner", "RetryPolicy",
           "WorkflowInfo", "external_id_for", "key_for", "uuid_for"]
