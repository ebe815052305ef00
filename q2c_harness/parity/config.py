"""Where a provider lives and how to sign in to it: a small TOML file that issue 19's core configuration can fold in.

Format (every table optional; one per provider you record or verify):

    [vendors.salesforce]
    base_url = "https://acme--uat.sandbox.my.salesforce.com"   # the instance URL (no /services/data)
    [vendors.salesforce.credentials]
    type = "bearer"
    token = { env = "Q2C_SF_ACCESS_TOKEN" }                     # or { file = "/run/secrets/sf-token" }

    [vendors.netsuite]
    base_url = "https://1234567-sb1.suitetalk.api.netsuite.com"
    credentials = { type = "bearer", token = { file = "~/.q2c/ns-token" } }

    [vendors.psa]
    base_url = "https://api.mavenlink.com"                      # the API host (no /api/v1)
    credentials = { type = "bearer", token = { env = "Q2C_PSA_TOKEN" } }

Secrets are never written in the file: a credential value is a reference, `{ env = NAME }` or `{ file = PATH }`
(the file's content, surrounding whitespace stripped). A literal string where a secret belongs is refused, so a
config file can be committed and reviewed.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping


class ConfigError(ValueError):
    """The configuration file is missing, malformed, or names a secret that cannot be read."""


@dataclass(frozen=True)
class SecretRef:
    env: str | None = None
    file: str | None = None

    @classmethod
    def parse(cls, value: Any, where: str) -> "SecretRef":
        if not isinstance(value, dict) or set(value) - {"env", "file"} or len(value) != 1:
            raise ConfigError(f"{where}: a secret is {{ env = \"NAME\" }} or {{ file = \"PATH\" }}, "
                              f"never a literal value")
        return cls(env=value.get("env"), file=value.get("file"))

    def read(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        if self.env is not None:
            value = env.get(self.env)
            if not value:
                raise ConfigError(f"environment variable {self.env} is not set")
            return value
        path = Path(str(self.file)).expanduser()
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read secret file {path}: {exc.strerror}") from None
        if not value:
            raise ConfigError(f"secret file {path} is empty")
        return value

    def describe(self) -> str:
        return f"env {self.env}" if self.env is not None else f"file {self.file}"


@dataclass(frozen=True)
class Credentials:
    type: str
    token: SecretRef

    def headers(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.read(environ)}"}


@dataclass(frozen=True)
class VendorConfig:
    name: str
    base_url: str
    credentials: Credentials


@dataclass(frozen=True)
class Config:
    vendors: dict[str, VendorConfig]

    def vendor(self, name: str) -> VendorConfig:
        try:
            return self.vendors[name]
        except KeyError:
            raise ConfigError(f"no [vendors.{name}] table in the configuration file") from None


# The variables `q2c contracts verify --base-url` reads (docs/contracts.md), used when no file is given.
DEFAULT_TOKEN_ENV = {"salesforce": "Q2C_SF_ACCESS_TOKEN", "netsuite": "Q2C_NS_ACCESS_TOKEN", "psa": "Q2C_PSA_TOKEN",
                     "payments": "Q2C_STRIPE_SECRET_KEY"}


def default_credentials(provider: str) -> Credentials:
    return Credentials("bearer", SecretRef(env=DEFAULT_TOKEN_ENV[provider]))


def parse_config(data: Mapping[str, Any]) -> Config:
    vendors: dict[str, VendorConfig] = {}
    for name, table in (data.get("vendors") or {}).items():
        where = f"[vendors.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table")
        base_url = table.get("base_url")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"{where} base_url must be an http(s) URL")
        creds = table.get("credentials")
        if not isinstance(creds, dict):
            raise ConfigError(f"{where} needs a credentials table")
        kind = creds.get("type", "bearer")
        if kind != "bearer":
            raise ConfigError(f"{where} credentials type {kind!r} is not supported (only \"bearer\")")
        vendors[name] = VendorConfig(name, base_url.rstrip("/"),
                                     Credentials(kind, SecretRef.parse(creds.get("token"), f"{where} token")))
    return Config(vendors)


def load_config(path: str | Path) -> Config:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML: {exc}") from None
    return parse_config(data)
