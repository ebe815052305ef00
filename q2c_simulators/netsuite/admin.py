"""NetSuite's admin endpoints under /__admin/netsuite/accounts/{account}: integrations and tokens (TBA), OAuth 2.0
clients and access tokens, the release, the concurrency limit, maintenance and upgrade windows, TBA settings."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
from starlette.responses import Response

from q2c_simulators.kernel import QuotaSpec
from q2c_simulators.kernel.admin import current_simulator

from .models import CONCURRENCY_QUOTA, TIER_LIMITS, NetSuiteBackend
from .releases import CHANGES, RELEASES

ACCOUNT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
Account = Annotated[str, Path(pattern=ACCOUNT_PATTERN)]
Sim = Annotated[Any, Depends(current_simulator)]  # the NetSuiteSimulator


def account_backend(account: Account, sim: Sim) -> NetSuiteBackend:
    return sim.tenants.get(account)


AccountBackend = Annotated[NetSuiteBackend, Depends(account_backend)]
router = APIRouter(prefix="/netsuite/accounts/{account}", tags=["netsuite"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class IntegrationIn(_Strict):
    name: str = Field(default="q2c integration", max_length=100)
    consumer_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.~-]{1,256}$")
    consumer_secret: str | None = Field(default=None, min_length=1, max_length=256)


class TokenIn(_Strict):
    consumer_key: str = Field(max_length=256)
    token_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.~-]{1,256}$")
    token_secret: str | None = Field(default=None, min_length=1, max_length=256)
    role: str = Field(default="Administrator", max_length=100)


class OAuth2ClientIn(_Strict):
    client_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.~-]{1,256}$")
    certificate_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.~-]{1,256}$")
    public_key_pem: str = Field(description="PEM public key or X.509 certificate of the client's signing key",
                                max_length=20000)
    scopes: list[Literal["rest_webservices", "restlets", "suite_analytics"]] = ["rest_webservices"]


class AccessTokenIn(_Strict):
    scopes: list[Literal["rest_webservices", "restlets", "suite_analytics"]] = ["rest_webservices"]
    expires_in: PositiveInt = Field(default=3600, le=30 * 86400)


class ReleaseIn(_Strict):
    release: Literal["2026.1", "2026.2"]


class ConcurrencyIn(_Strict):
    """A service tier (shared 5, tier1 15, ... each tier +10) plus 10 per SuiteCloud Plus licence, or a limit."""

    tier: Literal["shared", "tier1", "tier2", "tier3", "tier4", "tier5"] | None = None
    suitecloud_plus_licenses: int = Field(default=0, ge=0, le=50)
    limit: PositiveInt | None = Field(default=None, le=10_000)

    @model_validator(mode="after")
    def _one(self) -> ConcurrencyIn:
        if (self.tier is None) == (self.limit is None):
            raise ValueError("give exactly one of tier or limit")
        return self


class WindowIn(_Strict):
    kind: Literal["maintenance", "upgrade"]
    start: Annotated[datetime, Field(strict=False)]
    end: Annotated[datetime, Field(strict=False)]
    to_release: Literal["2026.1", "2026.2"] | None = None

    @model_validator(mode="after")
    def _check(self) -> WindowIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.kind == "upgrade") != (self.to_release is not None):
            raise ValueError("an upgrade window names to_release; a maintenance window does not")
        return self


class TbaSettingsIn(_Strict):
    tba_clock: Literal["virtual", "virtual_or_real"] = "virtual_or_real"
    timestamp_tolerance_seconds: PositiveInt = Field(default=300, le=86400)
    async_delay_seconds: float = Field(default=0, ge=0, le=86400)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

@router.get("")
def get_account(b: AccountBackend, sim: Sim) -> dict[str, Any]:
    """The account's settings: release, concurrency limit, windows, TBA clock; credential counts."""
    config = {k: v for k, v in b.config.items() if k != "id"}
    return {"account": b.account, **config, "effective_release": b.release,
            "concurrency_limit": sim.concurrency_limit(b.account),
            "integrations": b.store.count("_integrations"), "tokens": b.store.count("_tokens"),
            "oauth2_clients": b.store.count("_oauth2_clients")}


@router.post("/integrations", status_code=201)
def add_integration(b: AccountBackend, body: IntegrationIn | None = None) -> dict[str, Any]:
    """An integration record (TBA consumer key and secret); generated unless given."""
    body = body or IntegrationIn()
    rec = b.add_integration(body.name, body.consumer_key, body.consumer_secret)
    return {"consumer_key": rec["id"], "consumer_secret": rec["consumer_secret"], "name": rec["name"]}


