"""The world outside the core, driven through the vendors' public APIs: sales in Salesforce, the delivery team in
the PSA, accounts receivable in NetSuite, and the admin API for clocks, tenants and faults.

`VendorSession` holds one async httpx client per simulator (in-process over `httpx.ASGITransport`, or real HTTPS
with the local CA) plus the bearer tokens minted through each simulator's admin API. Nothing here imports the core:
it is what users and finance do, and what they read back.
"""

from __future__ import annotations

import json as _json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from q2c_simulators.kernel.simulator import Simulator

from .sim_admin import AsyncSimAdmin

SF_API = "/services/data/v59.0"
NS_RECORD = "/services/rest/record/v1"
NS_QUERY = "/services/rest/query/v1/suiteql"
PSA_API = "/api/v1"
HOSTS = {"salesforce": "https://salesforce.sim", "netsuite": "https://netsuite.sim", "psa": "https://psa.sim"}


class VendorCallFailed(RuntimeError):
    def __init__(self, system: str, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{system} {method} {path} -> {status}: {body[:400]}")
        self.system, self.status, self.body = system, status, body


@dataclass
class VendorSession:
    """Clients for every simulator; `base_urls`/`ca_bundle` come from `Endpoints` (real servers) or in-process."""

    clients: dict[str, httpx.AsyncClient]
    tenants: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    psa_user_tokens: dict[str, str] = field(default_factory=dict)
    base_urls: dict[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None
    tax_account: dict[str, str] = field(default_factory=dict)  # account id and license key (HTTP Basic)

    @classmethod
    def in_process(cls, sims: dict[str, Simulator], tenants: dict[str, str]) -> VendorSession:
        hosts = {name: HOSTS.get(name, f"https://{name}.sim") for name in sims}  # any simulator registered
        clients = {name: httpx.AsyncClient(transport=httpx.ASGITransport(sim.asgi), base_url=hosts[name], timeout=60)
                   for name, sim in sims.items()}
        return cls(clients, tenants, base_urls=hosts)

    @classmethod
    def over_network(cls, base_urls: dict[str, str], ca_bundle: str | None, tenants: dict[str, str]) -> VendorSession:
        clients = {name: httpx.AsyncClient(base_url=url, verify=ca_bundle or True, timeout=60)
                   for name, url in base_urls.items()}
        return cls(clients, tenants, base_urls=dict(base_urls), ca_bundle=ca_bundle)

    async def aclose(self) -> None:
        for c in self.clients.values():
            await c.aclose()

    def admin(self, system: str) -> AsyncSimAdmin:
        return AsyncSimAdmin(self.clients[system])

    async def login(self) -> None:
        sf = await self._admin_post("salesforce", "/__admin/salesforce/tokens", {"tenant": self.tenants["salesforce"]})
        self.tokens["salesforce"] = sf["access_token"]
        ns = await self._admin_post("netsuite", f"/__admin/netsuite/accounts/{self.tenants['netsuite']}/access-tokens",
                                    None)
        self.tokens["netsuite"] = ns["access_token"]
        psa = await self._admin_post("psa", "/__admin/psa/tokens", {"account": self.tenants["psa"]})
        self.tokens["psa"] = psa["access_token"]
        if "tax" in self.clients and self.tenants.get("tax"):  # the firm's tax service account (core and checker)
            # a license key named after the account: the same seed gives the same simulator state
            tax = await self._admin_post("tax", "/__admin/tax/accounts", {
                "account_id": int(self.tenants["tax"]), "license_key": f"q2cscenario{self.tenants['tax']}"})
            self.tokens["tax"] = tax["bearer_token"]
            self.tax_account = {"account_id": str(tax["account_id"]), "license_key": tax["license_key"]}
        if "payments" in self.clients and self.tenants.get("payments"):  # the firm's gateway account
            key = await self._admin_post("payments", "/__admin/payments/keys", {"account": self.tenants["payments"]})
            self.tokens["payments"] = key["secret_key"]

    async def mint_netsuite_token(self) -> str:
        body = await self._admin_post("netsuite", f"/__admin/netsuite/accounts/{self.tenants['netsuite']}/access-tokens",
                                      {"expires_in": 30 * 86400})
        self.tokens["netsuite"] = body["access_token"]
        return body["access_token"]

    async def psa_token_for(self, user_id: str) -> str:
        if user_id not in self.psa_user_tokens:
            body = await self._admin_post("psa", "/__admin/psa/tokens", {"account": self.tenants["psa"],
                                                                          "user_id": user_id})
            self.psa_user_tokens[user_id] = body["access_token"]
        return self.psa_user_tokens[user_id]

    async def _admin_post(self, system: str, path: str, body: Any) -> Any:
        r = await self.clients[system].post(path, json=body)
        if r.status_code >= 300:
            raise VendorCallFailed(system, "POST", path, r.status_code, r.text)
        return r.json() if r.content else None

    # -- raw calls, retried on the vendors' transient answers (the harness is a patient user, not the SUT) -------
    async def call(self, system: str, method: str, path: str, *, json: Any = None, params: dict | None = None,
                   token: str | None = None, ok: tuple[int, ...] = (), attempts: int = 30) -> httpx.Response:
        import asyncio

        headers = {"Authorization": f"Bearer {token or self.tokens[system]}"}
        last: httpx.Response | None = None
        for attempt in range(attempts):
            try:
                r = await self.clients[system].request(method, path, json=json, params=params, headers=headers)
            except (httpx.TransportError, ConnectionError):
                await asyncio.sleep(0.01)
                continue
            if r.status_code in ok or r.status_code < 400:
                return r
            last = r
            if r.status_code in (429, 500, 502, 503, 504) or (system == "salesforce" and r.status_code == 403
                                                                and "REQUEST_LIMIT" in r.text):
                await asyncio.sleep(min(0.002 * (attempt + 1), 0.05))
                continue
            break
        assert last is not None
        raise VendorCallFailed(system, method, path, last.status_code, last.text)

    async def sf(self, method: str, path: str, json: Any = None, **kw: Any) -> Any:
        r = await self.call("salesforce", method, f"{SF_API}{path}", json=json, **kw)
        return r.json() if r.content else None

    async def sf_query(self, soql: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        body = await self.sf("GET", "/query/", params={"q": soql})
        out += body["records"]
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            r = await self.call("salesforce", "GET", body["nextRecordsUrl"])
            body = r.json()
            out += body["records"]
        return out

    async def ns(self, method: str, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.call("netsuite", method, f"{NS_RECORD}{path}", json=json, **kw)

    async def ns_create(self, record: str, body: dict[str, Any]) -> str:
        r = await self.ns("POST", f"/{record}", body)
        return r.headers["location"].rstrip("/").rsplit("/", 1)[-1]

    async def ns_upsert(self, record: str, external_id: str, body: dict[str, Any]) -> str:
        await self.ns("PUT", f"/{record}/eid:{external_id}", body)
        rec = (await self.ns("GET", f"/{record}/eid:{external_id}")).json()
        return str(rec["id"])

    async def ns_get(self, record: str, rid: str, expand: bool = True) -> dict[str, Any]:
        params = {"expandSubResources": "true"} if expand else None
        return (await self.ns("GET", f"/{record}/{rid}", params=params)).json()

    async def suiteql(self, q: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            r = await self.call("netsuite", "POST", NS_QUERY, json={"q": q}, params={"limit": 1000, "offset": offset},
                                ok=())
            body = r.json()
            out += body.get("items", [])
            if not body.get("hasMore"):
                return out
            offset += 1000

    async def tax_documents(self, company: str = "DEFAULT") -> list[dict[str, Any]]:
        """The tax service's current documents of a company, with their lines and jurisdictions (AvaTax
        ``GET /api/v2/companies/{code}/transactions?$include=Lines,Summary``)."""
        out: list[dict[str, Any]] = []
        while True:
            r = await self.call("tax", "GET", f"/api/v2/companies/{company}/transactions",
                                params={"$include": "Lines,Summary", "$top": 1000, "$skip": len(out)})
            body = _json.loads(r.content, parse_float=Decimal)
            out += body.get("value", [])
            if not body.get("value") or len(out) >= int(body.get("@recordsetCount", len(out))):
                return out

    async def gateway(self, method: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A Stripe-style call: form-encoded (``metadata[k]=v``, ``expand[0]=x``), answers read with exact
        decimals."""
        form = _form(params or {})
        headers = {"Authorization": f"Bearer {self.tokens['payments']}"}
        for attempt in range(30):
            if method == "GET":
                r = await self.clients["payments"].get(path, params=form, headers=headers)
            else:
                r = await self.clients["payments"].post(
                    path, content=str(httpx.QueryParams(form)).encode(), headers={
                        **headers, "Content-Type": "application/x-www-form-urlencoded",
                        "Idempotency-Key": f"harness-{path}-{str(httpx.QueryParams(form))}"[:255]})
            if r.status_code in (429, 500, 502, 503, 504):
                import asyncio

                await asyncio.sleep(min(0.002 * (attempt + 1), 0.05))
                continue
            if r.status_code >= 400:
                raise VendorCallFailed("payments", method, path, r.status_code, r.text)
            return _json.loads(r.content, parse_float=Decimal)
        raise VendorCallFailed("payments", method, path, r.status_code, r.text)

    async def gateway_all(self, resource: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every object of a gateway list (newest first, ``starting_after`` cursors)."""
        out: list[dict[str, Any]] = []
        while True:
            page = await self.gateway("GET", f"/v1/{resource}", {**(params or {}), "limit": 100,
                                                                **({"starting_after": out[-1]["id"]} if out else {})})
            out += page.get("data", [])
            if not page.get("has_more") or not page.get("data"):
                return out

    async def psa(self, method: str, path: str, json: Any = None, *, user: str | None = None,
                  params: dict | None = None) -> dict[str, Any]:
        token = await self.psa_token_for(user) if user else None
        r = await self.call("psa", method, f"{PSA_API}/{path}", json=json, params=params, token=token)
        return r.json() if r.content else {}

    async def psa_all(self, resource: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self.psa("GET", f"{resource}.json", params={**(params or {}), "per_page": 200, "page": page})
            out += [body[r["key"]][r["id"]] for r in body.get("results", [])]
            meta = body.get("meta", {})
            if page >= meta.get("page_count", 1):
                return out
            page += 1


def _form(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            out += _form(value, name)
        elif isinstance(value, list):
            out += [(f"{name}[{i}]", str(v)) for i, v in enumerate(value)]
        elif value is not None:
            out.append((name, ("true" if value else "false") if isinstance(value, bool) else str(value)))
    return out


def psa_first(body: dict[str, Any]) -> dict[str, Any]:
    ref = body["results"][0]
    return body[ref["key"]][ref["id"]]


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())
