"""The Salesforce backend: one org's state and rules, no HTTP (moto's `models.py`).

State lives in the tenant's `Store`, so reset, snapshot and restore cover all of it:
- one collection per sObject type (records keyed by 18-character id; deleted records stay, with IsDeleted=true,
  until they would leave the recycle bin), `_deleted` (the deleted-records log), `_updated` (not kept: the
  updated window is answered from SystemModstamp);
- `_org` (org id, currencies, session lifetime, CDC-enabled objects, schema revision), `_custom_fields`,
  `_custom_objects`, `_validation_rules`;
- `_credentials`, `_tokens`, `_refresh_tokens`, `_apps` (connected apps);
- `_events` (change events by replay id), `_bulk_jobs`, `_bulk_data`.
Query cursors (nextRecordsUrl) are transient and kept in memory.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from q2c_simulators.kernel import Store

from . import ids, soql
from .exceptions import (DuplicateValue, EntityDeleted, InvalidField, InvalidSession, JsonParserError, MalformedId,
                         MultipleMatches, NotFound, RequiredFieldMissing, SalesforceError, ValidationRuleFailed)
from .schema import (BASE_SCHEMA, NUMBER_TYPES, STAGE_FORECAST, STAGE_PROBABILITY, TEXT_TYPES, Field, Schema,
                     SObjectType)

if TYPE_CHECKING:
    from .simulator import SalesforceSimulator

DEFAULT_CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "INR", "JPY"]
DEFAULT_CDC = ["Opportunity", "SBQQ__Quote__c"]
QUERY_BATCH = 2000
_CURSOR_CAP = 500
_PLAN_CAP = 512  # compiled SOQL plans kept per org


def org_id_for(tenant: str) -> str:
    n = int.from_bytes(hashlib.blake2b(tenant.encode(), digest_size=6).digest(), "big") % (62 ** 9)
    return ids.make_id(ids.STANDARD_PREFIXES["Organization"], n)


def encode_tenant(tenant: str) -> str:
    return base64.urlsafe_b64encode(tenant.encode()).decode().rstrip("=")


@lru_cache(maxsize=4096)  # every request names its org through its token
def decode_tenant(token: str) -> str | None:
    """The tenant a session token names: tokens look like `00D...!AQ<tenant>.<secret>`."""
    bang = token.find("!AQ")
    dot = token.find(".", bang)
    if bang < 0 or dot < 0:
        return None
    raw = token[bang + 3 : dot]
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


class Cursor:
    __slots__ = ("rows", "render", "total", "all_rows")

    def __init__(self, rows: list[dict], render: Any, total: int, all_rows: bool) -> None:
        self.rows = rows
        self.render = render
        self.total = total
        self.all_rows = all_rows


class SalesforceBackend:
    def __init__(self, tenant_id: str, sim: SalesforceSimulator) -> None:
        self.tenant_id = tenant_id
        self.sim = sim
        self.clock = sim.clock
        self.store = Store()
        self._schema: Schema = BASE_SCHEMA
        self._schema_rev = -1
        self._indexed: dict[str, set[str]] = {}
        self._plans: dict[tuple[str, date], soql.Plan] = {}
        self._plans_schema: Schema | None = None
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._txn: dict[str, Any] | None = None
        self.waiters: list[Any] = []  # asyncio.Event of long-polling event readers
        s = self.store
        now = self.now_text()
        org = org_id_for(tenant_id)
        s.put("_org", "org", {
            "id": org, "name": tenant_id, "currencies": list(DEFAULT_CURRENCIES), "corporate_currency": "USD",
            "session_seconds": 7200, "cdc": list(DEFAULT_CDC), "schema_rev": 0, "api_limit": None,
        })
        for name in ("_credentials", "_tokens"):
            s.add_index(name, "user_id")
        s.add_index("User", "Username")
        self._ensure_indexes(self.schema)
        admin_id = self._next_id("User")
        s.put("User", admin_id, self._system_row("User", admin_id, now, {
            "Username": f"admin@{tenant_id}", "LastName": "Admin", "FirstName": "Org", "Name": "Org Admin",
            "Email": f"admin@{tenant_id}", "IsActive": True, "Alias": "admin", "OwnerId": None,
        }, admin_id))
        s.put("_org", "org", {**s.get("_org", "org"), "admin_user": admin_id})
        pb = self._next_id("Pricebook2")
        s.put("Pricebook2", pb, self._system_row("Pricebook2", pb, now, {
            "Name": "Standard Price Book", "IsActive": True, "IsStandard": True, "Description": None,
        }, admin_id))

    # ---- org settings and schema ---------------------------------------------------------------------------------
    @property
    def org(self) -> dict[str, Any]:
        return self.store.get("_org", "org")

    def set_org(self, **changes: Any) -> dict[str, Any]:
        org = {**self.org, **changes}
        self.store.put("_org", "org", org)
        return org

    @property
    def schema(self) -> Schema:
        rev = self.store.get("_org", "org")["schema_rev"]
        if rev != self._schema_rev:
            self._schema = self._build_schema()
            self._schema_rev = rev
            self._ensure_indexes(self._schema)
        return self._schema

    def _build_schema(self) -> Schema:
        custom_objects = self.store.records("_custom_objects")
        custom_fields = self.store.records("_custom_fields")
        if not custom_objects and not custom_fields:
            schema = BASE_SCHEMA
        else:
            schema = BASE_SCHEMA.clone()
            for spec in custom_objects:
                schema.add_object(custom_object(spec))
            for spec in custom_fields:
                obj = schema.get(spec["object"])
                if obj is not None:
                    obj.add(custom_field(spec))
            schema.wire()
        currencies = tuple(self.org["currencies"]) if self.store.get("_org", "org") else tuple(DEFAULT_CURRENCIES)
        if currencies != tuple(DEFAULT_CURRENCIES) or schema is not BASE_SCHEMA:
            if schema is BASE_SCHEMA:
                schema = BASE_SCHEMA.clone()
            for obj in schema.objects.values():
                cur = obj.fields.get("CurrencyIsoCode")
                if cur is not None:
                    cur.picklist = currencies
        return schema

    def bump_schema(self) -> None:
        self.set_org(schema_rev=self.org["schema_rev"] + 1)

    def _ensure_indexes(self, schema: Schema) -> None:
        for obj in schema.objects.values():
            wanted = {f.name for f in obj.fields.values() if f.external_id or f.unique or
                      (f.type == "reference" and f.child_relationship)}
            have = self._indexed.setdefault(obj.name, set())
            for name in wanted - have:
                self.store.add_index(obj.name, name)
                have.add(name)

    def indexed(self, obj_name: str) -> set[str]:
        return self._indexed.get(obj_name, set())

    def sobject(self, name: str) -> SObjectType:
        obj = self.schema.get(name)
        if obj is None:
            raise NotFound(f"The requested resource does not exist", "NOT_FOUND")
        return obj

    # ---- ids and timestamps --------------------------------------------------------------------------------------
    def now_text(self) -> str:
        return soql.format_datetime(self.clock.now())

    def _next_id(self, obj_name: str, prefix: str | None = None) -> str:
        if prefix is None:
            obj = self.schema.get(obj_name)
            prefix = obj.key_prefix if obj is not None else ids.STANDARD_PREFIXES[obj_name]
        return ids.make_id(prefix, self.store.next_id(f"_seq:{prefix}"))

    def _system_row(self, obj_name: str, rid: str, now: str, values: dict[str, Any], user: str) -> dict[str, Any]:
        obj = self.schema.get(obj_name)
        row: dict[str, Any] = {"Id": rid, "IsDeleted": False, "CreatedDate": now, "CreatedById": user,
                               "LastModifiedDate": now, "LastModifiedById": user, "SystemModstamp": now,
                               "CurrencyIsoCode": self.store.get("_org", "org")["corporate_currency"]}
        if obj is not None and "OwnerId" in obj.fields:
            row["OwnerId"] = user
        row.update(values)
        return row

    # ---- auth ----------------------------------------------------------------------------------------------------
    @property
    def admin_user(self) -> str:
        return self.org["admin_user"]

    def find_user(self, username: str) -> dict | None:
        rows = self.store.find("User", "Username", username)
        return rows[0] if rows else None

    def ensure_user(self, username: str, password: str | None = None, *, last_name: str | None = None,
                    email: str | None = None) -> dict:
        user = self.find_user(username)
        now = self.now_text()
        with self.store.atomic():
            if user is None:
                uid = self._next_id("User")
                local = username.split("@")[0]
                user = self.store.put("User", uid, self._system_row("User", uid, now, {
                    "Username": username, "LastName": last_name or local, "FirstName": None,
                    "Name": last_name or local, "Email": email or username, "IsActive": True, "Alias": local[:8],
                }, self.admin_user))
            if password is not None:
                self.store.put("_credentials", user["Id"], {"user_id": user["Id"], "password": password})
        return user

    def check_password(self, user: dict, password: str) -> bool:
        cred = self.store.get("_credentials", user["Id"])
        return cred is not None and secrets.compare_digest(cred["password"], password)

    def has_password(self, user: dict) -> bool:
        return self.store.get("_credentials", user["Id"]) is not None

    def issue_token(self, user_id: str, *, lifetime: float | None = None, refresh: bool = False) -> dict[str, Any]:
        org = self.org
        token = f"{org['id'][:15]}!AQ{encode_tenant(self.tenant_id)}.{secrets.token_urlsafe(30)}"
        now = self.clock.timestamp()
        seconds = float(lifetime if lifetime is not None else org["session_seconds"])
        row = {"user_id": user_id, "issued_at": now, "expires_at": now + seconds}
        self.store.put("_tokens", token, row)
        out = {"access_token": token, "issued_at": str(int(now * 1000)), "user_id": user_id}
        if refresh:
            rt = f"5Aep{secrets.token_urlsafe(40)}"
            self.store.put("_refresh_tokens", rt, {"user_id": user_id, "issued_at": now})
            out["refresh_token"] = rt
        return out

    def session(self, token: str | None) -> dict[str, Any]:
        """The session behind a bearer token, or INVALID_SESSION_ID (unknown, revoked or expired on the clock)."""
        if not token:
            raise InvalidSession()
        row = self.store.get("_tokens", token)
        if row is None or row["expires_at"] <= self.clock.timestamp():
            raise InvalidSession()
        return row

    def revoke(self, token: str) -> bool:
        if self.store.delete("_tokens", token) is not None:
            return True
        return self.store.delete("_refresh_tokens", token) is not None

    # ---- records -------------------------------------------------------------------------------------------------
    def fetch(self, obj_name: str, rid: str) -> dict | None:
        return self.store.get(obj_name, rid)

    def get(self, obj: SObjectType, raw_id: str) -> dict:
        rid = ids.normalize(raw_id)
        if rid is None or rid[:3] != obj.key_prefix:
            raise NotFound(f"Provided external ID field does not exist or is not accessible: {raw_id}")
        rec = self.store.get(obj.name, rid)
        if rec is None:
            raise NotFound()
        if rec["IsDeleted"]:
            raise EntityDeleted()
        return rec

    def find_by_external_id(self, obj: SObjectType, field_name: str, raw_value: str) -> tuple[Field, list[dict]]:
        f = obj.field(field_name)
        if f is not None and f.type == "id":
            rid = ids.normalize(raw_value)
            rec = self.store.get(obj.name, rid) if rid else None
            return f, [rec] if rec is not None and not rec["IsDeleted"] else []
        if f is None or not (f.external_id or (f.unique and f.type in TEXT_TYPES)):
            raise NotFound(f"Provided external ID field does not exist or is not accessible: {field_name}")
        value: Any = raw_value
        if f.type in NUMBER_TYPES:
            try:
                value = int(raw_value) if f.type == "int" else float(raw_value)
            except ValueError:
                return f, []
        if f.name in self.indexed(obj.name):
            rows = self.store.find(obj.name, f.name, value)
            if not rows and isinstance(value, str):  # external ids are case-insensitive unless declared otherwise
                low = value.lower()
                rows = [r for r in self.store.records(obj.name) if isinstance(r.get(f.name), str)
                        and r[f.name].lower() == low] if not f.unique else []
        else:
            rows = self.store.find(obj.name, f.name, value)
        return f, [r for r in rows if not r["IsDeleted"]]

    def _coerce(self, obj: SObjectType, f: Field, value: Any) -> Any:
        t = f.type
        if value is None:
            return None
        if t in TEXT_TYPES or t == "id":
            if isinstance(value, bool) or isinstance(value, (dict, list)):
                raise JsonParserError(f"Cannot deserialize instance of string from {_json_kind(value)} value "
                                      f"{value} or request may be missing a required field", fields=[f.name])
            value = str(value) if not isinstance(value, str) else value
            if f.length and len(value) > f.length:
                raise SalesforceError(f"{f.label or f.name}: data value too large: {value[:80]} (max length={f.length})",
                                      "STRING_TOO_LONG", fields=[f.name])
            if t in ("picklist",) and f.restricted and f.picklist and value not in f.picklist:
                raise SalesforceError(f"{f.label or f.name}: bad value for restricted picklist field: {value}",
                                      "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fields=[f.name])
            if t == "email" and value and ("@" not in value or " " in value.strip()):
                raise SalesforceError(f"{f.label or f.name}: invalid email address: {value}",
                                      "INVALID_EMAIL_ADDRESS", fields=[f.name])
            return value
        if t in NUMBER_TYPES:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise JsonParserError(f"Cannot deserialize instance of {'int' if t == 'int' else 'double'} from "
                                      f"{_json_kind(value)} value {value} or request may be missing a required field",
                                      fields=[f.name])
            try:
                num = float(value) if not isinstance(value, int) else value
            except ValueError:
                raise JsonParserError(f"Cannot deserialize instance of double from VALUE_STRING value {value} or "
                                      "request may be missing a required field", fields=[f.name]) from None
            if num != num or num in (float("inf"), float("-inf")) or abs(num) >= 10 ** (f.precision - f.scale):
                raise SalesforceError(f"{f.label or f.name}: value outside of valid range on numeric field: {value}",
                                      "NUMBER_OUTSIDE_VALID_RANGE", fields=[f.name])
            if t == "int":
                if isinstance(num, float) and not num.is_integer():
                    raise JsonParserError(f"Cannot deserialize instance of int from VALUE_NUMBER_FLOAT value {value}",
                                          fields=[f.name])
                return int(num)
            return num
        if t == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise JsonParserError(f"Cannot deserialize instance of boolean from {_json_kind(value)} value {value} or "
                                  "request may be missing a required field", fields=[f.name])
        if t == "date":
            try:
                if not isinstance(value, str):
                    raise ValueError
                return date.fromisoformat(value[:10]).isoformat()
            except ValueError:
                raise JsonParserError(f"Cannot deserialize instance of date from {_json_kind(value)} value {value} "
                                      "or request may be missing a required field", fields=[f.name]) from None
        if t == "datetime":
            try:
                if not isinstance(value, str):
                    raise ValueError
                text = value.replace("Z", "+00:00")
                if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
                    text = text[:-2] + ":" + text[-2:]
                parsed = datetime.fromisoformat(text)
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=timezone.utc)
                return soql.format_datetime(parsed)
            except (ValueError, OverflowError):
                raise JsonParserError(f"Cannot deserialize instance of datetime from {_json_kind(value)} value {value} "
                                      "or request may be missing a required field", fields=[f.name]) from None
        if t == "reference":
            if not isinstance(value, str):
                raise JsonParserError(f"Cannot deserialize instance of reference from {_json_kind(value)} value "
                                      f"{value} or request may be missing a required field", fields=[f.name])
            if value == "":
                return None
            rid = ids.normalize(value)
            targets = [self.schema.get(t) for t in f.reference_to]
            prefixes = {o.key_prefix for o in targets if o is not None}
            if rid is None or rid[:3] not in prefixes:
                raise MalformedId(f"{f.label or f.name}: id value of incorrect type: {value}", fields=[f.name])
            target = self.schema.object_of_id(rid)
            rec = self.store.get(target.name, rid) if target else None
            if rec is None or rec["IsDeleted"]:
                raise SalesforceError("invalid cross reference id", "INVALID_CROSS_REFERENCE_KEY", fields=[f.name])
            return rid
        return value

    def _changes(self, obj: SObjectType, body: Any, creating: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise JsonParserError("Cannot deserialize instance of " + obj.name + " from " + _json_kind(body) +
                                  " value or request may be missing a required field")
        out: dict[str, Any] = {}
        bad: list[str] = []
        for key, value in body.items():
            if key == "attributes":
                continue
            f = obj.field(key)
            if f is None:
                raise InvalidField(f"No such column '{key}' on sobject of type {obj.name}", fields=[key])
            if (creating and not f.createable) or (not creating and not f.updateable):
                if f.name == "Id" and not creating:
                    continue
                if f.name == "Id":  # dome_sobject_create documents this answer for an Id in a create body
                    raise InvalidField("The Id field should not be specified in the sobject data.")
                bad.append(f.name)
                continue
            out[f.name] = self._coerce(obj, f, value)
        if bad:
            raise SalesforceError(
                f"Unable to create/update fields: {', '.join(bad)}. Please check the security settings of this field "
                "and verify that it is read/write for your profile or permission set.",
                "INVALID_FIELD_FOR_INSERT_UPDATE", fields=bad)
        return out

    def _derive(self, obj: SObjectType, rec: dict, changed: dict, creating: bool) -> None:
        """Fields Salesforce computes: IsWon/IsClosed from StageName, names, totals, auto numbers."""
        name = obj.name
        if name == "Opportunity" and ("StageName" in changed or creating):
            stage = rec.get("StageName")
            rec["IsClosed"] = stage in ("Closed Won", "Closed Lost")
            rec["IsWon"] = stage == "Closed Won"
            if "Probability" not in changed:
                rec["Probability"] = STAGE_PROBABILITY.get(stage, rec.get("Probability"))
            if "ForecastCategoryName" not in changed:
                rec["ForecastCategoryName"] = STAGE_FORECAST.get(stage, "Pipeline")
        if name == "Opportunity":
            amount, prob = rec.get("Amount"), rec.get("Probability")
            rec["ExpectedRevenue"] = round(amount * prob / 100, 2) if amount is not None and prob is not None else None
            rec.setdefault("HasOpportunityLineItem", False)
        elif name in ("Contact", "User"):
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        elif name == "OpportunityLineItem":
            if rec.get("PricebookEntryId") and creating:
                entry = self.store.get("PricebookEntry", rec["PricebookEntryId"])
                if entry is not None:
                    rec["Product2Id"] = entry["Product2Id"]
                    rec["ListPrice"] = entry["UnitPrice"]
                    if rec.get("UnitPrice") is None and rec.get("TotalPrice") is None:
                        rec["UnitPrice"] = entry["UnitPrice"]
            qty = rec.get("Quantity")
            if "TotalPrice" in changed and changed["TotalPrice"] is not None and qty:
                rec["UnitPrice"] = round(changed["TotalPrice"] / qty, 2)
            elif rec.get("UnitPrice") is not None and qty is not None:
                rec["TotalPrice"] = round(rec["UnitPrice"] * qty, 2)
            product = self.store.get("Product2", rec.get("Product2Id") or "") if rec.get("Product2Id") else None
            opp = self.store.get("Opportunity", rec.get("OpportunityId") or "")
            rec["Name"] = f"{opp['Name'] if opp else ''} {product['Name'] if product else ''}".strip()
        elif name == "PricebookEntry":
            product = self.store.get("Product2", rec.get("Product2Id") or "")
            if product is not None:
                rec["Name"], rec["ProductCode"] = product["Name"], product.get("ProductCode")
        elif name == "Contract":
            start, term = rec.get("StartDate"), rec.get("ContractTerm")
            if start and term:
                d = date.fromisoformat(start)
                m = d.month - 1 + term
                end = date(d.year + m // 12, m % 12 + 1, 1) - timedelta(days=1)
                rec["EndDate"] = end.replace(day=min(end.day, max(d.day - 1, 1))).isoformat() if d.day > 1 else end.isoformat()
        if creating:
            for f in obj.fields.values():
                if f.auto_number and rec.get(f.name) is None:
                    n = self.store.next_id(f"_auto:{obj.name}.{f.name}")
                    rec[f.name] = _auto_number(f.auto_number, n)

    def _check_required(self, obj: SObjectType, rec: dict) -> None:
        missing = [f.name for f in obj.fields.values() if f.required and f.createable and rec.get(f.name) in (None, "")]
        if missing:
            raise RequiredFieldMissing(missing)

    def _check_unique(self, obj: SObjectType, rec: dict) -> None:
        for f in obj.fields.values():
            if f.unique and rec.get(f.name) is not None:
                for other in self.store.find(obj.name, f.name, rec[f.name]):
                    if other["Id"] != rec["Id"] and not other["IsDeleted"]:
                        raise DuplicateValue(
                            f"duplicate value found: {f.name} duplicates value on record with id: {other['Id']}",
                            fields=[])

    def _check_rules(self, obj: SObjectType, rec: dict) -> None:
        for rule in self.store.records("_validation_rules"):
            if rule["object"] != obj.name or not rule.get("active", True):
                continue
            predicate = self._rule_predicate(obj, rule["condition"])
            if predicate(rec):
                raise ValidationRuleFailed(rule["message"], fields=[rule["field"]] if rule.get("field") else [])

    def _rule_predicate(self, obj: SObjectType, condition: str) -> Any:
        q = soql.parse(f"SELECT Id FROM {obj.name} WHERE {condition}")
        return soql.compile_condition(q, obj, q.where, self.resolver())

    def create(self, obj: SObjectType, body: Any, user: str) -> dict:
        changes = self._changes(obj, body, creating=True)
        with self.transaction():
            rid = self._next_id(obj.name)
            now = self.now_text()
            rec = self._system_row(obj.name, rid, now, {}, user)
            for f in obj.fields.values():
                if f.default is not None and f.createable:
                    rec[f.name] = f.default
            rec.update(changes)
            if obj.name == "Opportunity" and "CurrencyIsoCode" not in changes and rec.get("AccountId"):
                acct = self.store.get("Account", rec["AccountId"])
                if acct is not None:
                    rec["CurrencyIsoCode"] = acct.get("CurrencyIsoCode", rec["CurrencyIsoCode"])
            self._derive(obj, rec, changes, creating=True)
            self._check_required(obj, rec)
            self._check_unique(obj, rec)
            self._check_rules(obj, rec)
            self.store.put(obj.name, rid, rec)
            if obj.name == "OpportunityLineItem":
                self._touch_opportunity(rec.get("OpportunityId"))
            self.emit(obj, "CREATE", rec, {k: v for k, v in rec.items() if v is not None}, user)
        return rec

    def _touch_opportunity(self, opp_id: str | None) -> None:
        opp = self.store.get("Opportunity", opp_id) if opp_id else None
        if opp is None:
            return
        lines = [r for r in self.store.find("OpportunityLineItem", "OpportunityId", opp_id) if not r["IsDeleted"]]
        updated = {**opp, "HasOpportunityLineItem": bool(lines)}
        if lines:
            updated["Amount"] = round(sum(r.get("TotalPrice") or 0 for r in lines), 2)
        self.store.put("Opportunity", opp_id, updated)

    def update(self, obj: SObjectType, rid: str, body: Any, user: str) -> dict:
        current = self.get(obj, rid)
        changes = self._changes(obj, body, creating=False)
        with self.transaction():
            rec = {**current, **changes}
            self._derive(obj, rec, changes, creating=False)
            self._check_required(obj, rec)
            self._check_unique(obj, rec)
            self._check_rules(obj, rec)
            diff = {k: v for k, v in rec.items() if current.get(k) != v}
            now = self.now_text()
            rec.update(LastModifiedDate=now, LastModifiedById=user, SystemModstamp=now)
            self.store.put(obj.name, rec["Id"], rec)
            if obj.name == "OpportunityLineItem":
                self._touch_opportunity(rec.get("OpportunityId"))
            if diff:
                self.emit(obj, "UPDATE", rec, {**diff, "LastModifiedDate": now}, user)
        return rec

    def delete(self, obj: SObjectType, rid: str, user: str) -> dict:
        current = self.get(obj, rid)
        with self.transaction():
            now = self.now_text()
            rec = {**current, "IsDeleted": True, "SystemModstamp": now, "LastModifiedDate": now,
                   "LastModifiedById": user}
            self.store.put(obj.name, rec["Id"], rec)
            self.store.put("_deleted", rec["Id"], {"object": obj.name, "id": rec["Id"], "deletedDate": now})
            if obj.name == "OpportunityLineItem":
                self._touch_opportunity(rec.get("OpportunityId"))
            self.emit(obj, "DELETE", rec, {}, user)
        return rec

    def upsert(self, obj: SObjectType, field_name: str, raw_value: str, body: Any, user: str,
               update_only: bool = False) -> tuple[dict, bool]:
        """(record, created). 300 when several records match, 404 when the field is not an external id."""
        f, rows = self.find_by_external_id(obj, field_name, raw_value)
        if isinstance(body, dict):
            given = next((k for k in body if k.lower() == f.name.lower()), None)
            if given is not None and f.type != "id":
                if str(body[given]) != raw_value:
                    raise InvalidField(f"The value for {f.name} in the URL and the body are different", fields=[f.name])
                body = {k: v for k, v in body.items() if k != given}
        if len(rows) > 1:
            raise MultipleMatches([self.record_url(obj.name, r["Id"], self.sim.default_version) for r in rows])
        if rows:
            return self.update(obj, rows[0]["Id"], body, user), False
        if update_only or f.type == "id":
            raise NotFound()
        if not isinstance(body, dict):
            raise JsonParserError("Cannot deserialize request body")
        value: Any = raw_value
        if f.type in NUMBER_TYPES:
            value = float(raw_value)
        return self.create(obj, {**body, f.name: value}, user), True

    def record_url(self, obj_name: str, rid: str, version: str) -> str:
        return f"/services/data/v{version}/sobjects/{obj_name}/{rid}"

    # ---- transactions and change events ------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside land together (store.atomic) and share one CDC transactionKey."""
        if self._txn is not None:
            with self.store.atomic():
                yield
            return
        self._txn = {"key": None, "seq": 0, "published": False}
        try:
            with self.store.atomic():
                yield
        finally:
            published = self._txn["published"]
            self._txn = None
            if published:
                for waiter in list(self.waiters):
                    waiter.set()

    def emit(self, obj: SObjectType, change: str, rec: dict, fields: dict[str, Any], user: str,
             origin: str | None = None) -> None:
        if obj.name not in self.org["cdc"]:
            return
        txn = self._txn if self._txn is not None else {"key": None, "seq": 0, "published": False}
        if txn["key"] is None:
            # UUID-shaped like Salesforce's, but derived from the org's transaction count: the same run, the same keys
            h = hashlib.blake2b(f"{self.org['id']}:{self.store.next_id('_transactions')}".encode(),
                                digest_size=16).hexdigest()
            txn["key"] = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:]}"
        txn["seq"] += 1
        txn["published"] = True
        replay = self.store.next_id("_events")
        skip = {"Id", "IsDeleted", "SystemModstamp", "CreatedById", "LastModifiedById"}
        payload = {k: v for k, v in fields.items() if k not in skip} if change != "DELETE" else {}
        header = {
            "entityName": obj.name,
            "recordIds": [rec["Id"]],
            "changeType": change,
            "changeOrigin": origin or self.sim.change_origin(),
            "transactionKey": txn["key"],
            "sequenceNumber": txn["seq"],
            "commitTimestamp": int(self.clock.timestamp() * 1000),
            "commitNumber": 10_000_000_000 + replay,
            "commitUser": user,
            "changedFields": sorted(payload) if change == "UPDATE" else [],
            "diffFields": [],
            "nulledFields": sorted(k for k, v in payload.items() if v is None) if change == "UPDATE" else [],
        }
        event = {"replayId": replay, "channel": f"/data/{change_event_name(obj.name)}",
                 "payload": {"ChangeEventHeader": header, **{k: v for k, v in payload.items() if v is not None}}}
        self.store.put("_events", f"{replay:012d}", event)

    def events_after(self, replay_id: int, channel: str, limit: int) -> list[dict]:
        out = []
        for key in self.store.ids("_events"):
            if int(key) <= replay_id:
                continue
            event = self.store.get("_events", key)
            if channel == "ChangeEvents" or event["channel"] == f"/data/{channel}":
                out.append(event)
                if len(out) >= limit:
                    break
        return out

    def latest_replay(self) -> int:
        keys = self.store.ids("_events")
        return int(keys[-1]) if keys else 0

    # ---- query ---------------------------------------------------------------------------------------------------
    def resolver(self) -> soql.Resolver:
        return soql.Resolver(self.schema, self.fetch, self.clock.now())

    def compile(self, text: str) -> soql.Plan:
        """The query's plan, compiled once per text, schema and day: a schema change builds a new `Schema`, and
        date literals (TODAY, LAST_N_DAYS:n) are days on the virtual clock. Compiling was ~10% of a SOQL lookup."""
        schema = self.schema
        if self._plans_schema is not schema or len(self._plans) >= _PLAN_CAP:
            self._plans, self._plans_schema = {}, schema
        key = (text, self.clock.now().date())
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = soql.compile_query(soql.parse(text), self.resolver(), self.indexed)
        return plan

    def run_query(self, text: str, version: str, include_deleted: bool, batch: int = QUERY_BATCH) -> dict[str, Any]:
        plan = self.compile(text)
        q = plan.query
        rows = self._select(plan, include_deleted)
        if plan.count_only:
            return {"totalSize": len(rows), "done": True, "records": []}
        if plan.aggregate:
            rec: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
            for i, item in enumerate(q.select):
                getter = soql.resolve_path(q, plan.sobject, item.path, self.resolver()).getter
                rec[item.alias or f"expr{i}"] = sum(1 for r in rows if getter(r) is not None)
            return {"totalSize": 1, "done": True, "records": [rec]}
        render = self._renderer(plan, version, include_deleted)
        total = len(rows)
        if total <= batch:
            return {"totalSize": total, "done": True, "records": [render(r) for r in rows]}
        cursor_id = self._next_id("QueryLocator")[:15]
        self.cursors[cursor_id] = Cursor(rows, render, total, include_deleted)
        while len(self.cursors) > _CURSOR_CAP:
            self.cursors.popitem(last=False)
        kind = "queryAll" if include_deleted else "query"
        return {"totalSize": total, "done": False,
                "nextRecordsUrl": f"/services/data/v{version}/{kind}/{cursor_id}-{batch}",
                "records": [render(r) for r in rows[:batch]]}

    def query_more(self, locator: str, version: str, include_deleted: bool, batch: int = QUERY_BATCH) -> dict:
        cursor_id, _, start = locator.partition("-")
        cursor = self.cursors.get(cursor_id)
        if cursor is None or not start.isdigit():
            raise SalesforceError("invalid query locator", "INVALID_QUERY_LOCATOR", 400)
        first = int(start)
        page = cursor.rows[first : first + batch]
        end = first + len(page)
        kind = "queryAll" if include_deleted else "query"
        out: dict[str, Any] = {"totalSize": cursor.total, "done": end >= cursor.total}
        if end < cursor.total:
            out["nextRecordsUrl"] = f"/services/data/v{version}/{kind}/{cursor_id}-{end}"
        out["records"] = [cursor.render(r) for r in page]
        return out

    def _select(self, plan: soql.Plan, include_deleted: bool) -> list[dict]:
        name = plan.sobject.name
        if plan.index_hint is not None:
            fname, value = plan.index_hint
            if fname == "Id":
                rec = self.store.get(name, value)
                candidates = [rec] if rec is not None else []
            else:
                candidates = self.store.find(name, fname, value)
        else:
            candidates = self.store.records(name)
        pred = plan.predicate
        rows = [r for r in candidates if (include_deleted or not r["IsDeleted"]) and (pred is None or pred(r))]
        if plan.order:
            rows = soql.sort_rows(rows, plan.order)
        q = plan.query
        if q.offset:
            rows = rows[q.offset:]
        if q.limit is not None:
            rows = rows[: q.limit]
        return rows

    def _renderer(self, plan: soql.Plan, version: str, include_deleted: bool = False) -> Any:
        base = f"/services/data/v{version}/sobjects/"
        obj_name = plan.sobject.name
        fetch = self.fetch
        parts: list[Any] = []
        for item in plan.fields:
            if isinstance(item, soql.FieldPlan):
                parts.append(("f", item))
            elif isinstance(item, tuple):
                rel, sub = item
                parts.append(("c", rel, sub, self._renderer(sub, version)))

        def render(rec: dict) -> dict[str, Any]:
            out: dict[str, Any] = {"attributes": {"type": obj_name, "url": base + obj_name + "/" + rec["Id"]}}
            for part in parts:
                if part[0] == "f":
                    fp = part[1]
                    if not fp.steps:
                        out[fp.field.name] = rec.get(fp.field.name)
                        continue
                    node, src = out, rec
                    for ref, rel, target in fp.steps:
                        rid = src.get(ref) if src is not None else None
                        src = fetch(target, rid) if rid else None
                        if src is None:
                            node[rel] = None
                            break
                        child = node.get(rel)
                        if child is None:
                            child = node[rel] = {"attributes": {"type": target, "url": base + target + "/" + src["Id"]}}
                        node = child
                    else:
                        node[fp.field.name] = src.get(fp.field.name)
                else:
                    _, rel, sub, sub_render = part
                    kids = [r for r in self.store.find(sub.sobject.name, sub.child_field, rec["Id"])
                            if not r["IsDeleted"] and (sub.predicate is None or sub.predicate(r))]
                    if sub.order:
                        kids = soql.sort_rows(kids, sub.order)
                    if sub.query.limit is not None:
                        kids = kids[: sub.query.limit]
                    out[rel] = {"totalSize": len(kids), "done": True, "records": [sub_render(k) for k in kids]} \
                        if kids else None
            return out

        return render

    # ---- windows -------------------------------------------------------------------------------------------------
    def deleted_between(self, obj: SObjectType, start: str, end: str) -> dict[str, Any]:
        rows = [r for r in self.store.records("_deleted") if r["object"] == obj.name and start <= r["deletedDate"] <= end]
        latest = max((r["deletedDate"] for r in rows), default=None)
        return {"deletedRecords": [{"id": r["id"], "deletedDate": r["deletedDate"]} for r in rows],
                "earliestDateAvailable": self.store.get("_org", "org").get("created", start),
                "latestDateCovered": latest or end}

    def updated_between(self, obj: SObjectType, start: str, end: str) -> dict[str, Any]:
        """sObject Get Updated (resources_getupdated, and getUpdated() of the SOAP API's data replication): ids of
        the records whose SystemModstamp is in the span, both bounds' seconds ignored (12:30:15 is 12:30:00, ends
        included); the start strictly before the end and no more than 30 days back (else INVALID_REPLICATION_DATE);
        at most 600,000 ids (else EXCEEDED_ID_LIMIT). ``latestDateCovered`` is the end, or the current minute when
        the end is later: what has not happened yet is not covered, so the next span starts there."""
        start_m, end_m = _minute(start), _minute(end)
        if start_m >= end_m:
            raise SalesforceError("startDate must chronologically precede endDate (seconds are ignored)",
                                  "INVALID_REPLICATION_DATE", 400)
        now = self.clock.now()
        if start_m < _minute(soql.format_datetime(now - timedelta(days=REPLICATION_DAYS))):
            raise SalesforceError(f"startDate can't be more than {REPLICATION_DAYS} days ago",
                                  "INVALID_REPLICATION_DATE", 400)
        found = [r["Id"] for r in self.store.records(obj.name)
                 if not r["IsDeleted"] and start_m <= r["SystemModstamp"] <= end_m]
        if len(found) > UPDATED_ID_LIMIT:
            raise SalesforceError(f"More than {UPDATED_ID_LIMIT} ids; choose a start and end closer together",
                                  "EXCEEDED_ID_LIMIT", 400)
        covered = min(end_m, max(start_m, _minute(soql.format_datetime(now))))
        return {"ids": found, "latestDateCovered": covered}


