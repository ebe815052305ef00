"""PSA credentials: bearer tokens that name their account and, optionally, a user.

Tokens are minted at `POST /__admin/psa/tokens`; they are stateless HMACs (`psa~<account>~<user or 0>~<sig>`), so
they survive reset, snapshot and restore (a token for a user that no longer exists acts as that user id and fails
validation where the user matters).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from .exceptions import PsaError

_TOKEN_KEY = b"q2c-psa-simulator-token-v1"
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="psa"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: the token's account, and its user (None for an account-level token)."""

    account: str
    user_id: str | None


def _token_sig(account: str, user: str) -> str:
    return hmac.new(_TOKEN_KEY, f"{account}~{user}".encode(), hashlib.sha256).hexdigest()[:32]


def mint_token(account: str, user_id: str | None = None) -> str:
    """A bearer token for `account` (acting as `user_id`, or as the account itself when None)."""
    user = user_id or "0"
    return f"psa~{account}~{user}~{_token_sig(account, user)}"


@lru_cache(maxsize=10_000)  # every request names its account through its token: one HMAC per distinct token
def principal_of(authorization: str | None) -> Principal | None:
    """The principal of a valid `Bearer` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    parts = token.strip().split("~")
    if len(parts) == 4 and parts[0] == "psa" and hmac.compare_digest(parts[3], _token_sig(parts[1], parts[2])):
        return Principal(parts[1], None if parts[2] == "0" else parts[2])
    return None


def unauthorized() -> PsaError:
    return PsaError("Invalid OAuth 2 Request", status=401, headers=WWW_AUTHENTICATE)
