"""Correlation ids: one per inbound event, carried in a contextvar into every log row and outbound call.

Outbound HTTP calls send it as ``X-Correlation-Id`` (``headers()``). Workflows run on engine threads where the
caller's context is not inherited, so the workflow wrapper (``Engine.workflow``) sets it again from the event.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

HEADER = "X-Correlation-Id"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("q2c_correlation_id", default=None)


def new_correlation_id() -> str:
    return f"c-{uuid.uuid4().hex}"


def current() -> str | None:
    """The correlation id of the work in progress, or None outside any."""
    return _current.get()


def ensure() -> str:
    """The current correlation id, creating (and setting) one if there is none."""
    cid = _current.get()
    if cid is None:
        cid = new_correlation_id()
        _current.set(cid)
    return cid


@contextmanager
def use(correlation_id: str | None = None) -> Iterator[str]:
    """Run a block under ``correlation_id`` (a new one when None); the previous id is restored after."""
    cid = correlation_id or new_correlation_id()
    token = _current.set(cid)
    try:
        yield cid
    finally:
        _current.reset(token)


def headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Headers for an outbound call: ``X-Correlation-Id`` plus ``extra``."""
    out = dict(extra or {})
    cid = current()
    if cid is not None:
        out[HEADER] = cid
    return out