REPLICATION_DAYS = 30  # "Results are returned for no more than 30 days previous to the day the call is executed"
UPDATED_ID_LIMIT = 600_000


def record_body(obj: SObjectType, rec: dict[str, Any], version: str, fields: list[str] | None = None) -> dict:
    """A record as the REST API shows it: `attributes` (type, url), then its fields (all, or the ones asked for)."""
    out: dict[str, Any] = {"attributes": {"type": obj.name, "url": f"/services/data/v{version}/sobjects/{obj.name}/{rec['Id']}"}}
    names = fields if fields is not None else obj.fields
    out.update(zip(names, map(rec.get, names)))  # the loop in C: a record has dozens of fields
    return out


def save_result(rid: str, created: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rid, "success": True, "errors": []}
    if created is not None:
        out["created"] = created
    return out


def _minute(stamp: str) -> str:
    """A stored datetime (``2024-01-31T09:00:41.123+0000``) with its seconds dropped, as replication reads it."""
    return stamp[:17] + "00.000+0000"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, dict):
        return "START_OBJECT"
    return "VALUE_NULL"


def _auto_number(fmt: str, n: int) -> str:
    start, end = fmt.find("{"), fmt.find("}")
    if start < 0 or end < start:
        return f"{fmt}{n}"
    width = end - start - 1
    return fmt[:start] + str(n).rjust(width, "0") + fmt[end + 1 :]


