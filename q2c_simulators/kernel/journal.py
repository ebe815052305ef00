"""The request journal: a bounded ring buffer with query, count and verify, as WireMock's, minus its memory growth.

Memory stays flat: the buffer keeps the newest `capacity` entries and bodies are cut at `body_limit` bytes; `total`
keeps counting, and a verification says when older entries were already evicted so a count may be short.
"""

from __future__ import annotations

import difflib
import itertools
import threading
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import ConfigDict, Field, NonNegativeInt

from .matching import RequestMatch


@dataclass(slots=True)
class JournalEntry:
    seq: int
    at: float  # epoch seconds on the simulator's clock (ISO 8601 in `to_dict`): no datetime per request
    simulator: str
    tenant: str | None
    method: str
    path: str
    query: str
    operation: str | None
    status: int
    duration_ms: float
    body: str
    fault: str | None = None
    quota: str | None = None
    near_misses: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": datetime.fromtimestamp(self.at, timezone.utc).isoformat()}


class JournalQuery(RequestMatch):
    status: int | None = Field(default=None, ge=100, le=599)
    body_contains: str | None = Field(default=None, max_length=2000)
    unmatched: bool | None = None
    since_seq: NonNegativeInt | None = None

    def selects(self, e: JournalEntry) -> bool:
        if not self.matches(e.simulator, e.tenant, e.method, e.path, e.operation):
            return False
        if self.status is not None and e.status != self.status:
            return False
        if self.body_contains is not None and self.body_contains not in e.body:
            return False
        if self.unmatched is not None and (e.near_misses is not None) != self.unmatched:
            return False
        return self.since_seq is None or e.seq > self.since_seq


class Journal:
    def __init__(self, capacity: int = 10_000, body_limit: int = 2048) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=capacity)
        self.body_limit = body_limit
        self.total = 0
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._entries.maxlen or 0

    def resize(self, capacity: int) -> None:
        with self._lock:
            self._entries = deque(self._entries, maxlen=capacity)

    def next_seq(self) -> int:
        self.total = seq = next(self._seq)  # itertools.count is atomic under the GIL: no lock per request
        return seq

    def record(self, entry: JournalEntry) -> None:
        self._entries.append(entry)  # deque.append is atomic; eviction keeps memory flat

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def query(self, q: JournalQuery, limit: int | None = None) -> list[JournalEntry]:
        rows = [e for e in list(self._entries) if q.selects(e)]
        return rows[-limit:] if limit else rows

    def count(self, q: JournalQuery) -> int:
        return sum(1 for e in list(self._entries) if q.selects(e))

    @property
    def evicted(self) -> int:
        return self.total - len(self._entries)

    def near_misses(self, q: JournalQuery, n: int = 3) -> list[str]:
        """The recorded requests closest to what the query asked for, to explain a failed verification."""
        wanted = f"{q.method or '*'} {q.path or q.path_regex or q.operation or ''}"
        seen = {f"{e.method} {e.path}" for e in list(self._entries)[-2000:]}
        return difflib.get_close_matches(wanted, sorted(seen), n=n, cutoff=0.3)


def near_miss_routes(method: str, path: str, routes: list[tuple[str, str]], n: int = 3) -> list[str]:
    """Route templates closest to an unmatched request ("GET /services/data/v59.0/sobject/X").

    A template's `{parameters}` take the request's own segments before comparing, so `/api/itemz/9` is nearest
    to `/api/items/{rid}`, not to `/api/items`.
    """
    segments = path.split("/")

    def score(route: tuple[str, str]) -> float:
        m, template = route
        filled = [segments[i] if part.startswith("{") and i < len(segments) else part
                  for i, part in enumerate(template.split("/"))]
        ratio = difflib.SequenceMatcher(None, "/".join(filled), path).ratio()
        return ratio + (0.05 if m == method else 0)

    ranked = sorted(routes, key=score, reverse=True)
    return [f"{m} {p}" for m, p in ranked[:n] if score((m, p)) >= 0.5]
