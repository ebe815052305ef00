"""Tax admin endpoints under `/__admin/tax`: accounts and their credentials, companies and their nexus.

`POST /__admin/tax/accounts` mints an account (or adds a license key to an existing one) and answers the account id,
a license key for HTTP Basic and a bearer token; the account's `DEFAULT` company exists from the start. Nexus is
where a company collects: `null` (the default) means everywhere in the jurisdiction table, else a list of `US-CA`
style state keys and country codes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from q2c_simulators.kernel.admin import current_simulator

from .auth import new_license_key

AccountId = Annotated[str, Path(pattern=r"^[1-9][0-9]{0,9}$")]
CompanyCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,25}$")]
NEXUS = r"^(US-[A-Z]{2}|[A-Z]{2})$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CompanyIn(_Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,25}$")
    nexus: list[Annotated[str, Field(pattern=NEXUS)]] | None = Field(default=None, max_length=200)


class AccountIn(_Strict):
    account_id: int | None = Field(default=None, ge=1, le=9_999_999_999, description="generated when absent")
    license_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{8,64}$", description="generated when absent")
    companies: list[CompanyIn] = Field(default_factory=list, max_length=50)


class NexusIn(_Strict):
    nexus: list[Annotated[str, Field(pattern=NEXUS)]] | None = Field(max_length=200)


Sim = Annotated[Any, Depends(current_simulator)]  # the TaxSimulator
router = APIRouter(prefix="/tax", tags=["tax"])


def companies(sim: Any, account: str) -> list[dict[str, Any]]:
    return [{"code": c["companyCode"], "id": c["id"], "nexus": c["nexus"]}
            for c in sim.tenants.get(account).store.records("companies")]


@router.post("/accounts", status_code=201)
def create_account(sim: Sim, body: AccountIn | None = None) -> dict[str, Any]:
    """An AvaTax account (tenant) with a license key and a bearer token; companies optional."""
    body = body or AccountIn()
    taken = [int(t) for t in sim.tenants.ids() if t.isdigit()]
    account = str(body.account_id or max([1_100_000_000, *taken]) + 1)
    backend = sim.tenants.get(account)
    key = body.license_key or new_license_key()
    backend.add_license_key(key)
    backend.company("DEFAULT")
    for company in body.companies:
        backend.set_company(company.code, company.nexus)
    return {"account_id": int(account), "license_key": key, "bearer_token": sim.signer.mint(account),
            "companies": companies(sim, account)}


@router.get("/accounts/{account}", responses={404: {"description": "no such account"}})
def get_account(account: AccountId, sim: Sim) -> dict[str, Any]:
    if account not in sim.tenants:
        raise HTTPException(404, f"no account {account}")
    backend = sim.tenants.get(account)
    return {"account_id": int(account), "license_keys": backend.store.count("credentials"),
            "transactions": backend.store.count("transactions"), "companies": companies(sim, account)}


@router.put("/accounts/{account}/companies/{code}",
           responses={404: {"description": "no such account"}})
def set_company(account: AccountId, code: CompanyCode, body: NexusIn, sim: Sim) -> dict[str, Any]:
    """Create or change a company: where it has nexus (null: everywhere)."""
    if account not in sim.tenants:
        raise HTTPException(404, f"no account {account}")
    company = sim.tenants.get(account).set_company(code, body.nexus)
    return {"code": company["companyCode"], "id": company["id"], "nexus": company["nexus"]}
