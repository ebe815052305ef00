"""Login: the OAuth 2.0 token endpoint (password, client_credentials, JWT bearer, refresh_token grants), revoke,
userinfo, and the SOAP partner `login` call.

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
from typing import TYPE_CHECKING, Any

import jwt
from fastapi import FastAPI, Request
from starlette.responses import Response

from q2c_simulators.kernel.admin import TENANT_PATTERN

from .models import SalesforceBackend
from .responses import Json, soap_fault, soap_login_response

if TYPE_CHECKING:
    from .simulator import SalesforceSimulator

LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
TOKEN_OK = {"type": "object", "required": ["access_token", "instance_url"], "properties": {
    "access_token": {"type": "string"}, "instance_url": {"type": "string"}, "id": {"type": "string"},
    "token_type": {"type": "string"}, "issued_at": {"type": "string"}, "signature": {"type": "string"},
    "refresh_token": {"type": "string"}, "scope": {"type": "string"}}}
TOKEN_ERROR = {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string"}, "error_description": {"type": "string"}}}
TOKEN_FORM = {"type": "object", "properties": {
    "grant_type": {"type": "string"}, "client_id": {"type": "string"}, "client_secret": {"type": "string"},
    "username": {"type": "string"}, "password": {"type": "string"}, "assertion": {"type": "string"},
    "refresh_token": {"type": "string"}}}


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        self.error, self.description, self.status = error, description, status


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


def add_auth_routes(sim: SalesforceSimulator, app: FastAPI, add: Any) -> None:
    token_docs = {200: {"description": "Access token and instance_url",
                        "content": {"application/json": {"schema": TOKEN_OK}}},
                  400: {"description": "invalid_grant, invalid_client, unsupported_grant_type",
                        "content": {"application/json": {"schema": TOKEN_ERROR}}},
                  401: {"description": "invalid_client (bad client credentials)",
                        "content": {"application/json": {"schema": TOKEN_ERROR}}}}

    async def oauth_token(request: Request) -> Response:
        try:
            form = await request.form()
        except Exception:  # noqa: BLE001 - any unparsable body is a bad request
            form = {}
        params = {**dict(request.query_params), **{k: v for k, v in form.items() if isinstance(v, str)}}
        grant = params.get("grant_type")
        try:
            if grant == "password":
                found = password_login(sim, params.get("username", ""), params.get("password", ""))
                if found is None:
                    raise OAuthError("invalid_grant", "authentication failure")
                return Json(token_body(*found, request))
            if grant == "client_credentials":
                client_id, secret = params.get("client_id"), params.get("client_secret")
                basic = request.headers.get("authorization", "")
                if basic.lower().startswith("basic "):
                    try:
                        client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                    except (ValueError, UnicodeDecodeError):
                        raise OAuthError("invalid_client", "invalid client credentials") from None
                found_app = find_app(sim, client_id or "")
                if found_app is None or not hmac.compare_digest(found_app[1].get("client_secret") or "",
                                                                secret or ""):
                    raise OAuthError("invalid_client", "invalid client credentials")
                b, a = found_app
                user = b.find_user(a["run_as"]) if a.get("run_as") else None
                user = user or b.store.get("User", b.admin_user)
                return Json(token_body(b, user, request))
            if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                b, user = _jwt_login(sim, params.get("assertion", ""), request)
                return Json(token_body(b, user, request))
            if grant == "refresh_token":
                rt = params.get("refresh_token", "")
                for tid in sim.tenants.ids():
                    b = sim.tenants.get(tid)
                    row = b.store.get("_refresh_tokens", rt)
                    if row is not None:
                        body = token_body(b, b.store.get("User", row["user_id"]), request)
                        return Json(body)
                raise OAuthError("invalid_grant", "expired access/refresh token")
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        except OAuthError as exc:
            return Json({"error": exc.error, "error_description": exc.description}, exc.status)

    add("POST", "/services/oauth2/token", "oauth_token", oauth_token, auth_=False, tags=["auth"],
        body={"requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": TOKEN_FORM}}}},
        responses=token_docs, summary="OAuth 2.0 token: password, client_credentials, JWT bearer, refresh_token")

    async def oauth_revoke(request: Request) -> Response:
        try:
            form = await request.form()
        except Exception:  # noqa: BLE001
            form = {}
        token = form.get("token") if isinstance(form.get("token"), str) else request.query_params.get("token")
        for tid in sim.tenants.ids():
            if token and sim.tenants.get(tid).revoke(token):
                return Response(status_code=200)
        return Json({"error": "unsupported_token_type", "error_description": "this token type is not supported"}, 400)

    add("POST", "/services/oauth2/revoke", "oauth_revoke", oauth_revoke, auth_=False, tags=["auth"],
        body={"requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {
            "schema": {"type": "object", "properties": {"token": {"type": "string"}}}}}}},
        responses={200: {"description": "Revoked"}, 400: {"description": "unknown token", "content": {
            "application/json": {"schema": TOKEN_ERROR}}}})

    async def userinfo(request: Request) -> Response:
        header = request.headers.get("authorization")
        b: SalesforceBackend = sim.backend(request)
        session = b.session(header.rpartition(" ")[2] if header else None)
        user = b.store.get("User", session["user_id"])
        return Json({"sub": f"{base_url(request)}/id/{b.org['id']}/{user['Id']}", "user_id": user["Id"],
                     "organization_id": b.org["id"], "preferred_username": user["Username"],
                     "name": user.get("Name"), "email": user.get("Email"), "active": True})

    add("GET", "/services/oauth2/userinfo", "oauth_userinfo", userinfo, tags=["auth"],
        responses={200: {"description": "The session's user", "content": {"application/json": {
            "schema": {"type": "object"}}}}})

    async def soap_login(request: Request, version: str) -> Response:
        raw = await request.body()
        try:
            root = ET.fromstring(raw)
        except ET.ParseError:
            return soap_fault("INVALID_LOGIN", "Invalid request: the body is not a SOAP envelope", 500)
        values: dict[str, str] = {}
        for el in root.iter():
            local = el.tag.rpartition("}")[2]
            if local in ("username", "password", "organizationId") and el.text is not None:
                values[local] = el.text
        if "username" not in values:
            return soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
        found = password_login(sim, values["username"], values.get("password", ""))
        if found is None:
            return soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
        b, user = found
        if values.get("organizationId") and values["organizationId"][:15] != b.org["id"][:15]:
            return soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
        issued = b.issue_token(user["Id"])
        base = base_url(request)
        org = b.org["id"]
        ver = version if re.fullmatch(r"\d+\.\d", version) else sim.default_version
        return soap_login_response(issued["access_token"], f"{base}/services/Soap/u/{ver}/{org[:15]}", org[:15],
                                   user, int(b.org["session_seconds"]), base)

    add("POST", "/services/Soap/u/{version}", "soap_login", soap_login, auth_=False, tags=["auth"],
        body={"requestBody": {"required": True, "content": {"text/xml": {"schema": {"type": "string"}}}}},
        responses={200: {"description": "loginResponse with sessionId and serverUrl",
                         "content": {"text/xml": {"schema": {"type": "string"}}}},
                   500: {"description": "SOAP fault with sf:exceptionCode (INVALID_LOGIN)",
                         "content": {"text/xml": {"schema": {"type": "string"}}}}},
        summary="SOAP partner login")
