"""One NetSuite account's state and rules (no HTTP): records, validation, amounts, applications, async jobs,
credentials and account settings. Everything persistent lives in `self.store`, so reset/snapshot/restore work.

Collections: one per record type (keyed by internal id, with an externalId index); `_apply` (payment and credit
applications, indexed by invoice); `_account` (settings: release, concurrency limit, windows, TBA clock);
`_integrations`, `_tokens`, `_oauth2_clients`, `_access_tokens` (credentials); `_jobs`, `_idempotency` (async).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from q2c_simulators.kernel import Store, VirtualClock

from .exceptions import (
    NetSuiteError, invalid_content, invalid_ref, missing_fields, nonexistent, user_error,
)
from .qfilter import compile_filter
from .records import TERMS_DAYS, Field, RecordType, Sublist, lookup, record_types
from .releases import DEFAULT_RELEASE, RELEASES, invoice_remaining_field

Record = dict[str, Any]
CONCURRENCY_QUOTA = "concurrency"  # the kernel quota that is the account's concurrency governance
TIER_LIMITS = {"shared": 5, "tier1": 15, "tier2": 25, "tier3": 35, "tier4": 45, "tier5": 55}
CENT = Decimal("0.01")
_TRAN_PREFIX = {"salesOrder": "SO", "invoice": "INV", "creditMemo": "CM", "customerPayment": "PYMT",
                "expenseReport": "EXP"}
_APPLYING = ("customerPayment", "creditMemo")
_MAX_NUMBER = Decimal("1e15")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def iso_now(clock: VirtualClock) -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


class NetSuiteBackend:
    def __init__(self, account: str, clock: VirtualClock) -> None:
        self.account = account
        self.clock = clock
        self.store = Store()
        for name in record_types(DEFAULT_RELEASE):
            self.store.add_index(name, "externalId")
        self.store.add_index("_apply", "invoice")
        self.version = 0  # bumped on every write; SuiteQL rebuilds its tables when it moves
        self.nonces: dict[tuple[str, str, str], float] = {}  # replay cache (transient, like NetSuite's)
        self._seed()

    # ---- seed and settings ---------------------------------------------------------------------------------
    def _seed(self) -> None:
        now = iso_now(self.clock)
        with self.store.atomic():
            cid = str(self.store.next_id("currency"))
            self.store.put("currency", cid, {"id": cid, "name": "USD", "symbol": "USD", "displaySymbol": "$",
                                              "isBaseCurrency": True, "exchangeRate": Decimal("1"),
                                              "isInactive": False, "createdDate": now, "lastModifiedDate": now})
            sid = str(self.store.next_id("subsidiary"))
            self.store.put("subsidiary", sid, {"id": sid, "name": "Parent Company", "currency": cid, "country": "US",
                                                "isInactive": False, "createdDate": now, "lastModifiedDate": now})
            self.store.put("_account", "config", {"id": "config", "release": DEFAULT_RELEASE, "concurrency_limit": None,
                                                   "tier": "shared", "windows": [], "tba_clock": "virtual_or_real",
                                                   "timestamp_tolerance_seconds": 300, "async_delay_seconds": 0})

    @property
    def config(self) -> Record:
        return self.store.get("_account", "config") or {}

    def update_config(self, **changes: Any) -> Record:
        config = {**self.config, **changes}
        self.store.put("_account", "config", config)
        return config

    @property
    def release(self) -> str:
        """The account's release now: an upgrade window that has ended has switched it to its target release."""
        config = self.config
        release = config.get("release", DEFAULT_RELEASE)
        windows = config.get("windows")
        if windows:
            now = self.clock.now()
            for w in windows:
                if w.get("to_release") and now >= datetime.fromisoformat(w["end"]):
                    release = w["to_release"]
        return release if release in RELEASES else DEFAULT_RELEASE

    def active_window(self) -> Record | None:
        windows = self.config.get("windows")
        if not windows:
            return None
        now = self.clock.now()
        for w in windows:
            if datetime.fromisoformat(w["start"]) <= now < datetime.fromisoformat(w["end"]):
                return w
        return None

    # ---- record types ------------------------------------------------------------------------------------------
    def record_type(self, name: str) -> RecordType:
        rt = lookup(name, self.release)
        if rt is None:
            raise NetSuiteError(404, "NONEXISTENT_ID", f"Record type '{name}' does not exist.")
        return rt

    def resolve_id(self, rt: RecordType, raw: str) -> str:
        if raw.startswith("eid:"):
            eid = raw[4:]
            found = self.store.find(rt.name, "externalId", eid) if eid else []
            if not found:
                raise nonexistent(rt.name, raw)
            return found[0]["id"]
        if not raw.isdigit() or self.store.get(rt.name, str(int(raw))) is None:
            raise nonexistent(rt.name, raw)
        return str(int(raw))

    def get(self, rt: RecordType, raw_id: str) -> Record:
        return self.store.get(rt.name, self.resolve_id(rt, raw_id))  # type: ignore[return-value]

    def ref_name(self, target: str, rid: str) -> str:
        rec = self.store.get(target, rid)
        if rec is None:
            return rid
        rt = record_types(DEFAULT_RELEASE)[target]
        if rt.name_field and rec.get(rt.name_field):
            return str(rec[rt.name_field])
        return rid

    def list_ids(self, rt: RecordType, q: str | None) -> list[str]:
        ids = sorted(self.store.ids(rt.name), key=int)
        if not q:
            return ids
        aliases = {"amountDue": "amountRemaining"} if rt.name == "invoice" and "amountDue" in rt.fields else {}
        pred = compile_filter(q, rt, aliases)
        rows = [self.store.get(rt.name, i) for i in ids]
        return [r["id"] for r in rows if r is not None and pred(r)]

    # ---- writes --------------------------------------------------------------------------------------------------
    def create(self, rt: RecordType, body: Any, *, strict_names: bool = False, external_id: str | None = None) -> str:
        fields, lines = self._coerce(rt, body, strict_names)
        if external_id is not None:
            fields["externalId"] = external_id
        if rt.name == "customer" and "externalId" in rt.fields and not fields.get("externalId"):
            raise missing_fields(["External ID"], "externalId")
        missing = [f.label for k, f in rt.fields.items() if f.required and fields.get(k) in (None, "") and k != "externalId"]
        if missing:
            first = next(k for k, f in rt.fields.items() if f.required and f.label == missing[0])
            raise missing_fields(missing, first)
        with self.store.atomic():
            self._check_unique_eid(rt, fields.get("externalId"), None)
            rid = str(self.store.next_id(rt.name))
            now = iso_now(self.clock)
            rec: Record = {"id": rid, **{k: v for k, v in fields.items() if v is not None}, "createdDate": now,
                           "lastModifiedDate": now}
            for name, sub in rt.sublists.items():
                rec[name] = self._number_lines(lines.get(name, []))
            self._derive(rt, rec, None)
            self.store.put(rt.name, rid, rec)
            self._after_write(rt, rec, None)
        self.version += 1
        return rid

    def update(self, rt: RecordType, rid: str, body: Any, *, strict_names: bool = False,
               replace: set[str] | None = None) -> None:
        old = self.store.get(rt.name, rid)
        if old is None:
            raise nonexistent(rt.name, rid)
        fields, lines = self._coerce(rt, body, strict_names)
        rec = {k: ([dict(line) for line in v] if k in rt.sublists else v) for k, v in old.items()}
        for k, v in fields.items():
            if v is None:
                if k in rt.fields and rt.fields[k].required:
                    raise missing_fields([rt.fields[k].label], k)
                rec.pop(k, None)
            else:
                rec[k] = v
        for name in rt.sublists:
            if name in lines:
                if replace is not None and name in replace:
                    rec[name] = self._number_lines(lines[name])
                else:
                    rec[name] = self._merge_lines(old.get(name, []), lines[name], name)
            elif replace is not None and name in replace:
                rec[name] = []
        rec["lastModifiedDate"] = iso_now(self.clock)
        with self.store.atomic():
            self._check_unique_eid(rt, rec.get("externalId"), rid)
            self._derive(rt, rec, old)
            self.store.put(rt.name, rid, rec)
            self._after_write(rt, rec, old)
        self.version += 1

    def upsert(self, rt: RecordType, eid: str, body: Any, *, strict_names: bool = False) -> tuple[str, bool]:
        if not eid:
            raise invalid_content("The external ID is empty.", "externalId")
        found = self.store.find(rt.name, "externalId", eid)
        if isinstance(body, dict) and "externalId" in body and body["externalId"] != eid:
            raise invalid_content("The externalId in the request body does not match the eid: in the URL.",
                                  "externalId")
        if found:
            self.update(rt, found[0]["id"], body, strict_names=strict_names)
            return found[0]["id"], False
        return self.create(rt, body, strict_names=strict_names, external_id=eid), True

    def delete(self, rt: RecordType, rid: str) -> None:
        old = self.store.get(rt.name, rid)
        if old is None:
            raise nonexistent(rt.name, rid)
        if rt.name == "subsidiary" and rid == "1" or rt.name == "currency" and old.get("isBaseCurrency"):
            raise user_error("This record cannot be deleted because it has dependent records.")
        if self._referenced(rt.name, rid):
            raise user_error("This record cannot be deleted because it has dependent records.")
        with self.store.atomic():
            self.store.delete(rt.name, rid)
            self._after_write(rt, None, old)
        self.version += 1

    # ---- validation -------------------------------------------------------------------------------------------
    def _coerce(self, rt: RecordType, body: Any, strict: bool) -> tuple[Record, dict[str, list[Record]]]:
        if not isinstance(body, dict):
            raise invalid_content("The request body must be a JSON object.")
        fields: Record = {}
        lines: dict[str, list[Record]] = {}
        for key, value in body.items():
            if key in ("id", "links", "refName", "createdDate", "lastModifiedDate"):
                continue
            if key == "externalId":
                if value is not None and (not isinstance(value, (str, int)) or isinstance(value, bool)):
                    raise invalid_content("Invalid value for field externalId.", "externalId")
                if value is not None and (len(str(value)) > 255 or not str(value).strip()):
                    raise user_error("The external ID must be 1 to 255 characters.", "externalId")
                fields["externalId"] = None if value is None else str(value)
                continue
            if key in rt.sublists:
                lines[key] = self._coerce_lines(rt.sublists[key], value, strict)
                continue
            f = rt.fields.get(key)
            if f is None:
                if strict:
                    raise invalid_content(f"Invalid field name '{key}' for record type {rt.name}.", key)
                continue
            if f.readonly:
                continue
            fields[key] = self._coerce_value(f, value, key)
        return fields, lines

    def _coerce_lines(self, sub: Sublist, value: Any, strict: bool) -> list[Record]:
        items = value.get("items") if isinstance(value, dict) else value
        if not isinstance(items, list):
            raise invalid_content(f"The sublist {sub.name} must be an object with an items array.", sub.name)
        if sub.max_lines is not None and len(items) > sub.max_lines:
            raise user_error(f"The sublist {sub.name} takes at most {sub.max_lines} line(s).", f"{sub.name}.items")
        out = []
        for i, item in enumerate(items):
            path = f"{sub.name}.items[{i}]"
            if not isinstance(item, dict):
                raise invalid_content(f"Each {sub.name} line must be a JSON object.", path)
            line: Record = {}
            for key, v in item.items():
                if key == "line":
                    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                        line["line"] = v
                    continue
                if key in ("links", "refName", "id"):
                    continue
                f = sub.fields.get(key)
                if f is None:
                    if strict:
                        raise invalid_content(f"Invalid field name '{key}' on sublist {sub.name}.", f"{path}.{key}")
                    continue
                if f.readonly:
                    continue
                coerced = self._coerce_value(f, v, f"{path}.{key}")
                if coerced is not None:
                    line[key] = coerced
            if "line" not in line:
                missing = [f.label for k, f in sub.fields.items() if f.required and k not in line]
                if missing:
                    raise missing_fields(missing, path)
            out.append(line)
        return out

    def _coerce_value(self, f: Field, value: Any, path: str) -> Any:
        if value is None:
            return None
        field = path.split(".")[-1]
        if f.kind == "string":
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise invalid_content(f"Invalid value for field {field}: a string is expected.", path)
            text = str(value)
            if f.max_length and len(text) > f.max_length:
                raise user_error(f"The field {field} contained more than the maximum number ( {f.max_length} ) "
                                 f"of characters allowed.", path)
            return text
        if f.kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise invalid_content(f"Invalid number for field {field}.", path)
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                raise invalid_content(f"Invalid number for field {field}.", path) from None
            if not number.is_finite() or abs(number) >= _MAX_NUMBER:
                raise invalid_content(f"Invalid number for field {field}.", path)
            if f.minimum is not None and number < Decimal(str(f.minimum)):
                raise user_error(f"Invalid value for field {field}: must be {f.minimum} or more.", path)
            return int(number) if f.kind == "integer" else number
        if f.kind == "boolean":
            if not isinstance(value, bool):
                raise invalid_content(f"Invalid value for field {field}: a boolean is expected.", path)
            return value
        if f.kind == "date":
            try:
                if not isinstance(value, str) or len(value) != 10:
                    raise ValueError
                return date.fromisoformat(value).isoformat()
            except ValueError:
                raise invalid_content(f"Invalid date value for field {field} (use YYYY-MM-DD).", path) from None
        if f.kind == "enum":
            key = value.get("id") if isinstance(value, dict) else value
            if isinstance(key, bool) or not isinstance(key, (str, int)) or str(key) not in (f.choices or {}):
                raise invalid_ref(key if isinstance(key, (str, int)) else value, path, field)
            return str(key)
        # ref
        if not isinstance(value, dict):
            raise invalid_content(f"Invalid value for field {field}: an object with id or externalId is expected.",
                                  path)
        target = f.target or ""
        if value.get("id") is not None:
            key = value["id"]
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise invalid_ref(key, path, field)
            key = str(key)
            if not key.isdigit() or self.store.get(target, str(int(key))) is None:
                raise invalid_ref(key, path, field)
            return str(int(key))
        if value.get("externalId") is not None:
            eid = value["externalId"]
            found = self.store.find(target, "externalId", str(eid)) if isinstance(eid, (str, int)) else []
            if not found:
                raise invalid_ref(eid, path, field)
            return found[0]["id"]
        raise invalid_content(f"Invalid value for field {field}: an object with id or externalId is expected.", path)

    def _check_unique_eid(self, rt: RecordType, eid: str | None, rid: str | None) -> None:
        if eid:
            clash = [r for r in self.store.find(rt.name, "externalId", eid) if r["id"] != rid]
            if clash:
                raise user_error(f"A record with external ID {eid} already exists.", "externalId")

    @staticmethod
    def _number_lines(lines: list[Record]) -> list[Record]:
        return [{**{k: v for k, v in line.items() if k != "line"}, "line": i} for i, line in enumerate(lines, 1)]

    @staticmethod
    def _merge_lines(old: list[Record], new: list[Record], name: str) -> list[Record]:
        merged = [dict(line) for line in old]
        by_line = {line["line"]: line for line in merged}
        nxt = max(by_line, default=0) + 1
        for i, line in enumerate(new):
            if "line" in line:
                target = by_line.get(line["line"])
                if target is None:
                    raise invalid_ref(line["line"], f"{name}.items[{i}].line", "line")
                target.update({k: v for k, v in line.items() if k != "line"})
            else:
                merged.append({**line, "line": nxt})
                nxt += 1
        return merged

    def _referenced(self, target: str, rid: str) -> bool:
        for rt in record_types(DEFAULT_RELEASE).values():
            refs = [k for k, f in rt.fields.items() if f.kind == "ref" and f.target == target]
            sub_refs = [(s.name, k) for s in rt.sublists.values() for k, f in s.fields.items()
                        if f.kind == "ref" and f.target == target]
            if not refs and not sub_refs:
                continue
            for rec in self.store.records(rt.name):
                if rt.name == target and rec["id"] == rid:
                    continue
                if any(rec.get(k) == rid for k in refs):
                    return True
                if any(line.get(k) == rid for s, k in sub_refs for line in rec.get(s, [])):
                    return True
        return False

    # ---- derived values and business rules ---------------------------------------------------------------------
    def _derive(self, rt: RecordType, rec: Record, old: Record | None) -> None:
        store = self.store
        name = rt.name
        if name == "customer":
            rec["entityId"] = rec.get("companyName", "")
            if not rec.get("currency"):
                rec["currency"] = store.get("subsidiary", rec["subsidiary"])["currency"]
        elif name == "job":
            cust = store.get("customer", rec["customer"])
            rec.setdefault("subsidiary", cust.get("subsidiary"))
            if cust.get("currency"):
                rec.setdefault("currency", cust["currency"])
            rec["entityId"] = f"{cust.get('entityId', '')} : {rec.get('companyName', '')}"
            rec.setdefault("jobBillingType", "TM")
        elif name == "employee":
            rec["entityId"] = f"{rec.get('firstName', '')} {rec.get('lastName', '')}".strip()
        elif name == "timeBill":
            task = rec.get("caseTaskEvent")
            if task and store.get("projectTask", task).get("project") != rec["customer"]:
                raise user_error("The project task does not belong to the project on this time entry.",
                                 "caseTaskEvent")
            if rec["hours"] > 24:
                raise user_error("A time entry cannot exceed 24 hours.", "hours")
            rec.setdefault("approvalStatus", "1")
            rec.setdefault("isBillable", True)
            if rec.get("rate") is None and rec.get("item"):
                rate = store.get("serviceSaleItem", rec["item"]).get("rate")
                if rate is not None:
                    rec["rate"] = rate
        elif name == "expenseReport":
            rec.setdefault("approvalStatus", "1")
            rec["total"] = money(sum((line.get("amount", Decimal(0)) for line in rec.get("expense", [])), Decimal(0)))
            rec.setdefault("tranId", f"EXP{rec['id']}")
        elif name in ("salesOrder", "invoice", "creditMemo", "customerPayment"):
            self._derive_transaction(rt, rec, old)
        elif name == "billingSchedule":
            total = sum((m.get("milestonePercent", Decimal(0)) for m in rec.get("milestone", [])), Decimal(0))
            if total > 100:
                raise user_error("The milestone percentages add up to more than 100%.", "milestone")
            for i, m in enumerate(rec.get("milestone", [])):
                task = m.get("projectTask")
                if task and rec.get("project") and store.get("projectTask", task).get("project") != rec["project"]:
                    raise user_error("The milestone's project task does not belong to the schedule's project.",
                                     f"milestone.items[{i}].projectTask")
        elif name == "subsidiary":
            parent = rec.get("parent")
            seen = {rec["id"]}
            while parent:
                if parent in seen:
                    raise user_error("A subsidiary cannot be its own parent.", "parent")
                seen.add(parent)
                parent = (store.get("subsidiary", parent) or {}).get("parent")

    def _derive_transaction(self, rt: RecordType, rec: Record, old: Record | None) -> None:
        store = self.store
        entity_field = "customer" if rt.name == "customerPayment" else "entity"
        cust = store.get("customer", rec[entity_field])
        rec.setdefault("subsidiary", cust.get("subsidiary"))
        rec.setdefault("currency", cust.get("currency") or store.get("subsidiary", rec["subsidiary"])["currency"])
        rec.setdefault("tranDate", self.clock.now().date().isoformat())
        rec.setdefault("tranId", f"{_TRAN_PREFIX[rt.name]}{rec['id']}")
        if rec.get("exchangeRate") is None:
            rec["exchangeRate"] = self.exchange_rate(rec["subsidiary"], rec["currency"], rec["tranDate"])
        job = rec.get("job")
        if job and store.get("job", job).get("customer") != rec[entity_field]:
            raise user_error("The project does not belong to this customer.", "job")
        if "item" in rt.sublists:
            subtotal = Decimal(0)
            for line in rec.get("item", []):
                item = store.get("serviceSaleItem", line["item"]) or {}
                quantity = line.get("quantity", Decimal(1))
                line.setdefault("quantity", quantity)
                if line.get("rate") is None:
                    line["rate"] = item.get("rate", Decimal(0))
                line["amount"] = money(quantity * line["rate"])
                subtotal += line["amount"]
            rec["subtotal"] = money(subtotal)
            tax = money(subtotal * rec.get("taxRate", Decimal(0)) / 100) \
                if rt.name in ("invoice", "creditMemo") else Decimal(0)
            if rt.name == "creditMemo":
                rec["taxTotal"] = tax
            if rt.name == "invoice":
                if rec.get("taxRate") is None and cust.get("taxable") and cust.get("taxRate") is not None:
                    tax = money(subtotal * cust["taxRate"] / 100)
                rec["taxTotal"] = tax
                if rec.get("dueDate") is None:
                    terms = rec.get("terms") or cust.get("terms")
                    days = TERMS_DAYS.get(terms or "", 0)
                    rec["dueDate"] = (date.fromisoformat(rec["tranDate"]) + timedelta(days=days)).isoformat()
            rec["total"] = money(subtotal + tax)
        if rt.name == "salesOrder":
            rec.setdefault("status", "Pending Fulfillment")
        elif rt.name == "invoice":
            paid = self._applied_to(rec["id"])
            if paid > rec["total"]:
                raise user_error(f"The invoice total {rec['total']} is less than the {paid} already applied to it.",
                                 "item")
            self._set_remaining(rec, paid)
        elif rt.name in _APPLYING:
            available = rec["payment"] if rt.name == "customerPayment" else rec["total"]
            applied = Decimal(0)
            seen = set()
            for i, line in enumerate(rec.get("apply", [])):
                path = f"apply.items[{i}]"
                inv = store.get("invoice", line["doc"])
                if inv.get("entity") != rec[entity_field]:
                    raise user_error("You can only apply to invoices of the same customer.", f"{path}.doc")
                if inv.get("currency") != rec.get("currency"):
                    raise user_error("The invoice is in a different currency.", f"{path}.doc")
                if line["doc"] in seen:
                    raise user_error("The invoice is applied twice.", f"{path}.doc")
                seen.add(line["doc"])
                own_before = sum((a["amount"] for a in store.find("_apply", "invoice", line["doc"])
                                  if a["source"] == f"{rt.name}:{rec['id']}"), Decimal(0))
                remaining = inv["total"] - self._applied_to(line["doc"]) + own_before
                amount = money(line["amount"])
                if amount > remaining:
                    raise user_error(f"The amount applied ({amount}) is more than the amount due ({remaining}).",
                                     f"{path}.amount")
                line["amount"] = amount
                applied += amount
            if applied > available:
                raise user_error(f"The total applied ({applied}) is more than the amount available ({available}).",
                                 "apply")
            rec["applied"] = money(applied)
            rec["unapplied"] = money(available - applied)
            if rt.name == "customerPayment":
                rec["status"] = "Deposited" if rec["unapplied"] == 0 else "Not Deposited"
            else:
                rec["status"] = "Fully Applied" if rec["unapplied"] == 0 else "Open"

    def _applied_to(self, invoice_id: str) -> Decimal:
        return sum((a["amount"] for a in self.store.find("_apply", "invoice", invoice_id)), Decimal(0))

    @staticmethod
    def _set_remaining(inv: Record, paid: Decimal) -> None:
        inv["amountPaid"] = money(paid)
        inv["amountRemaining"] = money(inv["total"] - paid)
        inv["status"] = "Paid In Full" if inv["amountRemaining"] == 0 else "Open"

    def _after_write(self, rt: RecordType, rec: Record | None, old: Record | None) -> None:
        """Keep applications and invoice balances in step with payments and credit memos."""
        if rt.name not in _APPLYING:
            return
        store = self.store
        source = f"{rt.name}:{(rec or old)['id']}"  # type: ignore[index]
        touched = set()
        for line in (old or {}).get("apply", []):
            store.delete("_apply", f"{source}:{line['line']}")
            touched.add(line["doc"])
        for line in (rec or {}).get("apply", []):
            store.put("_apply", f"{source}:{line['line']}", {"id": f"{source}:{line['line']}", "source": source,
                                                             "invoice": line["doc"], "amount": line["amount"]})
            touched.add(line["doc"])
        for inv_id in touched:
            inv = store.get("invoice", inv_id)
            if inv is not None:
                inv = dict(inv)
                self._set_remaining(inv, self._applied_to(inv_id))
                store.put("invoice", inv_id, inv)

    def exchange_rate(self, subsidiary: str, currency: str, on: str) -> Decimal:
        base = self.store.get("subsidiary", subsidiary)["currency"]
        if base == currency:
            return Decimal(1)
        best: Record | None = None
        for r in self.store.records("currencyRate"):
            if r["baseCurrency"] == base and r["transactionCurrency"] == currency and r["effectiveDate"] <= on:
                if best is None or r["effectiveDate"] > best["effectiveDate"]:
                    best = r
        if best is None:
            raise user_error(f"No exchange rate from currency {currency} to the subsidiary's base currency {base} "
                             f"on {on}. Enter a currencyRate record first.", "exchangeRate")
        return best["exchangeRate"]

    # ---- async jobs and idempotency ----------------------------------------------------------------------------
    def new_job(self, request: Record, outcome: Record, idempotency_key: str | None) -> Record:
        with self.store.atomic():
            jid = str(self.store.next_id("_jobs"))
            now = iso_now(self.clock)
            delay = self.config.get("async_delay_seconds", 0) or 0
            done_at = (self.clock.now() + timedelta(seconds=delay)).strftime("%Y-%m-%dT%H:%M:%SZ")
            job = {"id": jid, "submitted": now, "completes": done_at, "request": request, "outcome": outcome,
                   "idempotencyKey": idempotency_key}
            self.store.put("_jobs", jid, job)
            if idempotency_key:
                self.store.put("_idempotency", idempotency_key, {"id": idempotency_key, "job": jid})
        return job

    def job_for_key(self, key: str) -> str | None:
        found = self.store.get("_idempotency", key)
        return found["job"] if found else None

    def job_done(self, job: Record) -> bool:
        return iso_now(self.clock) >= job["completes"]

    # ---- credentials -------------------------------------------------------------------------------------------
    def add_integration(self, name: str, consumer_key: str | None, consumer_secret: str | None) -> Record:
        rec = {"id": consumer_key or secrets.token_hex(32), "name": name,
               "consumer_secret": consumer_secret or secrets.token_hex(32), "enabled": True}
        self.store.put("_integrations", rec["id"], rec)
        return rec

    def add_token(self, consumer_key: str, token_id: str | None, token_secret: str | None, role: str) -> Record:
        rec = {"id": token_id or secrets.token_hex(32), "consumer_key": consumer_key,
               "token_secret": token_secret or secrets.token_hex(32), "role": role, "revoked": False}
        self.store.put("_tokens", rec["id"], rec)
        return rec

    def add_oauth2_client(self, client_id: str | None, certificate_id: str | None, public_key_pem: str,
                          scopes: list[str]) -> Record:
        cid = client_id or secrets.token_hex(32)
        client = self.store.get("_oauth2_clients", cid) or {"id": cid, "certificates": {}, "scopes": scopes}
        kid = certificate_id or secrets.token_urlsafe(24)
        client = {**client, "scopes": scopes, "certificates": {**client["certificates"], kid: public_key_pem}}
        self.store.put("_oauth2_clients", cid, client)
        return {"client_id": cid, "certificate_id": kid, "scopes": scopes}

    def mint_access_token(self, client_id: str, scopes: list[str], expires_in: int) -> Record:
        token = f"ns2.{self.account}.{secrets.token_urlsafe(32)}"
        expires = (self.clock.now() + timedelta(seconds=expires_in)).timestamp()
        self.store.put("_access_tokens", token, {"id": token, "client_id": client_id, "scopes": scopes,
                                                 "expires_at": expires})
        return {"access_token": token, "token_type": "bearer", "expires_in": expires_in}
