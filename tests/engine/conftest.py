from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from q2c_harness.engine.db import Database, metadata
from tests.engine.pg import create_database, drop_database, pg_unreachable_reason


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    reason = pg_unreachable_reason()
    if reason:
        pytest.skip(reason)
    url = create_database("q2c_engine")
    yield url
    drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'engine.sqlite'}")
    else:
        database = Database(request.getfixturevalue("pg_url"))
        with database.tx() as conn:
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield database
    database.dispose()