@router.post("/tokens", status_code=201, responses={404: {"description": "unknown consumer key"}})
def add_token(b: AccountBackend, body: TokenIn) -> dict[str, Any]:
    """An access token (token id and secret) for an integration of this account."""
    if b.store.get("_integrations", body.consumer_key) is None:
        raise HTTPException(404, f"no integration with consumer key {body.consumer_key!r} in {b.account}")
    rec = b.add_token(body.consumer_key, body.token_id, body.token_secret, body.role)
    return {"token_id": rec["id"], "token_secret": rec["token_secret"], "consumer_key": body.consumer_key,
            "role": rec["role"]}


@router.delete("/tokens/{token_id}", status_code=204, responses={404: {"description": "no token"}})
def revoke_token(b: AccountBackend, token_id: Annotated[str, Path(max_length=256)]) -> Response:
    rec = b.store.get("_tokens", token_id)
    if rec is None:
        raise HTTPException(404, f"no token {token_id!r}")
    b.store.put("_tokens", token_id, {**rec, "revoked": True})
    return Response(status_code=204)


@router.post("/oauth2/clients", status_code=201)
def add_oauth2_client(b: AccountBackend, body: OAuth2ClientIn) -> dict[str, Any]:
    """An OAuth 2.0 client-credentials mapping: client id + certificate id -> the public key that signs JWTs."""
    pem = body.public_key_pem
    if "BEGIN CERTIFICATE" in pem:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        try:
            cert = x509.load_pem_x509_certificate(pem.encode())
        except ValueError:
            raise HTTPException(400, "public_key_pem: not a PEM certificate") from None
        pem = cert.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    elif "BEGIN PUBLIC KEY" not in pem:
        raise HTTPException(400, "public_key_pem: a PEM public key or certificate is expected")
    return b.add_oauth2_client(body.client_id, body.certificate_id, pem, list(body.scopes))


@router.post("/access-tokens", status_code=201)
def mint_access_token(b: AccountBackend, body: AccessTokenIn | None = None) -> dict[str, Any]:
    """A bearer access token straight away (tests, benchmarks, fuzzing), as if minted by the token endpoint."""
    body = body or AccessTokenIn()
    return b.mint_access_token("admin", list(body.scopes), body.expires_in)


@router.put("/release")
def set_release(b: AccountBackend, body: ReleaseIn) -> dict[str, Any]:
    """Which NetSuite release the account runs (2026.1 default, 2026.2)."""
    b.update_config(release=body.release, windows=[w for w in b.config.get("windows", [])
                                                   if not w.get("to_release")])
    return {"account": b.account, "release": b.release, "changes": CHANGES[b.release],
            "releases": list(RELEASES)}


@router.put("/concurrency")
def set_concurrency(b: AccountBackend, sim: Sim, body: ConcurrencyIn) -> dict[str, Any]:
    """The account's concurrency limit: a service tier plus SuiteCloud Plus licences (10 each), or a limit."""
    limit = body.limit or TIER_LIMITS[body.tier or "shared"] + 10 * body.suitecloud_plus_licenses
    spec = sim.quotas.get(CONCURRENCY_QUOTA) or QuotaSpec(**sim.default_quotas()[0].model_dump())
    sim.quotas.set(spec.model_copy(update={"tenant_limits": {**spec.tenant_limits, b.account: limit}}))
    b.update_config(tier=body.tier or "custom", concurrency_limit=limit)
    return {"account": b.account, "tier": body.tier or "custom", "concurrency_limit": limit}


@router.post("/windows", status_code=201)
def add_window(b: AccountBackend, body: WindowIn) -> dict[str, Any]:
    """A maintenance window (503 throughout) or a release upgrade (503, then the account runs to_release)."""
    window = {"kind": body.kind, "start": _aware(body.start).isoformat(), "end": _aware(body.end).isoformat(),
              "to_release": body.to_release}
    b.update_config(windows=[*b.config.get("windows", []), window])
    return window


@router.get("/windows")
def list_windows(b: AccountBackend) -> dict[str, Any]:
    return {"windows": b.config.get("windows", [])}


@router.delete("/windows", status_code=204)
def clear_windows(b: AccountBackend) -> Response:
    b.update_config(release=b.release, windows=[])
    return Response(status_code=204)


@router.put("/settings")
def set_settings(b: AccountBackend, body: TbaSettingsIn) -> dict[str, Any]:
    """TBA timestamp check (virtual clock only, or virtual or real), its tolerance, async job delay."""
    b.update_config(**body.model_dump())
    return body.model_dump()
