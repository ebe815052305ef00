"""Schemathesis against the ops API in-process, on SQLite and on PostgreSQL: deterministic, bounded, with the token
header. PostgreSQL refuses what SQLite stores (NUL in text, values longer than a column), so both back ends run."""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path

import pytest
import schemathesis
from schemathesis.config._auth import AuthConfig

from q2c_harness.ops import create_ops_app
from tests.engine.pg import create_database, drop_database, pg_unreachable_reason

from .conftest import TOKEN, seeded_engine


def _schema(url: str):
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_ops_app(seeded_engine(url), token=TOKEN))
    schema.config.auth = AuthConfig(openapi={"HTTPBearer": {"bearer": TOKEN}})
    schema.config.generation.update(max_examples=25, deterministic=True, database="none")
    return schema


sqlite_schema = _schema(f"sqlite:///{Path(tempfile.mkdtemp(prefix='q2c_ops_st_')) / 'ops.sqlite'}")


@sqlite_schema.parametrize()
def test_ops_api_conforms_on_sqlite(case):
    case.call_and_validate()


PG_UNREACHABLE = pg_unreachable_reason()
if PG_UNREACHABLE is None:
    _pg_url = create_database("q2c_ops_st")
    atexit.register(drop_database, _pg_url)
    pg_schema = _schema(_pg_url)

    @pytest.mark.postgres
    @pg_schema.parametrize()
    def test_ops_api_conforms_on_postgres(case):
        case.call_and_validate()
else:
    def test_ops_api_conforms_on_postgres():
        pytest.skip(PG_UNREACHABLE)
