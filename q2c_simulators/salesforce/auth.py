"""Credentials: the session behind a REST request (the kernel's authenticate hook), the OAuth 2.0 grants (password,
client_credentials, JWT bearer, refresh_token), revoke, and the SOAP partner `login` call.

How a username maps to an org (tenant): a username declared through admin (or seen before) belongs to the tenant it
was declared in; an unknown username signs up to the tenant named by its domain (`jane@acme.example` -> tenant
`acme.example`), and its first password becomes its password. A wrong password afterwards fails with
`invalid_grant` (OAuth) or `INVALID_LOGIN` (SOAP).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from starlette.requests import Request

from q2c_simulators.kernel.admin import TENANT_PATTERN
from q2c_simulators.kernel.http import header_value

from .exceptions import NotFound
from .models import SalesforceBackend

if TYPE_CHECKING:
    from .simulator import SalesforceSimulator

LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


class OAuthError(Exception):
    """An OAuth 2.0 error response (`{"error", "error_description"}`), not the REST error list."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        self.error, self.description, self.status = error, description, status


class SoapParseError(Exception):
    """A SOAP login body that is not XML."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal of an authenticated request: its org's backend, the session's user, the API version of the
    path (the default version outside /services/data)."""

    backend: SalesforceBackend
    user_id: str
    version: str


def base_url(request: Request) -> str:
    host = request.headers.get("host") or "salesforce.sim"
    return f"{request.url.scheme}://{host}{request.scope.get('root_path', '')}"


def locate_user(sim: SalesforceSimulator, username: str, *, sign_up: bool) -> tuple[SalesforceBackend, dict] | None:
    for tid in sim.tenants.ids():
        b: SalesforceBackend = sim.tenants.get(tid)
        user = b.find_user(username)
        if user is not None:
            return b, user
    if not sign_up:
        return None
    tenant = username.rpartition("@")[2]
    if "@" not in username or not re.fullmatch(TENANT_PATTERN, tenant):
        return None
    b = sim.tenants.get(tenant)
    return b, b.ensure_user(username)


def password_login(sim: SalesforceSimulator, username: str, password: str) -> tuple[SalesforceBackend, dict] | None:
    found = locate_user(sim, username, sign_up=True)
    if found is None or not password:
        return None
    b, user = found
    if not user.get("IsActive", True):
        return None
    cred = b.store.get("_credentials", user["Id"])
    if cred is None:
        b.ensure_user(username, password)
        return b, user
    token = cred.get("security_token") or ""
    if hmac.compare_digest(cred["password"], password) or (token and hmac.compare_digest(cred["password"] + token,
                                                                                          password)):
        return b, user
    return None


def token_body(b: SalesforceBackend, user: dict, request: Request, *, refresh: bool = False,
               lifetime: float | None = None) -> dict[str, Any]:
    issued = b.issue_token(user["Id"], refresh=refresh, lifetime=lifetime)
    org = b.org["id"]
    base = base_url(request)
    ident = f"{base}/id/{org}/{user['Id']}"
    signature = base64.b64encode(hmac.new(org.encode(), (ident + issued["issued_at"]).encode(),
                                          hashlib.sha256).digest()).decode()
    out = {"access_token": issued["access_token"], "instance_url": base, "id": ident, "token_type": "Bearer",
           "issued_at": issued["issued_at"], "signature": signature, "scope": "api refresh_token"}
    if "refresh_token" in issued:
        out["refresh_token"] = issued["refresh_token"]
    return out


def find_app(sim: SalesforceSimulator, client_id: str) -> tuple[SalesforceBackend, dict] | None:
    for tid in sim.tenants.ids():
        b: SalesforceBackend = sim.tenants.get(tid)
        app = b.store.get("_apps", client_id)
        if app is not None:
            return b, app
    return None


