"""The NetSuite simulator: kernel plumbing (tenant = account id, error shape, concurrency governance, admin)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from q2c_simulators.kernel import QuotaSpec, Simulator

from .auth import account_of_bearer, account_of_realm
from .exceptions import NetSuiteError, error_body, error_json
from .models import NetSuiteBackend
from .records import json_schema, record_types
from .releases import CHANGES, DEFAULT_RELEASE, RELEASES
from .routes import build_routes, error_schema

CONCURRENCY_QUOTA = "concurrency"
TIER_LIMITS = {"shared": 5, "tier1": 15, "tier2": 25, "tier3": 35, "tier4": 45, "tier5": 55}
_HOST_SUFFIX = ".suitetalk.api.netsuite.com"
ACCOUNT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
Account = Annotated[str, Path(pattern=ACCOUNT_PATTERN)]


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


class NetSuiteSimulator(Simulator):
    name = "netsuite"
    title = "NetSuite"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._openapi_cache: dict[str, dict[str, Any]] = {}
        # Other HTTP errors (404 of a bad path, 405) in NetSuite's shape, replacing the kernel's generic handler.
        self.routes_app.add_exception_handler(StarletteHTTPException, self.routes_app.state.http_error_handler)

    # ---- kernel hooks ----------------------------------------------------------------------------------------
    def build_routes(self) -> FastAPI:
        return build_routes(self)

    def new_backend(self, tenant_id: str) -> NetSuiteBackend:
        return NetSuiteBackend(tenant_id, self.clock)

    def default_quotas(self) -> list[QuotaSpec]:
        return [QuotaSpec(name=CONCURRENCY_QUOTA, kind="concurrency", limit=TIER_LIMITS["shared"],
                          description="NetSuite account concurrency limit (REST, SOAP and RESTlets share it); "
                                      "shared tier = 5")]

    def tenant_of(self, headers: Headers, path: str) -> str | None:
        explicit = headers.get("x-sim-tenant")
        if explicit:
            return explicit
        authorization = headers.get("authorization")
        if authorization:
            scheme = authorization[:7].lower()
            account = None
            if scheme.startswith("oauth "):
                account = account_of_realm(authorization)
            elif scheme == "bearer ":
                account = account_of_bearer(authorization)
            if account:
                return account
        host = (headers.get("host") or "").split(":")[0].lower()
        if host.endswith(_HOST_SUFFIX):
            return host[: -len(_HOST_SUFFIX)].upper().replace("-", "_")
        return super().tenant_of(headers, path)

    def error_response(self, status: int, code: str | None, message: str | None,
                       retry_after: float | None = None) -> Response:
        headers = {"Retry-After": str(max(0, round(retry_after)))} if retry_after is not None else None
        return error_json(error_body(status, code, message or "An error occurred."), status, headers)

    def quota_response(self, quota: QuotaSpec, retry_after: float | None, tenant: str | None) -> Response:
        # Oracle documents REST over-limit answers as 429 Too Many Requests but not their body; this body follows the
        # documented error format, and the code/detail strings are our choice (not found in Oracle material).
        # Third-party notes say NetSuite sends no Retry-After, so neither do we.
        return error_json(error_body(429, "CONCURRENCY_LIMIT_EXCEEDED",
                                     "Request blocked by the account's concurrency limit "
                                     f"({self.concurrency_limit(tenant)} concurrent requests)."), 429)

    def concurrency_limit(self, account: str | None) -> int:
        spec = self.quotas.get(CONCURRENCY_QUOTA)
        return spec.limit_for(account) if spec is not None else 0

    # ---- OpenAPI of everything served ------------------------------------------------------------------------
    def openapi(self, release: str = DEFAULT_RELEASE) -> dict[str, Any]:
        cached = self._openapi_cache.get(release)
        if cached is not None:
            return cached
        from fastapi.openapi.utils import get_openapi

        app = self.routes_app
        doc = get_openapi(title=app.title, version=release, description=app.description, routes=app.routes)
        doc = copy.deepcopy(doc)
        for path_item in doc.get("paths", {}).values():
            for op in path_item.values():
                responses = op.get("responses", {})
                responses.pop("422", None)
                for resp in responses.values():
                    content = resp.get("content")
                    if content and len(content) > 1:
                        content.pop("application/json", None)
                if op.get("operationId") not in ("oauth2_token",):
                    for status in ("400",):
                        responses.setdefault(status, {"description": "Bad request"})
        components = doc.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["NetSuiteError"] = error_schema()
        for rt in record_types(release).values():
            schema = json_schema(rt, "/services/rest")
            for key in ("$schema", "links"):
                schema.pop(key, None)
            schemas[f"record.{rt.name}"] = schema
        components["securitySchemes"] = {
            "tba": {"type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "OAuth 1.0a TBA, HMAC-SHA256, realm = account id"},
            "oauth2": {"type": "http", "scheme": "bearer",
                       "description": "OAuth 2.0 client credentials (JWT assertion) access token"},
        }
        doc["security"] = [{"tba": []}, {"oauth2": []}]
        doc["info"]["x-ns-release-changes"] = CHANGES[release]
        self._openapi_cache[release] = doc
        return doc

    # ---- admin ---------------------------------------------------------------------------------------------
    def extend_admin(self, admin: FastAPI) -> None:
        sim = self
        tags = ["netsuite"]
        prefix = "/netsuite/accounts/{account}"

        def backend(account: str) -> NetSuiteBackend:
            return sim.tenants.get(account)

        @admin.get(prefix, tags=tags)
        def get_account(account: Account) -> dict[str, Any]:
            """The account's settings: release, concurrency limit, windows, TBA clock; credential counts."""
            b = backend(account)
            config = {k: v for k, v in b.config.items() if k != "id"}
            return {"account": account, **config, "effective_release": b.release,
                    "concurrency_limit": sim.concurrency_limit(account),
                    "integrations": b.store.count("_integrations"), "tokens": b.store.count("_tokens"),
                    "oauth2_clients": b.store.count("_oauth2_clients")}

        @admin.post(f"{prefix}/integrations", status_code=201, tags=tags)
        def add_integration(account: Account, body: IntegrationIn | None = None) -> dict[str, Any]:
            """An integration record (TBA consumer key and secret); generated unless given."""
            body = body or IntegrationIn()
            rec = backend(account).add_integration(body.name, body.consumer_key, body.consumer_secret)
            return {"consumer_key": rec["id"], "consumer_secret": rec["consumer_secret"], "name": rec["name"]}

        @admin.post(f"{prefix}/tokens", status_code=201, responses={404: {"description": "unknown consumer key"}},
                    tags=tags)
        def add_token(account: Account, body: TokenIn) -> dict[str, Any]:
            """An access token (token id and secret) for an integration of this account."""
            b = backend(account)
            if b.store.get("_integrations", body.consumer_key) is None:
                raise HTTPException(404, f"no integration with consumer key {body.consumer_key!r} in {account}")
            rec = b.add_token(body.consumer_key, body.token_id, body.token_secret, body.role)
            return {"token_id": rec["id"], "token_secret": rec["token_secret"], "consumer_key": body.consumer_key,
                    "role": rec["role"]}

        @admin.delete(f"{prefix}/tokens/{{token_id}}", status_code=204, responses={404: {"description": "no token"}},
                      tags=tags)
        def revoke_token(account: Account, token_id: Annotated[str, Path(max_length=256)]) -> Response:
            b = backend(account)
            rec = b.store.get("_tokens", token_id)
            if rec is None:
                raise HTTPException(404, f"no token {token_id!r}")
            b.store.put("_tokens", token_id, {**rec, "revoked": True})
            return Response(status_code=204)

        @admin.post(f"{prefix}/oauth2/clients", status_code=201, tags=tags)
        def add_oauth2_client(account: Account, body: OAuth2ClientIn) -> dict[str, Any]:
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
            return backend(account).add_oauth2_client(body.client_id, body.certificate_id, pem, list(body.scopes))

        @admin.post(f"{prefix}/access-tokens", status_code=201, tags=tags)
        def mint_access_token(account: Account, body: AccessTokenIn | None = None) -> dict[str, Any]:
            """A bearer access token straight away (tests, benchmarks, fuzzing), as if minted by the token endpoint."""
            body = body or AccessTokenIn()
            return backend(account).mint_access_token("admin", list(body.scopes), body.expires_in)

        @admin.put(f"{prefix}/release", tags=tags)
        def set_release(account: Account, body: ReleaseIn) -> dict[str, Any]:
            """Which NetSuite release the account runs (2026.1 default, 2026.2)."""
            b = backend(account)
            b.update_config(release=body.release, windows=[w for w in b.config.get("windows", [])
                                                           if not w.get("to_release")])
            return {"account": account, "release": b.release, "changes": CHANGES[b.release],
                    "releases": list(RELEASES)}

        @admin.put(f"{prefix}/concurrency", tags=tags)
        def set_concurrency(account: Account, body: ConcurrencyIn) -> dict[str, Any]:
            """The account's concurrency limit: a service tier plus SuiteCloud Plus licences (10 each), or a limit."""
            limit = body.limit or TIER_LIMITS[body.tier or "shared"] + 10 * body.suitecloud_plus_licenses
            spec = sim.quotas.get(CONCURRENCY_QUOTA) or QuotaSpec(**sim.default_quotas()[0].model_dump())
            sim.quotas.set(spec.model_copy(update={"tenant_limits": {**spec.tenant_limits, account: limit}}))
            backend(account).update_config(tier=body.tier or "custom", concurrency_limit=limit)
            return {"account": account, "tier": body.tier or "custom", "concurrency_limit": limit}

        @admin.post(f"{prefix}/windows", status_code=201, tags=tags)
        def add_window(account: Account, body: WindowIn) -> dict[str, Any]:
            """A maintenance window (503 throughout) or a release upgrade (503, then the account runs to_release)."""
            b = backend(account)
            window = {"kind": body.kind, "start": _aware(body.start).isoformat(), "end": _aware(body.end).isoformat(),
                      "to_release": body.to_release}
            b.update_config(windows=[*b.config.get("windows", []), window])
            return window

        @admin.get(f"{prefix}/windows", tags=tags)
        def list_windows(account: Account) -> dict[str, Any]:
            return {"windows": backend(account).config.get("windows", [])}

        @admin.delete(f"{prefix}/windows", status_code=204, tags=tags)
        def clear_windows(account: Account) -> Response:
            b = backend(account)
            b.update_config(release=b.release, windows=[])
            return Response(status_code=204)

        @admin.put(f"{prefix}/settings", tags=tags)
        def set_settings(account: Account, body: TbaSettingsIn) -> dict[str, Any]:
            """TBA timestamp check (virtual clock only, or virtual or real), its tolerance, async job delay."""
            backend(account).update_config(**body.model_dump())
            return body.model_dump()


def _aware(value: datetime) -> datetime:
    from datetime import timezone

    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


__all__ = ["NetSuiteSimulator", "NetSuiteError"]
