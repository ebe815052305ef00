"""Vendor clients built from the configuration file's ``[vendors.<name>]`` tables (q2c_harness/config.py): the
credentials kind chosen there becomes the connector's authenticator, secrets are read when the client is built.

Base URLs in the file are hosts as the vendors print them; the API roots are added here: Salesforce's instance URL
as is, NetSuite ``…/services/rest``, the PSA ``…/api/v1``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from q2c_harness.config import ConfigError, VendorSettings

from .http import Authenticator, BearerToken
from .netsuite import NetSuiteClient, NetSuiteOAuth2, NetSuiteTBA
from .psa import PsaClient
from .salesforce import DEFAULT_LOGIN_URL, SalesforceAuth, SalesforceClient
from .tax import AvaTaxBasic, TaxClient


def _common(v: VendorSettings, kw: dict[str, Any]) -> dict[str, Any]:
    kw.setdefault("timeout", v.timeout)
    if v.ca_bundle:
        kw.setdefault("verify", v.ca_bundle)
    if v.concurrency:
        kw.setdefault("concurrency", v.concurrency)
    return kw


def salesforce_auth(v: VendorSettings, environ: Mapping[str, str] | None = None) -> SalesforceAuth:
    c = v.credentials
    if c.type == "bearer":
        return SalesforceAuth.session(c.token.read(environ))
    if c.type == "jwt_bearer":
        return SalesforceAuth(grant="jwt_bearer", client_id=c.get("client_id", environ),
                              username=c.get("username", environ), private_key=c.get("private_key", environ),
                              login_url=c.get("login_url", environ) or DEFAULT_LOGIN_URL)
    # client credentials are issued by the org's own My Domain (the instance URL), not login.salesforce.com
    return SalesforceAuth(grant="client_credentials", client_id=c.get("client_id", environ),
                          client_secret=c.get("client_secret", environ),
                          login_url=c.get("login_url", environ) or v.base_url)


def netsuite_auth(v: VendorSettings, environ: Mapping[str, str] | None = None) -> Authenticator:
    c = v.credentials
    if c.type == "bearer":
        return BearerToken(c.token.read(environ))
    if c.type == "tba":
        return NetSuiteTBA(v.account or "", **{k: c.get(k, environ) or "" for k in (
            "consumer_key", "consumer_secret", "token_id", "token_secret")})
    return NetSuiteOAuth2(v.account or "", c.get("client_id", environ) or "", c.get("certificate_id", environ) or "",
                          c.get("private_key", environ) or "", algorithm=c.get("algorithm", environ) or "PS256")


def salesforce_client(v: VendorSettings, environ: Mapping[str, str] | None = None, **kw: Any) -> SalesforceClient:
    if v.api_version:
        kw.setdefault("api_version", v.api_version)
    return SalesforceClient(v.base_url, auth=salesforce_auth(v, environ), **_common(v, kw))


def netsuite_client(v: VendorSettings, environ: Mapping[str, str] | None = None, **kw: Any) -> NetSuiteClient:
    return NetSuiteClient(v.account or "", auth=netsuite_auth(v, environ), base_url=f"{v.base_url}/services/rest",
                          **_common(v, kw))


def psa_client(v: VendorSettings, environ: Mapping[str, str] | None = None, **kw: Any) -> PsaClient:
    return PsaClient(f"{v.base_url}/api/v1", token=v.credentials.token.read(environ), **_common(v, kw))


def tax_client(v: VendorSettings, environ: Mapping[str, str] | None = None, **kw: Any) -> TaxClient:
    """The tax service (AvaTax REST v2 style, ``{base_url}/api/v2``): Basic account id + license key, or bearer."""
    c = v.credentials
    auth: Authenticator = (AvaTaxBasic(c.get("account_id", environ) or "", c.get("license_key", environ) or "")
                           if c.type == "basic" else BearerToken(c.token.read(environ)))
    return TaxClient(v.base_url, auth=auth, company=v.company or "DEFAULT", **_common(v, kw))


CLIENTS = {"salesforce": salesforce_client, "netsuite": netsuite_client, "psa": psa_client, "tax": tax_client}


async def access_token(v: VendorSettings, environ: Mapping[str, str] | None = None, **kw: Any) -> str:
    """A bearer token for these credentials: the configured one, or one minted at the vendor's token endpoint
    (Salesforce JWT bearer / client credentials, NetSuite OAuth 2.0 client credentials). TBA signs each request and
    has no token to hand out."""
    c = v.credentials
    if c.type == "bearer":
        return c.token.read(environ)
    if c.type == "tba":
        raise ConfigError(f"{c.where}: TBA signs every request and has no bearer token; use NetSuite OAuth 2.0 "
                          "client credentials (type = \"oauth2_client_credentials\") or a token for this command")
    if v.name not in ("salesforce", "netsuite"):
        raise ConfigError(f"{c.where}: {c.type} is not a credentials kind of {v.name}")
    client = CLIENTS[v.name](v, environ, **kw)
    async with client:
        await client.auth.refresh(client)
        token = getattr(client.auth, "access_token", None)
    if not token:
        raise ConfigError(f"{c.where}: the token endpoint gave no access token")
    return str(token)


def bearer_headers(v: VendorSettings, environ: Mapping[str, str] | None = None, **kw: Any) -> dict[str, str]:
    """``Authorization: Bearer …`` for tools that replay requests with fixed headers (parity, pact verification)."""
    return {"Authorization": f"Bearer {asyncio.run(access_token(v, environ, **kw))}"}
