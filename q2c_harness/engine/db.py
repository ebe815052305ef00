"""Our own tables (SQLAlchemy Core), portable between SQLite and PostgreSQL, created idempotently.

One database URL: ``sqlite:///path.sqlite`` (default, one worker process) or ``postgresql://...`` (several
workers and machines). DBOS keeps its own system tables; see ``durable.py`` for where they live.

SQLite is opened in WAL mode with a busy timeout, and every transaction starts with ``BEGIN IMMEDIATE`` so two
processes never deadlock upgrading a read lock to a write lock. Counters that must be gap-free and commit in
order (audit sequence, event offsets) are allocated from ``q2c_sequences`` under a row lock, which serializes
writers on PostgreSQL as well.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

DEFAULT_URL = "sqlite:///q2c.sqlite"

metadata = sa.MetaData()

TS = sa.String(40)  # ISO-8601 UTC, fixed width: sorts as text on both dialects

inbox = sa.Table(
    "q2c_inbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("event_id", sa.String(300), nullable=False),
    sa.Column("event_type", sa.String(200), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("correlation_id", sa.String(100), nullable=False),
    sa.Column("workflow_id", sa.String(500), nullable=False),
    sa.Column("workflow_name", sa.String(200), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("source", "event_id", name="uq_q2c_inbox_source_event"),
)
sa.Index("ix_q2c_inbox_correlation", inbox.c.correlation_id)
sa.Index("ix_q2c_inbox_status", inbox.c.status, inbox.c.updated_at)

xref = sa.Table(
    "q2c_xref", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("system", sa.String(50), nullable=False),
    sa.Column("object_type", sa.String(100), nullable=False),
    sa.Column("external_id", sa.String(300), nullable=False),
    sa.Column("external_id_key", sa.String(300), nullable=False),  # case-folded for case-insensitive systems
    sa.Column("canonical_id", sa.String(300), nullable=False),
    sa.Column("correlation_id", sa.String(100), nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("system", "object_type", "external_id_key", name="uq_q2c_xref_external"),
    sa.UniqueConstraint("system", "object_type", "canonical_id", name="uq_q2c_xref_canonical"),
)

effects = sa.Table(
    "q2c_effects", metadata,
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("system", sa.String(50), nullable=False),
    sa.Column("operation", sa.String(200), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending / done / failed
    sa.Column("result_ref", sa.String(300), nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("correlation_id", sa.String(100), nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)
sa.Index("ix_q2c_effects_correlation", effects.c.correlation_id)

exceptions = sa.Table(
    "q2c_exceptions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("lot", sa.String(20), nullable=False),  # transient / business
    sa.Column("status", sa.String(20), nullable=False),  # open / retrying / resolved / ignored
    sa.Column("source_key", sa.String(500), nullable=True),  # inbox key or workflow id: folds recurrences
    sa.Column("handler", sa.String(200), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("correlation_id", sa.String(100), nullable=True),
    sa.Column("error_class", sa.String(100), nullable=False),
    sa.Column("code", sa.String(100), nullable=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("system", sa.String(50), nullable=True),
    sa.Column("owner", sa.String(100), nullable=True),
    sa.Column("occurrences", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)
sa.Index("ix_q2c_exceptions_lot_status", exceptions.c.lot, exceptions.c.status)
sa.Index("ix_q2c_exceptions_correlation", exceptions.c.correlation_id)

exception_actions = sa.Table(
    "q2c_exception_actions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("exception_id", sa.Integer, sa.ForeignKey("q2c_exceptions.id"), nullable=False),
    sa.Column("action", sa.String(30), nullable=False),  # parked / recurred / retry / resolve / ignore / ...
    sa.Column("actor", sa.String(100), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("outcome", sa.String(30), nullable=True),
    sa.Column("at", TS, nullable=False),
)
sa.Index("ix_q2c_exception_actions_item", exception_actions.c.exception_id)

audit = sa.Table(
    "q2c_audit", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # write / decision
    sa.Column("correlation_id", sa.String(100), nullable=True),
    sa.Column("system", sa.String(50), nullable=True),
    sa.Column("operation", sa.String(200), nullable=True),
    sa.Column("rule", sa.String(200), nullable=True),
    sa.Column("inputs", sa.JSON, nullable=True),
    sa.Column("outcome", sa.JSON, nullable=True),
    sa.Column("request_summary", sa.JSON, nullable=True),
    sa.Column("response_summary", sa.JSON, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
sa.Index("ix_q2c_audit_correlation", audit.c.correlation_id)

events = sa.Table(
    "q2c_events", metadata,
    sa.Column("offset", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_key", sa.String(500), nullable=False, unique=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("correlation_id", sa.String(100), nullable=True),
    sa.Column("occurred_at", TS, nullable=False),
    sa.Column("published_at", TS, nullable=False),
)
sa.Index("ix_q2c_events_type", events.c.type, events.c.offset)
sa.Index("ix_q2c_events_correlation", events.c.correlation_id)

consumer_offsets = sa.Table(
    "q2c_consumer_offsets", metadata,
    sa.Column("consumer", sa.String(200), primary_key=True),
    sa.Column("next_offset", sa.BigInteger, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

saga_steps = sa.Table(
    "q2c_saga_steps", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("saga_id", sa.String(500), nullable=False),
    sa.Column("step", sa.String(200), nullable=False),
    sa.Column("compensation", sa.String(200), nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # registered / compensated / discarded / failed
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("correlation_id", sa.String(100), nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("saga_id", "step", name="uq_q2c_saga_step"),
)

sequences = sa.Table(
    "q2c_sequences", metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("next_value", sa.BigInteger, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=True),
)


GENESIS_HASH = "0" * 64


class NotFound(LookupError):
    """An id that names nothing (exception item, workflow, inbox key)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(ts: dt.datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, Decimals as strings. Used for hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default, ensure_ascii=False)


