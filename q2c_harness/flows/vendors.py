"""Vendor access for the flows: configuration, and the three async clients on one background event loop.

Engine workflows and steps are synchronous (DBOS runs them on worker threads); the connectors are async. ``Vendors``
owns a private event loop in a daemon thread where the clients (and, in-process, the simulators' ASGI apps) live;
``Vendors.call(lambda v: v.ns.upsert(...))`` runs a coroutine there from any thread and returns its result, carrying
the engine's correlation id into the connectors' ``X-Correlation-Id``. One loop means one NetSuite concurrency
budget (the ``VendorAccount`` semaphore) shared by every workflow of the process.

Credentials: ``VendorConfig.from_env()`` (``Q2C_SF_URL``/``Q2C_SF_TOKEN``, ``Q2C_NS_URL``/``Q2C_NS_ACCOUNT`` with
``Q2C_NS_TOKEN`` or TBA ``Q2C_NS_CONSUMER_KEY``/``Q2C_NS_CONSUMER_SECRET``/``Q2C_NS_TOKEN_ID``/``Q2C_NS_TOKEN_SECRET``,
``Q2C_PSA_URL``/``Q2C_PSA_TOKEN``/``Q2C_PSA_WEBHOOK_SECRET``, ``Q2C_CA_BUNDLE``; the tax service, when used:
``Q2C_TAX_URL``/``Q2C_TAX_ACCOUNT``/``Q2C_TAX_LICENSE_KEY``/``Q2C_TAX_COMPANY``; the payment gateway:
``Q2C_PAYMENTS_URL``/``Q2C_PAYMENTS_KEY``/``Q2C_PAYMENTS_WEBHOOK_SECRET``), or ``from_endpoints_file`` (written by
``q2c sim serve --endpoints-file``): credentials are then minted through each simulator's admin API.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx

from q2c_harness.connectors.http import BearerToken, RetryPolicy
from q2c_harness.connectors.netsuite import NetSuiteClient, NetSuiteTBA
from q2c_harness.connectors.payments import PaymentsClient
from q2c_harness.connectors.psa import PsaClient
from q2c_harness.connectors.salesforce import SalesforceClient
from q2c_harness.connectors.tax import AvaTaxBasic, TaxClient
from q2c_harness import correlation

T = TypeVar("T")

SF_TENANT = "acme"
NS_ACCOUNT = "Q2C_SB1"
PSA_ACCOUNT = "acme"


@dataclass(frozen=True)
class VendorConfig:
    salesforce_url: str
    salesforce_token: str
    netsuite_url: str
    netsuite_account: str
    psa_url: str
    psa_token: str
    netsuite_token: str | None = None  # OAuth 2.0 bearer; else TBA below
    netsuite_tba: dict[str, str] | None = None
    psa_webhook_secret: str | None = None
    verify: str | bool = True
    netsuite_concurrency: int = 5
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=6, base_delay=0.05, max_delay=2.0,
                                                                   max_total_delay=30.0, seed=7))
    timeout: float = 30.0
    # the tax service (AvaTax style); None: tax comes from the reference data's rate table
    tax_url: str | None = None
    tax_account: str | None = None
    tax_license_key: str | None = None
    tax_company: str = "DEFAULT"
    # the payment gateway (Stripe style); None: cash arrives only as NetSuite customer payments
    payments_url: str | None = None
    payments_key: str | None = None
    payments_webhook_secret: str | None = None  # whsec_…, when the gateway pushes events to the core

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "VendorConfig":
        e = dict(os.environ if env is None else env)
        tba = None
        if e.get("Q2C_NS_CONSUMER_KEY"):
            tba = {k: e[f"Q2C_NS_{k.upper()}"] for k in ("consumer_key", "consumer_secret", "token_id",
                                                          "token_secret")}
        return cls(salesforce_url=e["Q2C_SF_URL"], salesforce_token=e["Q2C_SF_TOKEN"],
                   netsuite_url=e["Q2C_NS_URL"], netsuite_account=e.get("Q2C_NS_ACCOUNT", NS_ACCOUNT),
                   netsuite_token=e.get("Q2C_NS_TOKEN"), netsuite_tba=tba, psa_url=e["Q2C_PSA_URL"],
                   psa_token=e["Q2C_PSA_TOKEN"], psa_webhook_secret=e.get("Q2C_PSA_WEBHOOK_SECRET"),
                   verify=e.get("Q2C_CA_BUNDLE") or True, tax_url=e.get("Q2C_TAX_URL") or None,
                   tax_account=e.get("Q2C_TAX_ACCOUNT"), tax_license_key=e.get("Q2C_TAX_LICENSE_KEY"),
                   tax_company=e.get("Q2C_TAX_COMPANY") or "DEFAULT", payments_url=e.get("Q2C_PAYMENTS_URL") or None,
                   payments_key=e.get("Q2C_PAYMENTS_KEY"),
                   payments_webhook_secret=e.get("Q2C_PAYMENTS_WEBHOOK_SECRET"))

    @classmethod
    def from_endpoints_file(cls, path: str | Path, *, sf_tenant: str = SF_TENANT, ns_account: str = NS_ACCOUNT,
                            psa_account: str = PSA_ACCOUNT, tax_service: bool = False) -> "VendorConfig":
        """Simulators served by ``q2c sim serve --endpoints-file``: mint credentials through their admin APIs
        (with ``tax_service``, an account on the tax simulator too: invoices are then taxed by it)."""
        spec = json.loads(Path(path).read_text())
        urls, ca = spec["simulators"], spec.get("ca_bundle")
        verify: str | bool = ca or True
        with httpx.Client(verify=verify, timeout=30) as http:
            sf = http.post(f"{urls['salesforce']}/__admin/salesforce/tokens", json={"tenant": sf_tenant})
            sf.raise_for_status()
            ns = http.post(f"{urls['netsuite']}/__admin/netsuite/accounts/{ns_account}/access-tokens")
            ns.raise_for_status()
            psa = http.post(f"{urls['psa']}/__admin/psa/tokens", json={"account": psa_account})
            psa.raise_for_status()
            tax: dict[str, Any] = {}
            if tax_service:
                acct = http.post(f"{urls['tax']}/__admin/tax/accounts", json={})
                acct.raise_for_status()
                tax = {"tax_url": urls["tax"], "tax_account": str(acct.json()["account_id"]),
                       "tax_license_key": acct.json()["license_key"]}
        return cls(salesforce_url=urls["salesforce"], salesforce_token=sf.json()["access_token"],
                   netsuite_url=f"{urls['netsuite']}/services/rest", netsuite_account=ns_account,
                   netsuite_token=ns.json()["access_token"], psa_url=f"{urls['psa']}/api/v1",
                   psa_token=psa.json()["access_token"], verify=verify, **tax)

    def with_(self, **changes: Any) -> "VendorConfig":
        return replace(self, **changes)


class Vendors:
    """The three clients on a private event loop; ``call`` bridges from engine threads."""

    def __init__(self, config: VendorConfig, *, transports: dict[str, httpx.AsyncBaseTransport] | None = None,
                 call_log: Any = None) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="q2c-vendors", daemon=True)
        self._thread.start()
        t = transports or {}
        common: dict[str, Any] = {"verify": config.verify, "timeout": config.timeout, "retry": config.retry,
                                  "call_log": call_log}

        async def build() -> None:
            self.sf = SalesforceClient(config.salesforce_url, auth=config.salesforce_token,
                                       transport=t.get("salesforce"), org_id=f"sf:{config.salesforce_url}",
                                       **common)
            if config.netsuite_token:
                ns_auth: Any = BearerToken(config.netsuite_token)
            else:
                assert config.netsuite_tba, "NetSuite needs a bearer token or TBA credentials"
                ns_auth = NetSuiteTBA(config.netsuite_account, **config.netsuite_tba)
            self.ns = NetSuiteClient(config.netsuite_account, auth=ns_auth, base_url=config.netsuite_url,
                                     transport=t.get("netsuite"), concurrency=config.netsuite_concurrency,
                                     account_id=f"ns:{config.netsuite_url}:{id(self)}", **common)
            self.psa = PsaClient(config.psa_url, token=config.psa_token, transport=t.get("psa"),
                                 account_id=f"psa:{config.psa_url}:{id(self)}", **common)
            self.tax: TaxClient | None = None
            if config.tax_url:
                assert config.tax_account and config.tax_license_key, "the tax service needs an account and key"
                self.tax = TaxClient(config.tax_url, auth=AvaTaxBasic(config.tax_account, config.tax_license_key),
                                     company=config.tax_company, transport=t.get("tax"),
                                     account_id=f"tax:{config.tax_url}:{id(self)}", **common)
            self.payments: PaymentsClient | None = None
            if config.payments_url:
                assert config.payments_key, "the payment gateway needs an API key"
                self.payments = PaymentsClient(config.payments_url, api_key=config.payments_key,
                                               transport=t.get("payments"),
                                               account_id=f"payments:{config.payments_url}:{id(self)}", **common)

        self.run(build())

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the vendor loop from a non-loop thread, under the current correlation id (the loop's
        thread has its own context, so the id is set again there)."""
        cid = correlation.current()

        async def scoped() -> T:
            if cid:
                with correlation.use(cid):
                    return await coro
            return await coro

        return asyncio.run_coroutine_threadsafe(scoped(), self.loop).result()

    def call(self, fn: Callable[["Vendors"], Awaitable[T]]) -> T:
        return self.run(fn(self))

    def close(self) -> None:
        if not self.loop.is_running():
            return

        async def close_all() -> None:
            for c in (self.sf, self.ns, self.psa, self.tax, self.payments):
                if c is not None:
                    await c.aclose()

        try:
            self.run(close_all())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
