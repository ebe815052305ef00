"""AvaTax credentials: HTTP Basic with account id and license key, or a bearer token.

The SDK's `add_credentials(account_id, license_key)` sends `Authorization: Basic base64(account:key)`;
`add_credentials(token)` sends `Bearer token` (avalara `client.py`). The account id names the tenant. License keys
live in the account's store (minted at `POST /__admin/tax/accounts`, gone with a reset, kept by a snapshot);
bearer tokens are HMACs under a key random per simulator, so they cannot be forged offline.
Ping's `authenticationType` values are AvaTax's (AvaTax-REST-V2-DotNet-SDK `enums/AuthenticationTypeId.cs`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from .exceptions import AvaTaxError

ACCOUNT_ID = re.compile(r"^[1-9][0-9]{0,9}$")


@dataclass(frozen=True)
class Credentials:
    kind: str  # AccountIdLicenseKey, UsernamePassword, OpenIdBearerToken
    account_id: str | None
    secret: str


def parse_authorization(header: str | None) -> Credentials | None:
    """What an Authorization header claims (not yet verified), or None when there is none it understands."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic":
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep:
            return None
        if ACCOUNT_ID.fullmatch(user):
            return Credentials("AccountIdLicenseKey", user, password)
        return Credentials("UsernamePassword", None, password)
    if scheme == "bearer" and value:
        parts = value.split("~")
        account = parts[1] if len(parts) == 3 and parts[0] == "avatax" and ACCOUNT_ID.fullmatch(parts[1]) else None
        return Credentials("OpenIdBearerToken", account, value)
    return None


class TokenSigner:
    """Bearer tokens `avatax~{account}~{hmac}` under a key random per simulator instance."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def mint(self, account_id: str) -> str:
        return f"avatax~{account_id}~{self._sig(account_id)}"

    def valid(self, token: str) -> bool:
        parts = token.split("~")
        return len(parts) == 3 and hmac.compare_digest(parts[2], self._sig(parts[1]))

    def _sig(self, account_id: str) -> str:
        return hmac.new(self._key, account_id.encode(), hashlib.sha256).hexdigest()[:40]


def new_license_key() -> str:
    """16 upper-case hex characters, the form of an AvaTax license key."""
    return secrets.token_hex(8).upper()


def refusal(header: str | None, signer: TokenSigner) -> AvaTaxError:
    """Which 401 AvaTax answers, by what the Authorization header holds (developer.avalara.com/avatax/errors/
    AuthenticationIncomplete, BasicAuthIncorrect, BearerTokenInvalid, AuthenticationException)."""
    scheme = (header or "").partition(" ")[0].lower()
    creds = parse_authorization(header)
    if scheme not in ("basic", "bearer"):
        return AvaTaxError("AuthenticationIncomplete", "Authentication Incomplete.", target="HttpRequest",
                           description="You must provide an Authorization header of the type Basic or Bearer "
                                       "to authenticate correctly.")
    if creds is None and scheme == "basic":
        return AvaTaxError("BasicAuthIncorrect", "Incorrect Base header format.", target="HttpRequest",
                           description="The Basic header must be in the format 'Basic (Base64Encoded(value))' "
                                       "where Value is 'accountid' + ':' + 'licensekey'.")
    if creds is not None and creds.kind == "OpenIdBearerToken" and not signer.valid(creds.secret):
        return AvaTaxError("BearerTokenInvalid",
                           "The Bearer token you provided was not recognized by Avalara Identity.",
                           target="HttpRequest")
    return AvaTaxError("AuthenticationException", "Authentication failed.", target="HttpRequest",
                       description="Missing authentication or unable to authenticate the user or the account.")
