"""`q2c core check-config FILE`: does each org have what the configuration file says it has?

Signs in to every configured vendor and checks, through each vendor's own metadata API, every object, field, record
type, subsidiary, item, tax code and rate card the core will use: Salesforce ``describe`` (objects, fields, their
types, the signed-contract status value), NetSuite's metadata catalog (record types, custom fields) and record lists
(subsidiaries by name, service items by itemId, tax codes by name), the PSA's rate cards. Prints one row per check;
the exit status is 1 when anything is missing or mistyped (2 when the file itself is wrong).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from q2c_harness.config import CoreConfig, load_config
from q2c_harness.connectors.errors import RecordNotFoundError
from q2c_harness.connectors.mapping.salesforce import COMPATIBLE_TYPES, STANDARD_READS, field_plan
from q2c_harness.errors import IntegrationError

OK, MISSING, MISTYPED, ERROR = "ok", "MISSING", "MISTYPED", "ERROR"
NS_RECORDS = ("customer", "job", "projectTask", "salesOrder", "invoice", "timeBill", "billingSchedule",
              "customerPayment", "subsidiary", "currency", "currencyRate", "employee")


@dataclass(frozen=True)
class Finding:
    system: str
    kind: str  # object | field | record type | custom field | subsidiary | item | tax code | rate card | credentials
    name: str
    expected: str
    found: str
    status: str
    setting: str = ""  # the configuration path that names it

    @property
    def ok(self) -> bool:
        return self.status == OK


def _q(value: str) -> str:
    return '"' + value.replace('"', '\\"') + '"'


# ---- Salesforce ------------------------------------------------------------------------------------------------------
async def check_salesforce(config: CoreConfig, sf: Any) -> list[Finding]:
    out: list[Finding] = []
    fields = config.salesforce.fields
    gate = config.salesforce.contract
    wanted: dict[str, dict[str, tuple[set[str] | None, str]]] = {}  # object -> field -> (types, setting)
    for obj, names in STANDARD_READS.items():
        for name in names:
            wanted.setdefault(obj, {})[name] = (None, "")
    for key, api_name, spec in field_plan(fields):
        wanted.setdefault(spec.sobject, {})[api_name] = (set(COMPATIBLE_TYPES[spec.type]), f"salesforce.fields.{key}")
    if gate.contracted_field:
        wanted["Opportunity"][gate.contracted_field] = ({"boolean"}, "salesforce.contract.contracted_field")
    for obj in config.salesforce.intake.objects:
        wanted.setdefault(obj, {})
    for obj, want in wanted.items():
        try:
            described = await sf.describe(obj)
        except RecordNotFoundError:
            out.append(Finding("salesforce", "object", obj, "an sObject", "(none)", MISSING,
                               "salesforce.intake.objects" if not want else ""))
            continue
        out.append(Finding("salesforce", "object", obj, "an sObject", obj, OK))
        by_name = {f["name"].lower(): f for f in described["fields"]}
        for name, (types, setting) in want.items():
            f = by_name.get(name.lower())
            expected = "/".join(sorted(types)) if types else "readable"
            if f is None:
                out.append(Finding("salesforce", "field", f"{obj}.{name}", expected, "(none)", MISSING, setting))
            elif types is not None and f.get("type") not in types:
                out.append(Finding("salesforce", "field", f"{obj}.{name}", expected, str(f.get("type")), MISTYPED,
                                   setting))
            else:
                out.append(Finding("salesforce", "field", f"{obj}.{name}", expected, str(f.get("type")), OK, setting))
        if obj == "Contract" and gate.required:
            status = by_name.get("status", {})
            values = [v.get("value") for v in status.get("picklistValues") or []]
            ok = gate.activated_status in values
            out.append(Finding("salesforce", "picklist value", f"Contract.Status = {gate.activated_status}",
                               "a value of Contract.Status", ", ".join(map(str, values)) or "(none)",
                               OK if ok else MISSING, "salesforce.contract.activated_status"))
    return out


# ---- NetSuite --------------------------------------------------------------------------------------------------------
async def _find_one(ns: Any, record_type: str, field: str, value: str) -> list[str]:
    return [str(item["id"]) async for item in ns.list(record_type, q=f"{field} IS {_q(value)}")]


async def check_netsuite(config: CoreConfig, ns: Any) -> list[Finding]:
    out: list[Finding] = []
    nss = config.netsuite
    types = [*NS_RECORDS, nss.item_record, *(["salesTaxItem"] if config.tax.source == "netsuite" else [])]
    schemas: dict[str, dict[str, Any]] = {}
    for rt in dict.fromkeys(types):
        setting = "netsuite.item_record" if rt == nss.item_record else ""
        try:
            schemas[rt] = await ns.metadata(rt)
            out.append(Finding("netsuite", "record type", rt, "in the metadata catalog", rt, OK, setting))
        except RecordNotFoundError:
            out.append(Finding("netsuite", "record type", rt, "in the metadata catalog", "(none)", MISSING, setting))
    if nss.custom_fields and "invoice" in schemas:
        props = schemas["invoice"]["properties"]
        line = props.get("item", {}).get("properties", {}).get("items", {}).get("items", {}).get("properties", {})
        for name, where, setting in ((nss.correlation_field, props, "netsuite.correlation_field"),
                                     (nss.source_ids_field, line, "netsuite.source_ids_field")):
            found = name in where
            out.append(Finding("netsuite", "custom field", f"invoice.{name}", "a custom field",
                               name if found else "(none)", OK if found else MISSING, setting))
    currencies: dict[str, str] = {}
    for eid, entity in config.entities.items():
        setting = f"entities.{eid}.subsidiary"
        ids = await _find_one(ns, "subsidiary", "name", entity.subsidiary)
        if len(ids) != 1:
            out.append(Finding("netsuite", "subsidiary", entity.subsidiary, f"one subsidiary (entity {eid})",
                               f"{len(ids)} found", MISSING, setting))
            continue
        sub = await ns.get("subsidiary", ids[0])
        cur = sub.get("currency") or {}
        code = cur.get("refName") or currencies.get(str(cur.get("id")))
        if code is None and cur.get("id"):
            code = str((await ns.get("currency", str(cur["id"]))).get("symbol"))
            currencies[str(cur["id"])] = code
        out.append(Finding("netsuite", "subsidiary", entity.subsidiary, f"one subsidiary (entity {eid})",
                           f"id {ids[0]}, {code or '?'}, {sub.get('country') or '?'}", OK, setting))
    for kind, item in nss.items.items():
        ids = await _find_one(ns, nss.item_record, "itemId", item)
        out.append(Finding("netsuite", "item", item, f"one {nss.item_record} ({kind} lines)",
                           f"id {ids[0]}" if len(ids) == 1 else f"{len(ids)} found", OK if len(ids) == 1 else MISSING,
                           f"netsuite.items.{kind}"))
    if config.tax.source == "netsuite" and "salesTaxItem" in schemas:
        for country, code in config.tax.codes.items():
            ids = await _find_one(ns, "salesTaxItem", "name", code)
            out.append(Finding("netsuite", "tax code", code, f"one salesTaxItem ({country})",
                               f"id {ids[0]}" if len(ids) == 1 else f"{len(ids)} found",
                               OK if len(ids) == 1 else MISSING, f"tax.codes.{country}"))
    return out


# ---- PSA -------------------------------------------------------------------------------------------------------------
async def check_psa(config: CoreConfig, psa: Any) -> list[Finding]:
    cards = {c["title"]: c for c in await psa.list_all("rate_cards")}
    versions: dict[str, int] = {}
    for v in await psa.list_all("rate_card_versions"):
        versions[str(v["rate_card_id"])] = versions.get(str(v["rate_card_id"]), 0) + 1
    ref = config.reference
    wanted = [(name, "reference.rate_cards") for name in ref.rate_cards]
    if ref.default_rate_card and ref.default_rate_card not in ref.rate_cards:
        wanted.insert(0, (ref.default_rate_card, "reference.default_rate_card"))
    out = []
    for name, setting in wanted:
        card = cards.get(name)
        n = versions.get(str(card["id"]), 0) if card else 0
        found = f"id {card['id']}, {card.get('currency')}, {n} version(s)" if card else "(none)"
        out.append(Finding("psa", "rate card", name, "a rate card with a version", found,
                           OK if card and n else MISSING, setting))
    if not wanted:
        out.append(Finding("psa", "rate card", "(any)", "at least one rate card", f"{len(cards)} found",
                           OK if cards else MISSING, "reference.default_rate_card"))
    return out


# ---- the command ---------------------------------------------------------------------------------------------------
CHECKS: dict[str, Callable[[CoreConfig, Any], Awaitable[list[Finding]]]] = {
    "salesforce": check_salesforce, "netsuite": check_netsuite, "psa": check_psa}


async def check(config: CoreConfig, *, transports: dict[str, Any] | None = None,
                environ: dict[str, str] | None = None) -> list[Finding]:
    from q2c_harness.connectors.configured import CLIENTS

    out: list[Finding] = []
    for problem in config.check_secrets(environ):
        out.append(Finding(problem.split(".", 2)[1] if problem.startswith("vendors.") else "config", "credentials",
                           problem.split(":", 1)[0], "readable", problem.split(": ", 1)[-1], ERROR,
                           problem.split(":", 1)[0]))
    unreadable = {f.system for f in out}
    for name, run in CHECKS.items():
        if name not in config.vendors or name in unreadable:
            continue
        kw = {"transport": transports[name]} if transports and name in transports else {}
        try:
            async with CLIENTS[name](config.vendor(name), environ, **kw) as client:
                out += await run(config, client)
        except IntegrationError as exc:
            out.append(Finding(name, "connection", config.vendor(name).base_url, "signed in", str(exc)[:200],
                               ERROR, f"vendors.{name}"))
    return out


def render(findings: list[Finding]) -> str:
    cols = ("system", "kind", "name", "expected", "found", "status", "setting")
    rows = [[getattr(f, c) for c in cols] for f in findings]
    widths = [min(48, max([len(c), *(len(str(r[i])) for r in rows)])) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    lines += ["  ".join(str(v)[:48].ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    bad = [f for f in findings if not f.ok]
    lines.append(f"{len(findings)} checks: {len(findings) - len(bad)} ok, "
                 f"{sum(f.status == MISSING for f in bad)} missing, {sum(f.status == MISTYPED for f in bad)} mistyped, "
                 f"{sum(f.status == ERROR for f in bad)} errors")
    return "\n".join(lines)


def check_config_command(path: str, *, as_json: bool = False) -> int:
    config = load_config(path)
    findings = asyncio.run(check(config))
    print(json.dumps([asdict(f) for f in findings], indent=2) if as_json else render(findings))
    return 0 if findings and all(f.ok for f in findings) else 1
