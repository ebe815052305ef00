"""Schemathesis against the ops API in-process: deterministic, bounded, with the token header."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from schemathesis.config._auth import AuthConfig

from q2c_harness.ops import create_ops_app

from .conftest import TOKEN, seeded_engine

_engine = seeded_engine(f"sqlite:///{Path(tempfile.mkdtemp(prefix='q2c_ops_st_')) / 'ops.sqlite'}")
schema = schemathesis.openapi.from_asgi("/openapi.json", create_ops_app(_engine, token=TOKEN))
schema.config.auth = AuthConfig(openapi={"HTTPBearer": {"bearer": TOKEN}})
schema.config.generation.update(max_examples=25, deterministic=True, database="none")


@schema.parametrize()
def test_ops_api_conforms(case):
    case.call_and_validate()
