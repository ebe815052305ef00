"""Salesforce admin endpoints under /__admin/salesforce: tokens, users, connected apps, org settings, custom fields
and objects, validation rules, change-event objects. Bodies are validated whole before anything changes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator

from q2c_simulators.kernel.admin import TENANT_PATTERN, current_simulator

from . import ids, soql
from .auth import base_url
from .exceptions import SalesforceError
from .models import SalesforceBackend

TenantId = Annotated[str, Path(pattern=TENANT_PATTERN)]
Sim = Annotated[Any, Depends(current_simulator)]  # the SalesforceSimulator


def tenant_backend(tenant: TenantId, sim: Sim) -> SalesforceBackend:
    return sim.tenants.get(tenant)


Org = Annotated[SalesforceBackend, Depends(tenant_backend)]
router = APIRouter(prefix="/salesforce", tags=["salesforce"])
CUSTOM_NAME = r"^[A-Za-z][A-Za-z0-9_]{0,36}__c$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(_Strict):
    tenant: str = Field(default="default", pattern=TENANT_PATTERN)
    username: str | None = Field(default=None, max_length=80)
    lifetime_seconds: PositiveFloat | None = Field(default=None, le=10 * 365 * 86400)
    refresh_token: bool = False


class UserRequest(_Strict):
    tenant: str = Field(pattern=TENANT_PATTERN)
    username: str = Field(min_length=3, max_length=80, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=1, max_length=200)
    security_token: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=80)
    email: str | None = Field(default=None, max_length=128)
    active: bool = True


class AppRequest(_Strict):
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: str | None = Field(default=None, max_length=255)
    run_as: str | None = Field(default=None, max_length=80, description="username the client_credentials flow runs as")
    cert_pem: str | None = Field(default=None, max_length=20000, description="X.509 certificate to verify JWT bearer assertions")


class OrgSettings(_Strict):
    session_seconds: PositiveFloat | None = Field(default=None, le=10 * 365 * 86400,
                                                  description="lifetime of new session tokens on the virtual clock")
    currencies: list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]] | None = Field(default=None, min_length=1)
    corporate_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    change_events: list[str] | None = Field(default=None, description="objects that publish change events")


class CustomFieldRequest(_Strict):
    object: str = Field(min_length=1, max_length=80)
    name: str = Field(pattern=CUSTOM_NAME)
    type: Literal["string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "boolean", "double",
                  "currency", "percent", "int", "date", "datetime", "reference"]
    label: str | None = Field(default=None, max_length=80)
    length: int | None = Field(default=None, ge=1, le=131072)
    required: bool = False
    external_id: bool = False
    unique: bool = False
    picklist_values: list[str] | None = None
    restricted: bool = False
    reference_to: list[str] | None = None
    child_relationship_name: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,36}__r$")
    default: Any = None
    precision: int | None = Field(default=None, ge=1, le=18)
    scale: int | None = Field(default=None, ge=0, le=17)

    @model_validator(mode="after")
    def _consistent(self) -> CustomFieldRequest:
        if self.type == "reference" and not self.reference_to:
            raise ValueError("reference_to is required for a reference field")
        if self.type in ("picklist", "multipicklist") and self.restricted and not self.picklist_values:
            raise ValueError("a restricted picklist needs picklist_values")
        if self.external_id and self.type not in ("string", "email", "int", "double"):
            raise ValueError("only text, email and number fields can be external ids")
        return self


class CustomObjectRequest(_Strict):
    name: str = Field(pattern=CUSTOM_NAME)
    label: str | None = Field(default=None, max_length=40)
    plural: str | None = Field(default=None, max_length=40)
    auto_number: str | None = Field(default=None, max_length=30, description="Name as an auto number, e.g. 'INV-{00000}'")
    key_prefix: str | None = Field(default=None, pattern=r"^a[0-9A-Za-z]{2}$")


class ValidationRuleRequest(_Strict):
    object: str = Field(min_length=1, max_length=80)
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
    condition: str = Field(min_length=1, max_length=4000,
                           description="a SOQL WHERE expression; the save fails when it is true for the record")
    message: str = Field(min_length=1, max_length=255)
    field: str | None = Field(default=None, max_length=80)
    active: bool = True



@router.post("/tokens", status_code=201)
async def mint_token(body: TokenRequest, request: Request, sim: Sim) -> dict[str, Any]:
    """A session token for a tenant's user (the org admin by default); use it as `session_id`."""
    b = sim.tenants.get(body.tenant)
    user = b.ensure_user(body.username) if body.username else b.store.get("User", b.admin_user)
    issued = b.issue_token(user["Id"], lifetime=body.lifetime_seconds, refresh=body.refresh_token)
    row = b.store.get("_tokens", issued["access_token"])
    return {"access_token": issued["access_token"], "instance_url": base_url(request).removesuffix("/__admin"),
            "org_id": b.org["id"], "user_id": user["Id"], "username": user["Username"],
            "expires_at": soql.format_datetime(datetime.fromtimestamp(row["expires_at"], tz=timezone.utc)),
            **({"refresh_token": issued["refresh_token"]} if "refresh_token" in issued else {})}


@router.post("/users", status_code=201)
async def create_user(body: UserRequest, sim: Sim) -> dict[str, Any]:
    """Declare a user (and so its org): logins with this username go to `tenant`."""
    b = sim.tenants.get(body.tenant)
    user = b.ensure_user(body.username, body.password, last_name=body.last_name, email=body.email)
    b.store.put("_credentials", user["Id"], {"user_id": user["Id"], "password": body.password,
                                             "security_token": body.security_token})
    if not body.active:
        user = b.store.put("User", user["Id"], {**user, "IsActive": False})
    return {"id": user["Id"], "username": user["Username"], "tenant": body.tenant, "org_id": b.org["id"]}


