"""A typed client for the simulators' `/__admin` API, for tests and scenarios (sync and async).

    admin = SimAdmin(httpx.Client(base_url=endpoints.base_urls["netsuite"], verify=endpoints.ca_bundle))
    admin.add_fault({"kind": "error", "status": 503, "first_n": 2})
    admin.verify(method="POST", path="/services/rest/record/v1/customer", tenant="123456_SB1", count=1)

The same methods exist on `AsyncSimAdmin` (awaitable), e.g. over `httpx.ASGITransport(sim.asgi)` in-process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx


class VerificationFailed(AssertionError):
    """The journal did not hold the expected requests; the message carries the count and near misses."""


@dataclass(frozen=True)
class ClockState:
    now: datetime
    frozen: bool
    offset_seconds: float


@dataclass(frozen=True)
class Verification:
    ok: bool
    count: int
    expected: str
    evicted: int
    near_misses: list[str]


@dataclass(frozen=True)
class TaxAccount:
    """An AvaTax account of the tax simulator: HTTP Basic is (str(account_id), license_key)."""

    account_id: int
    license_key: str
    bearer_token: str
    companies: list[dict[str, Any]]


@dataclass(frozen=True)
class PaymentsKey:
    """A secret key of the payments simulator (Stripe): `Authorization: Bearer {secret_key}` acts in `account`."""

    account: str
    secret_key: str


class _Calls:
    """What each admin call sends and how its answer is read; `_do` is the only I/O, sync or async."""

    prefix = "/__admin"

    def __init__(self, client: httpx.Client | httpx.AsyncClient) -> None:
        self.client = client

    def _do(self, method: str, path: str, read: Any = None, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def _read(response: httpx.Response, read: Any) -> Any:
        if response.status_code >= 400:
            raise httpx.HTTPStatusError(
                f"admin {response.request.method} {response.request.url.path} -> {response.status_code}: {response.text}",
                request=response.request, response=response)
        if response.status_code == 204:
            return None
        data = response.json()
        return read(data) if read else data

    # -- state ---------------------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._do("GET", "/health")

    def reset(self) -> None:
        return self._do("POST", "/reset")

    def create_tenant(self, tenant: str) -> dict[str, Any]:
        return self._do("POST", "/tenants", json={"id": tenant})

    def reset_tenant(self, tenant: str) -> dict[str, Any]:
        return self._do("POST", f"/tenants/{tenant}/reset")

    def tenants(self) -> list[dict[str, Any]]:
        return self._do("GET", "/tenants", lambda d: d["tenants"])

    def snapshot(self, tenant: str | None = None) -> dict[str, Any]:
        return self._do("GET", "/snapshot", params={"tenant": tenant} if tenant else None)

    def save_snapshot(self, name: str) -> dict[str, Any]:
        return self._do("POST", "/snapshot", json={"name": name})

    def restore(self, *, name: str | None = None, snapshot: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        body = {"name": name} if name is not None else {"snapshot": snapshot}
        return self._do("POST", "/restore", lambda d: d["tenants"], json=body)

    # -- clock and seed ------------------------------------------------------------------------------------------
    def clock(self) -> ClockState:
        return self._do("GET", "/clock", _clock)

    def set_clock(self, instant: datetime | str, *, freeze: bool = False) -> ClockState:
        value = instant.isoformat() if isinstance(instant, datetime) else instant
        return self._do("POST", "/clock", _clock, json={"set": value, "freeze": freeze})

    def advance_clock(self, seconds: float) -> ClockState:
        return self._do("POST", "/clock", _clock, json={"advance_seconds": seconds})

    def real_clock(self) -> ClockState:
        return self._do("POST", "/clock", _clock, json={"real": True})

    def set_seed(self, seed: int) -> int:
        return self._do("PUT", "/seed", lambda d: d["seed"], json={"seed": seed})

    # -- faults and quotas ---------------------------------------------------------------------------------------
    def add_fault(self, rule: dict[str, Any]) -> dict[str, Any]:
        return self._do("POST", "/faults", json=rule)

    def faults(self) -> list[dict[str, Any]]:
        return self._do("GET", "/faults", lambda d: d["faults"])

    def load_faults(self, profile: dict[str, Any]) -> list[dict[str, Any]]:
        return self._do("PUT", "/faults", lambda d: d["faults"], json=profile)

    def remove_fault(self, rule_id: str) -> None:
        return self._do("DELETE", f"/faults/{rule_id}")

    def clear_faults(self) -> None:
        return self._do("DELETE", "/faults")

    def quotas(self, tenant: str | None = None) -> list[dict[str, Any]]:
        return self._do("GET", "/quotas", lambda d: d["quotas"], params={"tenant": tenant} if tenant else None)

    def set_quota(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self._do("PUT", "/quotas", json=spec)

    def reset_quotas(self, *, defaults: bool = False) -> None:
        return self._do("POST", "/quotas/reset", params={"defaults": str(defaults).lower()})

    # -- journal -------------------------------------------------------------------------------------------------
    def requests(self, **query: Any) -> list[dict[str, Any]]:
        return self._do("POST", "/requests/find", lambda d: d["requests"], json=query, params={"limit": 10_000})

    def count(self, **query: Any) -> int:
        return self._do("POST", "/requests/count", lambda d: d["count"], json=query)

    def verify(self, **expectation: Any) -> Verification:
        """Raise VerificationFailed unless the journal matches, e.g. verify(method="POST", path=..., count=1)."""
        return self._do("POST", "/requests/verify", _verification, json=expectation)

    def unmatched(self) -> list[dict[str, Any]]:
        return self._do("GET", "/requests/unmatched", lambda d: d["requests"])

    def clear_requests(self) -> None:
        return self._do("DELETE", "/requests")

    def metrics(self) -> str:
        return self._do("GET", "/metrics", raw=True)

    # -- vendor credentials --------------------------------------------------------------------------------------
    def tax_account(self, *, account_id: int | None = None, license_key: str | None = None,
                    companies: list[dict[str, Any]] | None = None) -> TaxAccount:
        """Mint an AvaTax account (tax simulator), or another license key for an existing `account_id`."""
        body = {k: v for k, v in {"account_id": account_id, "license_key": license_key, "companies": companies}.items()
                if v is not None}
        return self._do("POST", "/tax/accounts", lambda d: TaxAccount(**d), json=body)

    def payments_key(self, account: str = "default") -> PaymentsKey:
        """Mint a Stripe secret key for an account (payments simulator)."""
        return self._do("POST", "/payments/keys", lambda d: PaymentsKey(**d), json={"account": account})

    def webhook_deliveries(self, account: str, status: str | None = None) -> list[dict[str, Any]]:
        """The payments simulator's webhook deliveries of an account (attempts, status, next attempt)."""
        query = {"account": account, **({"status": status} if status else {})}
        return self._do("GET", "/payments/webhooks/deliveries", lambda d: d["deliveries"], params=query)

    def deliver_webhooks(self, account: str | None = None) -> int:
        """Attempt every webhook delivery due now on the virtual clock; the number of attempts."""
        return self._do("POST", "/payments/webhooks/deliver", lambda d: d["attempts"],
                        json={"account": account} if account else {})

    def configure_webhooks(self, *, retry_schedule_seconds: list[float] | None = None,
                           timeout_seconds: float | None = None, auto_deliver: bool | None = None) -> dict[str, Any]:
        body = {k: v for k, v in {"retry_schedule_seconds": retry_schedule_seconds, "timeout_seconds": timeout_seconds,
                                  "auto_deliver": auto_deliver}.items() if v is not None}
        return self._do("PUT", "/payments/webhooks/config", json=body)


def _clock(data: dict[str, Any]) -> ClockState:
    return ClockState(datetime.fromisoformat(data["now"]), data["frozen"], data["offset_seconds"])


def _verification(data: dict[str, Any]) -> Verification:
    result = Verification(**data)
    if not result.ok:
        hint = f"; near misses: {', '.join(result.near_misses)}" if result.near_misses else ""
        short = f" ({result.evicted} older requests were evicted)" if result.evicted else ""
        raise VerificationFailed(f"expected {result.expected} matching requests, found {result.count}{short}{hint}")
    return result


class SimAdmin(_Calls):
    client: httpx.Client

    def _do(self, method: str, path: str, read: Any = None, *, raw: bool = False, **kwargs: Any) -> Any:
        response = self.client.request(method, self.prefix + path, **kwargs)
        return response.text if raw and response.status_code < 400 else self._read(response, read)


class AsyncSimAdmin(_Calls):
    client: httpx.AsyncClient

    async def _do(self, method: str, path: str, read: Any = None, *, raw: bool = False, **kwargs: Any) -> Any:
        response = await self.client.request(method, self.prefix + path, **kwargs)
        return response.text if raw and response.status_code < 400 else self._read(response, read)