def _jwt_login(sim: SalesforceSimulator, assertion: str, request: Request) -> tuple[SalesforceBackend, dict]:
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False, "verify_exp": False, "verify_aud": False})
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if header.get("alg") != "RS256":
        raise OAuthError("invalid_grant", "invalid assertion: algorithm must be RS256")
    iss, sub, aud, exp = claims.get("iss"), claims.get("sub"), claims.get("aud"), claims.get("exp")
    if not isinstance(iss, str) or not isinstance(sub, str) or not isinstance(exp, (int, float)):
        raise OAuthError("invalid_grant", "invalid assertion: iss, sub and exp are required")
    audiences = {*LOGIN_AUDIENCES, base_url(request)}
    auds = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a.rstrip("/") in audiences for a in auds):
        raise OAuthError("invalid_grant", "audience is invalid")
    if exp < time.time():  # clients sign with their own (wall) clock
        raise OAuthError("invalid_grant", "expired authorization code")
    found_app = find_app(sim, iss)
    if found_app is not None and found_app[1].get("cert_pem"):
        try:
            from cryptography.x509 import load_pem_x509_certificate

            key = load_pem_x509_certificate(found_app[1]["cert_pem"].encode()).public_key()
            jwt.decode(assertion, key=key, algorithms=["RS256"], options={"verify_aud": False, "verify_exp": False})
        except (jwt.PyJWTError, ValueError):
            raise OAuthError("invalid_grant", "invalid assertion: signature does not verify") from None
    found = locate_user(sim, sub, sign_up=found_app is None)
    if found is None:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return found


def caller(sim: SalesforceSimulator, request: Request) -> Caller:
    """Who a REST request acts as: an unknown API version is NOT_FOUND (before the session is looked at, as
    Salesforce answers), then the bearer token's session in the request's org, or INVALID_SESSION_ID."""
    version = None
    named = request.scope["path_params"].get("version")
    if named is not None:
        version = sim.version_paths.get(named)
        if version is None:
            raise NotFound()
    header = header_value(request.scope, b"authorization")
    b: SalesforceBackend = sim.backend(request)
    session = b.session(header.rpartition(" ")[2] if header else None)
    return Caller(b, session["user_id"], version or sim.default_version)


def token_grant(sim: SalesforceSimulator, request: Request, params: dict[str, str]) -> dict[str, Any]:
    """The token response of an OAuth 2.0 grant (password, client_credentials, JWT bearer, refresh_token), or an
    OAuthError."""
    grant = params.get("grant_type")
    if grant == "password":
        found = password_login(sim, params.get("username", ""), params.get("password", ""))
        if found is None:
            raise OAuthError("invalid_grant", "authentication failure")
        return token_body(*found, request)
    if grant == "client_credentials":
        client_id, secret = params.get("client_id"), params.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise OAuthError("invalid_client", "invalid client credentials") from None
        found_app = find_app(sim, client_id or "")
        if found_app is None or not hmac.compare_digest(found_app[1].get("client_secret") or "", secret or ""):
            raise OAuthError("invalid_client", "invalid client credentials")
        b, a = found_app
        user = b.find_user(a["run_as"]) if a.get("run_as") else None
        user = user or b.store.get("User", b.admin_user)
        return token_body(b, user, request)
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        b, user = _jwt_login(sim, params.get("assertion", ""), request)
        return token_body(b, user, request)
    if grant == "refresh_token":
        rt = params.get("refresh_token", "")
        for tid in sim.tenants.ids():
            b = sim.tenants.get(tid)
            row = b.store.get("_refresh_tokens", rt)
            if row is not None:
                return token_body(b, b.store.get("User", row["user_id"]), request)
        raise OAuthError("invalid_grant", "expired access/refresh token")
    raise OAuthError("unsupported_grant_type", "grant type not supported")


def revoke(sim: SalesforceSimulator, token: str | None) -> bool:
    """Revoke an access or refresh token of any org; False when no org knows it."""
    return bool(token) and any(sim.tenants.get(tid).revoke(token) for tid in sim.tenants.ids())


def soap_login(sim: SalesforceSimulator, raw: bytes) -> tuple[SalesforceBackend, dict] | None:
    """The org and user a SOAP partner `login` envelope signs in as (None: INVALID_LOGIN); SoapParseError when the
    body is not XML."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        raise SoapParseError from None
    values: dict[str, str] = {}
    for el in root.iter():
        local = el.tag.rpartition("}")[2]
        if local in ("username", "password", "organizationId") and el.text is not None:
            values[local] = el.text
    if "username" not in values:
        return None
    found = password_login(sim, values["username"], values.get("password", ""))
    if found is None:
        return None
    if values.get("organizationId") and values["organizationId"][:15] != found[0].org["id"][:15]:
        return None
    return found
