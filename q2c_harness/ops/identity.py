"""Who is calling the ops API: the actor every exception-queue action is recorded under.

Three kinds of bearer credential, any of them accepted:

- per-user tokens: a JSON file (``Q2C_OPS_USERS``) mapping each user to the SHA-256 of their token,
  ``{"ana@acme.example": "sha256:9f86d0...", ...}`` (only digests are stored; `q2c core` never sees the tokens);
- an OIDC / JWT bearer token from the firm's identity provider, verified with its public key (``Q2C_OPS_JWT_KEY``: a
  PEM file; ``Q2C_OPS_JWT_AUDIENCE``, ``Q2C_OPS_JWT_ISSUER`` when set are required claims; RS256/ES256/EdDSA): the
  actor is the ``preferred_username``, else ``email``, else ``sub`` claim;
- the shared service token (``Q2C_OPS_TOKEN``): the actor is ``ops-token`` (actions are not attributable to a person:
  give people their own tokens).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_ACTOR = "ops-token"
JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"]


def token_digest(token: str) -> str:
    """What the users file stores for a token."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class JwtVerifier:
    public_key: str
    audience: str | None = None
    issuer: str | None = None

    def actor(self, token: str) -> str | None:
        import jwt

        options = {"require": ["exp", "sub"], "verify_aud": self.audience is not None}
        try:
            claims = jwt.decode(token, self.public_key, algorithms=JWT_ALGORITHMS, audience=self.audience,
                                issuer=self.issuer, options=options)
        except jwt.PyJWTError:
            return None
        name = claims.get("preferred_username") or claims.get("email") or claims.get("sub")
        return str(name)[:100] if name else None


@dataclass(frozen=True)
class Identities:
    service_token: str | None = None
    users: dict[str, str] = field(default_factory=dict)  # user -> token digest
    jwt: JwtVerifier | None = None

    @classmethod
    def from_env(cls, service_token: str | None = None) -> "Identities":
        users: dict[str, str] = {}
        if path := os.environ.get("Q2C_OPS_USERS"):
            users = load_users(Path(path))
        jwt_verifier = None
        if key := os.environ.get("Q2C_OPS_JWT_KEY"):
            jwt_verifier = JwtVerifier(Path(key).read_text(), audience=os.environ.get("Q2C_OPS_JWT_AUDIENCE") or None,
                                       issuer=os.environ.get("Q2C_OPS_JWT_ISSUER") or None)
        return cls(service_token or os.environ.get("Q2C_OPS_TOKEN"), users, jwt_verifier)

    @property
    def configured(self) -> bool:
        return bool(self.service_token or self.users or self.jwt)

    def actor(self, credential: str) -> str | None:
        """The caller's name for a bearer credential, or None when it is not one of ours."""
        digest = token_digest(credential)
        for user, want in self.users.items():
            if hmac.compare_digest(digest, want):
                return user
        if self.jwt is not None and credential.count(".") == 2:
            if (name := self.jwt.actor(credential)) is not None:
                return name
        if self.service_token and hmac.compare_digest(credential.encode(), self.service_token.encode()):
            return SERVICE_ACTOR
        return None


def load_users(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"Q2C_OPS_USERS {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.startswith("sha256:")
                                             for k, v in data.items()):
        raise RuntimeError(f"Q2C_OPS_USERS {path}: expected {{\"user\": \"sha256:<hex of the token>\", ...}}")
    too_long = [u for u in data if not 0 < len(u) <= 100]
    if too_long:
        raise RuntimeError(f"Q2C_OPS_USERS {path}: user names are 1 to 100 characters: {too_long[:3]}")
    return dict(data)
