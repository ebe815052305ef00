"""Authentication as NetSuite does it: OAuth 1.0a token-based auth (TBA) and OAuth 2.0 client credentials (M2M).

TBA: `Authorization: OAuth realm="<account>", oauth_consumer_key, oauth_token, oauth_nonce, oauth_timestamp,
oauth_signature_method="HMAC-SHA256", oauth_version="1.0"[, oauth_body_hash], oauth_signature`. The signature is
checked by oauthlib's server-side `SignatureOnlyEndpoint` over the RFC 5849 base string (oauth_* header params
including oauth_body_hash, plus query params; a JSON body is not in the base string) with key
`consumer_secret&token_secret`. We add what oauthlib leaves to the server: the token must belong to the consumer
(integration) of this account, `oauth_body_hash` (when sent) must match the body (SHA-1, as Authlib sends it, or
SHA-256), a nonce may be used once, and the timestamp must be within the tolerance of the virtual clock (by default
of the virtual clock or the real one: clients sign with their wall clock, and a scenario that jumps the virtual clock
to month-end would otherwise lock every unchanged client out; set `tba_clock: virtual` through admin to be strict).

OAuth 2.0: `POST /services/rest/auth/oauth2/v1/token` with `grant_type=client_credentials`,
`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a JWT signed with the private key
of a certificate registered through admin (header `kid` = certificate id; claims iss = client id, scope, aud = the
token URL, iat, exp). Verified with PyJWT. The access token is then sent as `Authorization: Bearer`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import unquote

import jwt
from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint
from oauthlib.oauth1.rfc5849 import SIGNATURE_HMAC_SHA256
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

from .exceptions import NetSuiteError, invalid_login
from .models import NetSuiteBackend

_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~")
_DUMMY = "dummy-secret-never-matches"
JWT_ALGORITHMS = ["PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
TOKEN_LIFETIME = 3600
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def account_of_realm(authorization: str) -> str | None:
    """The realm of an OAuth 1.0a Authorization header (the account id), without validating anything."""
    start = authorization.find('realm="')
    if start < 0:
        return None
    end = authorization.find('"', start + 7)
    return authorization[start + 7 : end] if end > 0 else None


def account_of_bearer(authorization: str) -> str | None:
    token = authorization[7:].strip()
    parts = token.split(".", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "ns2" else None


class _Validator(RequestValidator):
    allowed_signature_methods = (SIGNATURE_HMAC_SHA256,)
    safe_characters = _SAFE
    client_key_length = (1, 256)
    access_token_length = (1, 256)
    nonce_length = (1, 256)
    timestamp_lifetime = 10**10  # oauthlib checks real time; we check the virtual clock in validate_timestamp_and_nonce
    dummy_client = "dummy-client"
    dummy_access_token = "dummy-token"
    # the transport is the server's business (`q2c sim serve --http` serves plain HTTP on purpose); the signature
    # base string still covers the scheme, so a request signed for https:// does not verify over http://
    enforce_ssl = False

    def __init__(self, backend: NetSuiteBackend) -> None:
        super().__init__()
        self.backend = backend
        self.failure: str | None = None

    def _fail(self, reason: str) -> None:
        self.failure = self.failure or reason

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        integration = self.backend.store.get("_integrations", client_key)
        ok = integration is not None and integration.get("enabled", True)
        if not ok:
            self._fail("consumer_key_rejected")
        return ok

    def get_client_secret(self, client_key: str, request: Any) -> str:
        integration = self.backend.store.get("_integrations", client_key)
        return integration["consumer_secret"] if integration else _DUMMY

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        rec = self.backend.store.get("_tokens", token)
        if rec is None or rec.get("revoked") or rec.get("consumer_key") != client_key:
            self._fail("token_rejected")
            return _DUMMY
        return rec["token_secret"]

    def validate_timestamp_and_nonce(self, client_key: str, timestamp: str, nonce: str, request: Any,
                                     request_token: str | None = None, access_token: str | None = None) -> bool:
        backend = self.backend
        config = backend.config
        tolerance = float(config.get("timestamp_tolerance_seconds", 300))
        ts = int(timestamp)
        now = backend.clock.timestamp()
        fresh = abs(now - ts) <= tolerance
        if not fresh and config.get("tba_clock", "virtual_or_real") == "virtual_or_real":
            fresh = abs(time.time() - ts) <= tolerance
        if not fresh:
            self._fail("timestamp_refused")
            return False
        nonces = backend.nonces
        if len(nonces) > 50_000:  # forget nonces whose timestamps can no longer pass the freshness check
            horizon = min(now, time.time()) - 2 * tolerance
            for key in [k for k, v in nonces.items() if v < horizon]:
                del nonces[key]
        key = (client_key, access_token or request.resource_owner_key or "", nonce)
        if key in nonces:
            self._fail("nonce_used")
            return False
        nonces[key] = float(ts)
        return True


def verify_tba(backend: NetSuiteBackend, method: str, uri: str, authorization: str, body: bytes) -> str:
    """Check a TBA request; returns the token's role. Raises 401 INVALID_LOGIN on any failure."""
    realm = account_of_realm(authorization)
    if realm != backend.account:
        raise invalid_login(realm)
    validator = _Validator(backend)
    endpoint = SignatureOnlyEndpoint(validator)
    try:
        valid, request = endpoint.validate_request(uri, method, body=None, headers={"Authorization": authorization})
    except ValueError:
        valid, request = False, None
    if not valid or request is None or validator.failure or not request.resource_owner_key:
        raise invalid_login(realm, "token_rejected")
    params = dict(parse_authorization_header(authorization))
    sent = params.get("oauth_body_hash")
    sent = unquote(sent) if sent is not None else None
    if sent is not None:
        expected = {base64.b64encode(hashlib.sha1(body).digest()).decode(),  # noqa: S324 - what Authlib sends
                    base64.b64encode(hashlib.sha256(body).digest()).decode()}
        if not any(hmac.compare_digest(sent, e) for e in expected):
            raise invalid_login(realm, "token_rejected")
    token = backend.store.get("_tokens", request.resource_owner_key) or {}
    return token.get("role", "Administrator")


