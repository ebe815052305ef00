"""PostgreSQL helpers for engine/ops tests: find the server, make throwaway databases."""

from __future__ import annotations

import os
import uuid

PG_ADMIN_URL = os.environ.get("Q2C_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_unreachable_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL unreachable at {PG_ADMIN_URL}: {type(exc).__name__}: {exc}".splitlines()[0]


def create_database(prefix: str = "q2c_test") -> str:
    """Create an empty database and return its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
