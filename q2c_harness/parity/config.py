"""Where a provider lives and how to sign in to it: the ``[vendors.<name>]`` tables of the core's configuration file
(q2c_harness/config.py, docs/operations.md), read on their own: a parity file is a core configuration file with only
the vendors it records or verifies.

    [vendors.netsuite]
    base_url = "https://1234567-sb1.suitetalk.api.netsuite.com"
    credentials = { type = "bearer", token = { file = "~/.q2c/ns-token" } }

Parity replays requests with fixed headers, so credentials other than a bearer token (Salesforce JWT bearer or
client credentials, NetSuite OAuth 2.0 client credentials) are exchanged for an access token first
(`q2c_harness.connectors.configured.bearer_headers`); TBA, which signs each request, is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from q2c_harness.config import ConfigError, CoreConfig, Credentials, SecretRef
from q2c_harness.config import load_config as _load
from q2c_harness.config import parse_config as _parse

__all__ = ["ConfigError", "Credentials", "SecretRef", "default_credentials", "load_config", "parse_config"]

# The variables `q2c contracts verify --base-url` reads (docs/contracts.md), used when no file is given.
DEFAULT_TOKEN_ENV = {"salesforce": "Q2C_SF_ACCESS_TOKEN", "netsuite": "Q2C_NS_ACCESS_TOKEN", "psa": "Q2C_PSA_TOKEN",
                     "payments": "Q2C_STRIPE_SECRET_KEY", "tax": "Q2C_AVATAX_TOKEN"}


def default_credentials(provider: str) -> Credentials:
    return Credentials("bearer", {"token": SecretRef(env=DEFAULT_TOKEN_ENV[provider])})


def parse_config(data: Mapping[str, Any]) -> CoreConfig:
    return _parse(data, core=False)


def load_config(path: str | Path) -> CoreConfig:
    return _load(path, core=False)