def verify_bearer(backend: NetSuiteBackend, authorization: str) -> str:
    token = authorization[7:].strip()
    rec = backend.store.get("_access_tokens", token)
    if rec is None or rec["expires_at"] <= backend.clock.timestamp():
        raise invalid_login(backend.account, "invalid_token")
    if "rest_webservices" not in rec.get("scopes", []):
        raise NetSuiteError(403, "INSUFFICIENT_PERMISSION", "The access token's scope does not include rest_webservices.")
    return "Administrator"


class OAuth2Error(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def issue_token(backend: NetSuiteBackend, form: dict[str, str], token_url: str) -> dict[str, Any]:
    """Client credentials with a JWT client assertion (RFC 7523) -> an access token (about 60 minutes)."""
    if form.get("grant_type") != "client_credentials":
        raise OAuth2Error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise OAuth2Error(400, "invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = form.get("client_assertion") or ""
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuth2Error(400, "invalid_request", "client_assertion is not a JWT") from None
    client = backend.store.get("_oauth2_clients", str(claims.get("iss", "")))
    if client is None:
        raise OAuth2Error(401, "invalid_client", "unknown client (iss)")
    key = client["certificates"].get(str(header.get("kid", "")))
    if key is None:
        raise OAuth2Error(401, "invalid_client", "unknown certificate (kid)")
    if header.get("alg") not in JWT_ALGORITHMS:
        raise OAuth2Error(400, "invalid_request", f"alg must be one of {', '.join(JWT_ALGORITHMS)}")
    try:
        claims = jwt.decode(assertion, key, algorithms=JWT_ALGORITHMS,
                            options={"verify_exp": False, "verify_iat": False, "verify_aud": False,
                                     "verify_nbf": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise OAuth2Error(401, "invalid_client", "the client assertion's signature does not verify") from None
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and (a == token_url or a.endswith("/services/rest/auth/oauth2/v1/token")) for a in auds):
        raise OAuth2Error(400, "invalid_grant", "aud must be the token endpoint URL")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, (int, float)) or not isinstance(iat, (int, float)):
        raise OAuth2Error(400, "invalid_grant", "exp and iat are required")
    nows = [backend.clock.timestamp()]
    if backend.config.get("tba_clock", "virtual_or_real") == "virtual_or_real":
        nows.append(time.time())
    if not any(exp > now and iat <= now + 60 and exp - iat <= 3600 for now in nows):
        raise OAuth2Error(400, "invalid_grant", "the client assertion is expired, not yet valid or lives over 60 min")
    scope = claims.get("scope", "")
    scopes = scope.replace(",", " ").split() if isinstance(scope, str) else [str(s) for s in scope or []]
    if not scopes or any(s not in ("rest_webservices", "restlets", "suite_analytics") for s in scopes):
        raise OAuth2Error(400, "invalid_scope", "scope must be rest_webservices, restlets or suite_analytics")
    return backend.mint_access_token(client["id"], scopes, TOKEN_LIFETIME)
