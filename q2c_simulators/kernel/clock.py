"""The virtual clock: real time by default, set or advanced through admin.

Every timestamp a simulator writes, every quota window and every fault window reads this clock, so a scenario can
live through month-end in seconds. Async waits the kernel itself makes (injected latency) stay in real time.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class VirtualClock:
    """Real time plus an offset; optionally frozen at an instant."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._offset_seconds = 0.0  # the same offset as a float, for `timestamp()` on the hot path
        self._frozen: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        frozen = self._frozen
        return frozen if frozen is not None else _utcnow() + self._offset

    def timestamp(self) -> float:
        frozen = self._frozen  # no datetime on the hot path: quotas read this on every request
        return frozen.timestamp() if frozen is not None else time.time() + self._offset_seconds

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def set(self, instant: datetime, *, freeze: bool = False) -> datetime:
        """Jump to `instant` (naive values are taken as UTC); keep ticking from there unless frozen."""
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=timezone.utc)
        with self._lock:
            if freeze:
                self._frozen = instant
            else:
                self._frozen = None
                self._set_offset(instant - _utcnow())
        return self.now()

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("a virtual clock only moves forward")
        with self._lock:
            if self._frozen is not None:
                self._frozen += timedelta(seconds=seconds)
            else:
                self._set_offset(self._offset + timedelta(seconds=seconds))
        return self.now()

    def freeze(self) -> datetime:
        with self._lock:
            self._frozen = self.now()
        return self._frozen

    def unfreeze(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                self._set_offset(self._frozen - _utcnow())
                self._frozen = None
        return self.now()

    def reset(self) -> datetime:
        """Back to real time."""
        with self._lock:
            self._set_offset(timedelta(0))
            self._frozen = None
        return self.now()

    def _set_offset(self, offset: timedelta) -> None:
        self._offset, self._offset_seconds = offset, offset.total_seconds()

    def state(self) -> dict:
        return {"now": self.now().isoformat(), "frozen": self.frozen, "offset_seconds": self._offset.total_seconds()}