def change_event_name(obj_name: str) -> str:
    return obj_name[:-3] + "__ChangeEvent" if obj_name.endswith("__c") else obj_name + "ChangeEvent"


def custom_field(spec: dict[str, Any]) -> Field:
    t = spec["type"]
    ref_to = tuple(spec.get("reference_to") or ())
    name = spec["name"]
    rel = name[:-3] + "__r" if ref_to else None
    return Field(
        name=name, type=t, label=spec.get("label") or name[:-3].replace("_", " "),
        length=spec.get("length") or (255 if t in TEXT_TYPES else 0), required=bool(spec.get("required")),
        external_id=bool(spec.get("external_id")), unique=bool(spec.get("unique")),
        picklist=tuple(spec.get("picklist_values") or ()), restricted=bool(spec.get("restricted")),
        reference_to=ref_to, relationship_name=rel, child_relationship=spec.get("child_relationship_name"),
        default=spec.get("default"), custom=True, precision=spec.get("precision") or 18,
        scale=spec.get("scale") if spec.get("scale") is not None else 2,
    )


def custom_object(spec: dict[str, Any]) -> SObjectType:
    from .schema import _object  # noqa: PLC0415 - shares the system-field builder

    obj = _object(spec["name"], spec.get("label") or spec["name"][:-3], spec.get("plural") or spec["name"][:-3] + "s",
                  [Field("Name", "string", length=80, required=not spec.get("auto_number"),
                         auto_number=spec.get("auto_number"), createable=not spec.get("auto_number"),
                         updateable=not spec.get("auto_number"))],
                  custom=True, prefix=spec["key_prefix"])
    return obj