def jsonable(value: Any) -> Any:
    """A JSON-safe copy (Decimal -> str, datetime -> ISO) for JSON columns."""
    return json.loads(canonical_json(value))


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Database:
    """One SQLAlchemy engine on our tables, plus the clock every module stamps rows with."""

    def __init__(self, url: str = DEFAULT_URL, *, clock: Callable[[], dt.datetime] = utcnow,
                 create: bool = True) -> None:
        self.url = normalize_url(url)
        self.clock = clock
        self.dialect = sa.engine.make_url(self.url).get_backend_name()
        kwargs: dict[str, Any] = {"future": True}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        self.engine = sa.create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _sqlite_immediate_transactions(self.engine)
        self._create_lock = threading.Lock()
        if create:
            self.create_all()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def now(self) -> str:
        return iso(self.clock())

    def create_all(self) -> None:
        """Create our tables if missing. Safe to call from several processes at once."""
        with self._create_lock:
            for attempt in range(3):
                try:
                    metadata.create_all(self.engine, checkfirst=True)
                    return
                except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
                    if attempt == 2:
                        raise  # pragma: no cover - a concurrent CREATE won the race twice

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def next_in_sequence(self, conn: Connection, name: str) -> tuple[int, str | None]:
        """Allocate the next value of a named sequence under a row lock; returns (value, last_hash).

        The UPDATE takes the write lock first (row lock on PostgreSQL, database lock on SQLite), so concurrent
        writers commit in sequence order and readers never see a gap that is filled later.
        """
        res = conn.execute(sa.update(sequences).where(sequences.c.name == name)
                           .values(next_value=sequences.c.next_value + 1))
        if res.rowcount == 0:
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(sequences).values(name=name, next_value=1, last_hash=None))
                return 0, None
            except sa.exc.IntegrityError:
                return self.next_in_sequence(conn, name)
        row = conn.execute(sa.select(sequences.c.next_value, sequences.c.last_hash)
                           .where(sequences.c.name == name)).one()
        return int(row.next_value) - 1, row.last_hash

    def set_sequence_hash(self, conn: Connection, name: str, value: str) -> None:
        conn.execute(sa.update(sequences).where(sequences.c.name == name).values(last_hash=value))

    def dispose(self) -> None:
        self.engine.dispose()


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _sqlite_immediate_transactions(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below be the only BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
