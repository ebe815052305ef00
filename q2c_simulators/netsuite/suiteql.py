"""SuiteQL: the account's records projected into an in-memory SQLite database, queried through sqlglot.

sqlglot parses the query as Oracle SQL (SuiteQL's dialect: NVL, TO_CHAR, FETCH FIRST ...), refuses anything but a
SELECT, and transpiles it to SQLite with every identifier quoted in backticks (so `transaction` and mixed case work). The tables
are rebuilt lazily when the account's data has changed since the last query.

Tables: one per record type, named like the record id in lower case (customer, job, employee, timebill, invoice,
salesorder, customerpayment, creditmemo, ...), with lower-case columns: id, externalid, createddate,
lastmodifieddate and every body field (references hold the internal id). Line tables: `<type>_<sublist>`
(invoice_item, customerpayment_apply, billingschedule_milestone, ...). NetSuite's analytics tables are also served:
`transaction` (type CustInvc, SalesOrd, CustCred, CustPymt, ExpRept; entity, trandate, currency, subsidiary,
exchangerate, foreigntotal, foreignamountremaining, status, tranid, memo), `transactionline` (transaction,
linesequencenumber, item, quantity, rate, netamount, memo) and `item` (service items, itemtype 'Service').
Values come back as strings and empty values are left out, as NetSuite does; booleans are 'T'/'F'.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from functools import lru_cache
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import SqlglotError

from .exceptions import NetSuiteError
from .models import NetSuiteBackend
from .records import RecordType, record_types
from .releases import DEFAULT_RELEASE

MAX_RESULTS = 100_000
_QUERY_SECONDS = 5.0
_SQL_TYPES = {"ref": "INTEGER", "integer": "INTEGER", "number": "REAL", "boolean": "TEXT", "date": "TEXT",
              "datetime": "TEXT", "enum": "TEXT", "string": "TEXT"}


class _BacktickSQLite(SQLite):
    """SQLite with `identifiers`: a double-quoted unknown column would silently become a string literal."""

    class Tokenizer(SQLite.Tokenizer):
        IDENTIFIERS = ["`", '"']


def _bad(detail: str) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_PARAMETER",
                         f"Invalid search query. Detailed unprocessed description follows. {detail}")


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, Decimal):
        return float(value)
    return value


def _out(value: Any) -> str:
    if isinstance(value, float):
        text = format(round(value, 8), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


class _Database:
    def __init__(self) -> None:
        self.version = -1
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        self.lock = threading.Lock()


def _create(conn: sqlite3.Connection, table: str, columns: list[tuple[str, str]], rows: list[tuple]) -> None:
    cols = ", ".join(f'"{c}" {t}' for c, t in columns)
    conn.execute(f'CREATE TABLE "{table}" ({cols})')
    if rows:
        marks = ", ".join("?" for _ in columns)
        conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)


def _build(conn: sqlite3.Connection, backend: NetSuiteBackend) -> None:
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
        conn.execute(f'DROP TABLE "{name}"')
    store = backend.store
    types = record_types(DEFAULT_RELEASE)
    for rt in types.values():
        names = list(rt.fields)
        columns = [("id", "INTEGER"), ("externalid", "TEXT"), ("createddate", "TEXT"), ("lastmodifieddate", "TEXT")]
        columns += [(n.lower(), _SQL_TYPES[rt.fields[n].kind]) for n in names]
        rows = [(int(r["id"]), r.get("externalId"), r.get("createdDate"), r.get("lastModifiedDate"),
                 *(_sql_value(r.get(n)) for n in names)) for r in store.records(rt.name)]
        _create(conn, rt.table, columns, rows)
        for sub in rt.sublists.values():
            snames = list(sub.fields)
            scols = [(rt.table, "INTEGER"), ("line", "INTEGER")] + [(n.lower(), _SQL_TYPES[sub.fields[n].kind])
                                                                     for n in snames]
            srows = [(int(r["id"]), line["line"], *(_sql_value(line.get(n)) for n in snames))
                     for r in store.records(rt.name) for line in r.get(sub.name, [])]
            _create(conn, f"{rt.table}_{sub.name}", scols, srows)
    _build_analytics(conn, backend, types)


def _build_analytics(conn: sqlite3.Connection, backend: NetSuiteBackend, types: dict[str, RecordType]) -> None:
    store = backend.store
    tx_rows, line_rows = [], []
    for rt in types.values():
        if not rt.transaction:
            continue
        for r in store.records(rt.name):
            entity = r.get("customer") if rt.name == "customerPayment" else r.get("entity", r.get("employee"))
            total = r.get("payment") if rt.name == "customerPayment" else r.get("total")
            tx_rows.append((int(r["id"]), r.get("tranId"), rt.transaction, _sql_value(entity), r.get("tranDate"),
                            _sql_value(r.get("currency")), _sql_value(r.get("subsidiary")),
                            _sql_value(r.get("exchangeRate")), _sql_value(total),
                            _sql_value(r.get("amountRemaining")), r.get("status"), r.get("memo"),
                            r.get("externalId"), r.get("createdDate")))
            for line in r.get("item", []) + r.get("expense", []):
                line_rows.append((int(r["id"]), line["line"], _sql_value(line.get("item")),
                                  _sql_value(line.get("quantity")), _sql_value(line.get("rate")),
                                  _sql_value(line.get("amount")), line.get("description") or line.get("memo")))
    _create(conn, "transaction", [("id", "INTEGER"), ("tranid", "TEXT"), ("type", "TEXT"), ("entity", "INTEGER"),
                                  ("trandate", "TEXT"), ("currency", "INTEGER"), ("subsidiary", "INTEGER"),
                                  ("exchangerate", "REAL"), ("foreigntotal", "REAL"),
                                  ("foreignamountremaining", "REAL"), ("status", "TEXT"), ("memo", "TEXT"),
                                  ("externalid", "TEXT"), ("createddate", "TEXT")], tx_rows)
    _create(conn, "transactionline", [("transaction", "INTEGER"), ("linesequencenumber", "INTEGER"),
                                      ("item", "INTEGER"), ("quantity", "REAL"), ("rate", "REAL"),
                                      ("netamount", "REAL"), ("memo", "TEXT")], line_rows)
    items = [(int(r["id"]), r.get("itemId"), r.get("displayName"), "Service", _sql_value(r.get("rate")),
              r.get("description"), r.get("externalId")) for r in store.records("serviceSaleItem")]
    _create(conn, "item", [("id", "INTEGER"), ("itemid", "TEXT"), ("displayname", "TEXT"), ("itemtype", "TEXT"),
                           ("baseprice", "REAL"), ("description", "TEXT"), ("externalid", "TEXT")], items)


def translate(q: str) -> str:
    """SuiteQL (Oracle dialect) -> SQLite; only one SELECT statement is accepted."""
    if not isinstance(q, str) or not q.strip():
        raise _bad("The query is empty.")
    return _translated(q)


@lru_cache(maxsize=1024)  # integrations repeat their queries; parsing with sqlglot costs ~1 ms, the query far less
def _translated(q: str) -> str:
    try:
        statements = [s for s in sqlglot.parse(q, read="oracle") if s is not None]
    except SqlglotError as exc:
        raise _bad(f"Search error occurred: {str(exc).splitlines()[0][:300]}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise _bad("Search error occurred: only one SELECT statement is allowed.")
    try:
        return statements[0].sql(dialect=_BacktickSQLite, identify=True)
    except SqlglotError as exc:
        raise _bad(f"Search error occurred: {str(exc).splitlines()[0][:300]}") from None


def run(backend: NetSuiteBackend, q: str, limit: int, offset: int) -> tuple[list[dict[str, str]], int]:
    sql = translate(q)
    db: _Database | None = getattr(backend, "_suiteql_db", None)
    if db is None:
        db = _Database()
        backend._suiteql_db = db  # type: ignore[attr-defined]  # a cache derived from the store, not state
    with db.lock:
        if db.version != backend.version:
            _build(db.conn, backend)
            db.version = backend.version
        deadline = time.monotonic() + _QUERY_SECONDS
        db.conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 20_000)
        try:
            total = db.conn.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0]
            cursor = db.conn.execute(f"SELECT * FROM ({sql}) LIMIT ? OFFSET ?", (limit, offset))
            names = [d[0].lower() for d in cursor.description]
            rows = cursor.fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise _bad("Search error occurred: the query took too long.") from None
            raise _bad(f"Search error occurred: {str(exc)[:300]}") from None
        except (sqlite3.Error, OverflowError, ValueError) as exc:
            raise _bad(f"Search error occurred: {str(exc)[:300]}") from None
        finally:
            db.conn.set_progress_handler(None, 0)
    items = [{"links": [], **{n: _out(v) for n, v in zip(names, row) if v is not None}} for row in rows]
    return items, min(total, MAX_RESULTS)
