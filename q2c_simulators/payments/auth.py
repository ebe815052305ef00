"""Stripe API keys: `Authorization: Bearer sk_test_...` (stripe-python), or HTTP Basic with the key as the user
(`curl -u sk_test_...:`). A key names its account (the tenant) and is an HMAC under a key random per simulator, so
keys survive reset and snapshots and cannot be forged offline: `sk_test_{account}_{24 hex}`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

ACCOUNT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def key_of(authorization: str | None) -> str | None:
    """The API key an Authorization header carries, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer":
        return value or None
    if scheme == "basic":
        try:
            user = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None


class KeyRing:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._seen: dict[str, str | None] = {}

    def mint(self, account: str) -> str:
        return f"sk_test_{account}_{self._sig(account)}"

    def account_of(self, key: str | None) -> str | None:
        """The account a valid key belongs to, else None (cached: every request asks)."""
        if not key:
            return None
        if key in self._seen:
            return self._seen[key]
        account = None
        if key.startswith("sk_test_") and "_" in key[8:]:
            name, sig = key[8:].rsplit("_", 1)
            if ACCOUNT.fullmatch(name) and hmac.compare_digest(sig, self._sig(name)):
                account = name
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[key] = account
        return account

    def _sig(self, account: str) -> str:
        return hmac.new(self._secret, account.encode(), hashlib.sha256).hexdigest()[:24]


def redact(key: str) -> str:
    """Stripe's form in 'Invalid API Key provided: sk_test_****abcd'."""
    return f"{key[:8]}{'*' * 4}{key[-4:]}" if len(key) > 12 else "****"
