"""Where probes go: a simulator in this process (no sockets: its ASGI app behind a synchronous httpx transport),
or any base URL with credentials (a sandbox from the configuration file, or a served simulator)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from q2c_harness.contracts.states import simulator_credentials


class AsgiBridge(httpx.BaseTransport):
    """A synchronous httpx transport onto an ASGI app, run on an event loop of its own thread: the provider-state
    code (q2c_harness/contracts/states.py) is synchronous, the simulators are ASGI."""

    def __init__(self, app: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="parity-asgi", daemon=True)
        self._thread.start()
        self._asgi = httpx.ASGITransport(app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def call() -> httpx.Response:
            sent = httpx.Request(request.method, request.url, headers=request.headers, content=request.read())
            got = await self._asgi.handle_async_request(sent)
            content = await got.aread()
            return httpx.Response(got.status_code, headers=got.headers, content=content)
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=120)

    def close(self) -> None:
        """Clients sharing the bridge close it when they are done; only `shutdown` stops the loop."""

    def shutdown(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()


@dataclass
class Target:
    provider: str
    base_url: str
    headers: dict[str, str]           # the credentials' headers
    transport: httpx.BaseTransport | None = None
    tenant: str = ""
    admin: bool = False               # the kernel admin API answers here (a simulator)
    label: str = ""

    def client(self, *, auth: bool = True, prefix: str = "") -> httpx.Client:
        return httpx.Client(base_url=self.base_url + prefix, headers=self.headers if auth else {},
                            transport=self.transport, timeout=60, follow_redirects=False)


def credentials(provider: str, admin: httpx.Client, tenant: str) -> dict[str, str]:
    """What a sandbox administrator hands the integration, minted through the simulator's admin API."""
    if provider == "payments":  # a test-mode secret key for the account (docs/payments.md)
        r = admin.post("/__admin/payments/keys", json={"account": tenant})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['secret_key']}"}
    if provider == "tax":  # an AvaTax account (the tenant is its account id) and a bearer token (docs/tax.md)
        r = admin.post("/__admin/tax/accounts", json={"account_id": int(tenant)})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['bearer_token']}"}
    return simulator_credentials(provider, admin, tenant, None)


def new_tenant(provider: str) -> str:
    if provider == "tax":  # AvaTax account ids are numbers
        return str(2_000_000_000 + uuid.uuid4().int % 1_000_000_000)
    tenant = f"Q2C_PARITY_{uuid.uuid4().hex[:8].upper()}"
    return tenant.lower().replace("_", "-") if provider in ("salesforce", "payments") else tenant


@contextlib.contextmanager
def simulator_target(provider: str, *, seed: int = 7) -> Iterator[Target]:
    """The provider's simulator in this process, a fresh tenant, credentials minted through its admin API."""
    from q2c_simulators.kernel.serving import build_simulators

    sim = build_simulators([provider], seed=seed)[provider]
    bridge = AsgiBridge(sim.asgi)
    base = f"https://{provider}.sim"
    tenant = new_tenant(provider)
    try:
        with httpx.Client(base_url=base, transport=bridge, timeout=60) as admin:
            headers = credentials(provider, admin, tenant)
        yield Target(provider, base, headers, bridge, tenant, admin=True,
                     label=f"{provider} simulator in-process (tenant {tenant})")
    finally:
        bridge.shutdown()


def url_target(provider: str, base_url: str, headers: dict[str, str], *, admin: bool = False,
               tenant: str = "") -> Target:
    return Target(provider, base_url.rstrip("/"), headers, None, tenant, admin, label=base_url)
