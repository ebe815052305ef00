"""Per-tenant state: one store object per tenant, as LocalStack keeps one store per account and region.

A store holds named collections of JSON-like records keyed by id, optional field indexes (external ids), and id
sequences. Multi-record changes go through `atomic()`: all of them land or none do. Everything a vendor simulator
persists lives here, so reset, snapshot and restore work the same for every simulator.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

Record = dict[str, Any]
_MISSING = object()


class Store:
    def __init__(self) -> None:
        self._data: dict[str, dict[str, Record]] = {}
        self._seq: dict[str, int] = {}
        self._index_fields: dict[str, set[str]] = {}
        self._indexes: dict[tuple[str, str], dict[Any, set[str]]] = {}
        self._lock = threading.RLock()
        self._undo: list[tuple[str, str, Any]] | None = None
        self._undo_seq: dict[str, int] | None = None

    # -- reads -------------------------------------------------------------------------------------------------
    def get(self, collection: str, record_id: str) -> Record | None:
        return self._data.get(collection, {}).get(record_id)

    def records(self, collection: str) -> list[Record]:
        return list(self._data.get(collection, {}).values())

    def ids(self, collection: str) -> list[str]:
        return list(self._data.get(collection, {}))

    def count(self, collection: str) -> int:
        return len(self._data.get(collection, {}))

    def collections(self) -> list[str]:
        return [name for name, rows in self._data.items() if rows]

    def find(self, collection: str, field: str, value: Any) -> list[Record]:
        """Records whose `field` equals `value`; uses an index when one is declared."""
        index = self._indexes.get((collection, field))
        rows = self._data.get(collection, {})
        if index is not None:
            return [rows[i] for i in sorted(index.get(value, ()))]
        return [r for r in rows.values() if r.get(field) == value]

    # -- writes ------------------------------------------------------------------------------------------------
    def add_index(self, collection: str, field: str) -> None:
        with self._lock:
            self._index_fields.setdefault(collection, set()).add(field)
            index: dict[Any, set[str]] = {}
            for rid, rec in self._data.get(collection, {}).items():
                value = rec.get(field)
                if value is not None:
                    index.setdefault(value, set()).add(rid)
            self._indexes[(collection, field)] = index

    def next_id(self, collection: str) -> int:
        with self._lock:
            if self._undo_seq is not None and collection not in self._undo_seq:
                self._undo_seq[collection] = self._seq.get(collection, 0)
            n = self._seq.get(collection, 0) + 1
            self._seq[collection] = n
            return n

    def put(self, collection: str, record_id: str, record: Record) -> Record:
        with self._lock:
            rows = self._data.setdefault(collection, {})
            previous = rows.get(record_id, _MISSING)
            if self._undo is not None:
                self._undo.append((collection, record_id, previous))
            self._unindex(collection, record_id, None if previous is _MISSING else previous)
            rows[record_id] = record
            self._reindex(collection, record_id, record)
            return record

    def delete(self, collection: str, record_id: str) -> Record | None:
        with self._lock:
            rows = self._data.get(collection, {})
            previous = rows.pop(record_id, None)
            if previous is not None:
                if self._undo is not None:
                    self._undo.append((collection, record_id, previous))
                self._unindex(collection, record_id, previous)
            return previous

    @contextmanager
    def atomic(self) -> Iterator[Store]:
        """All writes inside land together, or (on any exception) none of them do."""
        with self._lock:
            if self._undo is not None:  # nested: the outer block owns the rollback
                yield self
                return
            self._undo, self._undo_seq = [], {}
            try:
                yield self
            except BaseException:
                for collection, record_id, previous in reversed(self._undo):
                    rows = self._data.setdefault(collection, {})
                    self._unindex(collection, record_id, rows.get(record_id))
                    if previous is _MISSING:
                        rows.pop(record_id, None)
                    else:
                        rows[record_id] = previous
                        self._reindex(collection, record_id, previous)
                self._seq.update(self._undo_seq)
                raise
            finally:
                self._undo, self._undo_seq = None, None

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._seq.clear()
            for key in self._indexes:
                self._indexes[key] = {}

    def _unindex(self, collection: str, record_id: str, record: Record | None) -> None:
        if record is None:
            return
        for field in self._index_fields.get(collection, ()):
            value = record.get(field)
            if value is not None:
                bucket = self._indexes[(collection, field)].get(value)
                if bucket is not None:
                    bucket.discard(record_id)
                    if not bucket:
                        del self._indexes[(collection, field)][value]

    def _reindex(self, collection: str, record_id: str, record: Record) -> None:
        for field in self._index_fields.get(collection, ()):
            value = record.get(field)
            if value is not None:
                self._indexes[(collection, field)].setdefault(value, set()).add(record_id)

    # -- snapshot ----------------------------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        with self._lock:
            return {"collections": _encode(self._data), "sequences": dict(self._seq)}

    def load(self, data: dict[str, Any]) -> None:
        with self._lock:
            self._data = _decode(data.get("collections", {}))
            self._seq = dict(data.get("sequences", {}))
            for collection, field in list(self._indexes):
                self.add_index(collection, field)


# Snapshots are JSON; Decimal, datetime, date and bytes survive the round trip through tagged objects.
def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    return value


_DECODERS: dict[str, Callable[[str], Any]] = {
    "$decimal": Decimal,
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$bytes": base64.b64decode,
}


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (key, raw), = value.items()
            if key in _DECODERS:
                return _DECODERS[key](raw)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


B = TypeVar("B")


class Tenants(Generic[B]):
    """Tenant id -> vendor backend; a backend is created on first use from the simulator's factory.

    A backend is the vendor's models object (moto's "backend"): its rules, with all persistent state in `.store`.
    """

    def __init__(self, factory: Callable[[str], B]) -> None:
        self._factory = factory
        self._backends: dict[str, B] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: str) -> B:
        backend = self._backends.get(tenant_id)
        if backend is None:
            with self._lock:
                backend = self._backends.get(tenant_id)
                if backend is None:
                    backend = self._backends[tenant_id] = self._factory(tenant_id)
        return backend

    def __contains__(self, tenant_id: str) -> bool:
        return tenant_id in self._backends

    def ids(self) -> list[str]:
        return sorted(self._backends)

    def reset(self, tenant_id: str) -> B:
        """Fresh state for one tenant (a new backend, so its seed data is laid down again)."""
        with self._lock:
            backend = self._backends[tenant_id] = self._factory(tenant_id)
        return backend

    def delete(self, tenant_id: str) -> bool:
        with self._lock:
            return self._backends.pop(tenant_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._backends.clear()

    def dump(self) -> dict[str, Any]:
        return {tid: self._backends[tid].store.dump() for tid in self.ids()}  # type: ignore[attr-defined]

    def load(self, tenants: dict[str, Any]) -> None:
        with self._lock:
            self._backends.clear()
            for tid, data in tenants.items():
                backend = self._factory(tid)
                backend.store.load(data)  # type: ignore[attr-defined]
                self._backends[tid] = backend


def write_json(path: str | Path, data: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")))
    tmp.replace(path)  # atomic on POSIX: a crash never leaves half a snapshot
    return path