@router.post("/orgs/{tenant}/connected-apps", status_code=201)
async def create_app(tenant: TenantId, b: Org, body: AppRequest) -> dict[str, Any]:
    """A connected app: client_credentials (client_id/secret, run_as) and JWT bearer (cert_pem to verify)."""
    b.store.put("_apps", body.client_id, body.model_dump())
    return {"client_id": body.client_id, "tenant": tenant}


def settings(b: SalesforceBackend) -> dict[str, Any]:
    org = b.org
    return {"org_id": org["id"], "session_seconds": org["session_seconds"], "currencies": org["currencies"],
            "corporate_currency": org["corporate_currency"], "change_events": org["cdc"],
            "custom_fields": b.store.records("_custom_fields"), "custom_objects": b.store.records("_custom_objects"),
            "validation_rules": b.store.records("_validation_rules")}


@router.get("/orgs/{tenant}")
async def get_org(b: Org) -> dict[str, Any]:
    return settings(b)


@router.patch("/orgs/{tenant}")
async def patch_org(b: Org, body: OrgSettings) -> dict[str, Any]:
    """Session lifetime, currencies, corporate currency, change-event objects."""
    changes: dict[str, Any] = {}
    if body.change_events is not None:
        unknown = [n for n in body.change_events if b.schema.get(n) is None]
        if unknown:
            raise HTTPException(400, f"unknown objects: {unknown}")
        changes["cdc"] = [b.schema.get(n).name for n in body.change_events]
    currencies = body.currencies or b.org["currencies"]
    corporate = body.corporate_currency or b.org["corporate_currency"]
    if corporate not in currencies:
        raise HTTPException(400, f"corporate_currency {corporate} must be one of the currencies")
    if body.session_seconds is not None:
        changes["session_seconds"] = body.session_seconds
    if body.currencies is not None:
        changes["currencies"] = list(body.currencies)
    changes["corporate_currency"] = corporate
    b.set_org(**changes)
    if body.currencies is not None:
        b.bump_schema()
    return settings(b)


@router.post("/orgs/{tenant}/sessions/expire", status_code=204)
async def expire_sessions(b: Org) -> Response:
    """Invalidate every session token of the org (the next call gets 401 INVALID_SESSION_ID)."""
    for token in b.store.ids("_tokens"):
        b.store.delete("_tokens", token)
    return Response(status_code=204)


@router.post("/orgs/{tenant}/fields", status_code=201)
async def create_field(b: Org, body: CustomFieldRequest) -> dict[str, Any]:
    """Declare a custom field (External_Id__c as an external id, Invoice_Status__c as a picklist, ...)."""
    obj = b.schema.get(body.object)
    if obj is None:
        raise HTTPException(404, f"no object {body.object!r}")
    if obj.field(body.name) is not None and b.store.get("_custom_fields", f"{obj.name}.{body.name}") is None:
        raise HTTPException(409, f"{obj.name}.{body.name} is a built-in field")
    for target in body.reference_to or []:
        if b.schema.get(target) is None:
            raise HTTPException(400, f"reference_to names an unknown object {target!r}")
    spec = body.model_dump()
    spec["object"] = obj.name
    spec["reference_to"] = [b.schema.get(t).name for t in body.reference_to or []]
    if body.type == "reference" and not body.child_relationship_name:
        spec["child_relationship_name"] = body.name[:-3] + "s__r"
    b.store.put("_custom_fields", f"{obj.name}.{body.name}", spec)
    b.bump_schema()
    return b.schema.get(obj.name).field(body.name).describe()


@router.post("/orgs/{tenant}/objects", status_code=201)
async def create_object(b: Org, body: CustomObjectRequest, sim: Sim) -> dict[str, Any]:
    """Declare a custom object; its key prefix is per org (a0X, a0Y, ... unless given)."""
    if b.schema.get(body.name) is not None:
        raise HTTPException(409, f"object {body.name} already exists")
    used = set(b.schema.by_prefix)
    prefix = body.key_prefix
    if prefix is None:
        n = 0
        while ids.custom_prefix(n) in used:
            n += 1
        prefix = ids.custom_prefix(n)
    elif prefix in used:
        raise HTTPException(409, f"key prefix {prefix} is taken")
    spec = {**body.model_dump(), "key_prefix": prefix}
    b.store.put("_custom_objects", body.name, spec)
    b.bump_schema()
    return b.schema.get(body.name).summary(sim.default_version)


@router.post("/orgs/{tenant}/validation-rules", status_code=201)
async def create_rule(b: Org, body: ValidationRuleRequest) -> dict[str, Any]:
    """A validation rule: saving a record for which `condition` (SOQL WHERE syntax) holds fails with
    FIELD_CUSTOM_VALIDATION_EXCEPTION and `message`."""
    obj = b.schema.get(body.object)
    if obj is None:
        raise HTTPException(404, f"no object {body.object!r}")
    try:
        b._rule_predicate(obj, body.condition)
    except SalesforceError as exc:
        raise HTTPException(400, f"condition does not compile: {exc.code}: {exc.message.strip()}") from None
    spec = {**body.model_dump(), "object": obj.name}
    b.store.put("_validation_rules", f"{obj.name}.{body.name}", spec)
    return spec


@router.delete("/orgs/{tenant}/validation-rules/{obj}/{name}", status_code=204)
async def delete_rule(b: Org, obj: str, name: str) -> Response:
    target = b.schema.get(obj)
    if target is None or b.store.delete("_validation_rules", f"{target.name}.{name}") is None:
        raise HTTPException(404, f"no validation rule {obj}.{name}")
    return Response(status_code=204)
