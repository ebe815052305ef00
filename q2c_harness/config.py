"""The core's configuration file (TOML, docs/operations.md): where each vendor lives and how the core signs in, the
org's own names for the core's fields and records, our legal entities and the NetSuite subsidiaries they are, the
tax policy, the intercompany markup, the billing calendar, concurrency budgets per vendor account, the Salesforce
intake and how reference data is refreshed.

Validation collects every problem, each named by the path of the value at fault
(``vendors.netsuite.credentials.token_id: missing``), and raises them together as one `ConfigError`.
Secrets are never written in the file: a secret is ``{ env = "NAME" }`` or ``{ file = "PATH" }`` and is read only
when used, so the file can be committed and reviewed.

``q2c parity`` reads the same ``[vendors.<name>]`` tables (q2c_harness/parity/config.py): one format, not two.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields as dataclass_fields
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from q2c_harness.canonical import TaxRegime
from q2c_harness.connectors.mapping.salesforce import SalesforceFields
from q2c_harness.usage import UsageError

VENDORS = ("salesforce", "netsuite", "psa", "tax", "payments")
CORE_VENDORS = ("salesforce", "netsuite", "psa")
ITEM_KINDS = ("time", "expense", "milestone", "adjustment", "intercompany")
TAX_REGIMES: tuple[str, ...] = get_args(TaxRegime)
FX_RATE_TYPES = ("spot", "corporate", "average", "user")
FX_DATE_RULES = ("work_date", "invoice_date", "period_end")
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class ConfigError(UsageError, ValueError):
    """The configuration file is missing or malformed, or a secret it names cannot be read. ``problems`` lists
    each one as ``path: what is wrong``."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems) if len(self.problems) < 2 else
                         f"{len(self.problems)} problems in the configuration: " + "; ".join(self.problems))


# ---- secrets ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SecretRef:
    """A secret by reference: an environment variable or a file (its content, surrounding whitespace stripped)."""

    env: str | None = None
    file: str | None = None
    where: str = ""

    def read(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        at = f"{self.where}: " if self.where else ""
        if self.env is not None:
            value = env.get(self.env)
            if not value:
                raise ConfigError(f"{at}environment variable {self.env} is not set")
            return value
        path = Path(str(self.file)).expanduser()
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{at}cannot read secret file {path}: {exc.strerror}") from None
        if not value:
            raise ConfigError(f"{at}secret file {path} is empty")
        return value

    def describe(self) -> str:
        return f"env {self.env}" if self.env is not None else f"file {self.file}"


Value = str | SecretRef  # an identifier may be written in the file or referenced like a secret


def reveal(value: Value | None, environ: Mapping[str, str] | None = None) -> str | None:
    return value.read(environ) if isinstance(value, SecretRef) else value


# ---- credentials: which kinds each vendor takes, and what each kind needs -------------------------------------------
SECRET, IDENTIFIER, URL, TEXT = "secret", "identifier", "url", "text"
# kind -> {name: (what it is, required)}
CREDENTIAL_KINDS: dict[str, dict[str, dict[str, tuple[str, bool]]]] = {
    "salesforce": {
        "jwt_bearer": {"client_id": (IDENTIFIER, True), "username": (IDENTIFIER, True),
                       "private_key": (SECRET, True), "login_url": (URL, False)},
        "client_credentials": {"client_id": (IDENTIFIER, True), "client_secret": (SECRET, True),
                               "login_url": (URL, False)},
        "bearer": {"token": (SECRET, True)},
    },
    "netsuite": {
        "tba": {"consumer_key": (SECRET, True), "consumer_secret": (SECRET, True), "token_id": (SECRET, True),
                "token_secret": (SECRET, True)},
        "oauth2_client_credentials": {"client_id": (IDENTIFIER, True), "certificate_id": (IDENTIFIER, True),
                                      "private_key": (SECRET, True), "algorithm": (TEXT, False)},
        "bearer": {"token": (SECRET, True)},
    },
    "psa": {"bearer": {"token": (SECRET, True)}},
    # AvaTax: HTTP Basic with the account id and license key, or a bearer token
    "tax": {"basic": {"account_id": (IDENTIFIER, True), "license_key": (SECRET, True)},
            "bearer": {"token": (SECRET, True)}},
    "payments": {"bearer": {"token": (SECRET, True)}},
}
JWT_ALGORITHMS = ("PS256", "RS256", "ES256", "ES384", "ES512")


@dataclass(frozen=True)
class Credentials:
    type: str
    values: Mapping[str, Value]
    where: str = ""

    def get(self, name: str, environ: Mapping[str, str] | None = None) -> str | None:
        return reveal(self.values.get(name), environ)

    @property
    def token(self) -> SecretRef:
        """The bearer token's reference (``type = "bearer"`` only)."""
        if self.type != "bearer":
            raise ConfigError(f"{self.where}: {self.type} credentials have no static token")
        value = self.values["token"]
        assert isinstance(value, SecretRef)
        return value

    def headers(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The Authorization header of bearer credentials (the token read now)."""
        return {"Authorization": f"Bearer {self.token.read(environ)}"}

    def secrets(self) -> list[SecretRef]:
        return [v for v in self.values.values() if isinstance(v, SecretRef)]


@dataclass(frozen=True)
class VendorSettings:
    name: str
    base_url: str
    credentials: Credentials
    concurrency: int | None = None  # the account's budget of requests in flight (None: the connector's default)
    account: str | None = None  # NetSuite account id (1234567_SB1)
    api_version: str | None = None  # Salesforce REST version (59.0)
    webhook_secret: SecretRef | None = None  # PSA webhooks; payment gateway webhooks
    company: str | None = None  # the tax service's company code
    ca_bundle: str | None = None
    timeout: float = 30.0


# ---- what the core needs of each system --------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedContractGate:
    """Provisioning waits for a signed contract: the primary quote accepted and its Contract activated (or, with
    CPQ, the Opportunity contracted)."""

    required: bool = True
    accepted_status: str = "Accepted"  # SBQQ__Quote__c.SBQQ__Status__c
    activated_status: str = "Activated"  # Contract.Status
    contracted_field: str = "SBQQ__Contracted__c"  # Opportunity checkbox (CPQ)


@dataclass(frozen=True)
class SalesforceIntake:
    """How change reaches the core: ``polling`` (``sobjects/{type}/updated/`` + SOQL on SystemModstamp, any org) or
    ``change_events`` (the simulator's long-poll feed; tests)."""

    mode: str = "polling"
    overlap_seconds: int = 300
    objects: tuple[str, ...] = ("Opportunity", "SBQQ__Quote__c", "Contract")
    start: str | None = None  # ISO datetime of the first window (default: now minus the overlap)


@dataclass(frozen=True)
class SalesforceSettings:
    fields: SalesforceFields = field(default_factory=SalesforceFields)
    contract: SignedContractGate = field(default_factory=SignedContractGate)
    intake: SalesforceIntake = field(default_factory=SalesforceIntake)


@dataclass(frozen=True)
class NetSuiteSettings:
    items: Mapping[str, str] = field(default_factory=dict)  # invoice line kind -> the org's service item (itemId)
    item_record: str = "serviceSaleItem"
    custom_fields: bool = False  # write the two custom fields below on invoices
    source_ids_field: str = "custcol_q2c_source_ids"
    correlation_field: str = "custbody_q2c_correlation_id"


@dataclass(frozen=True)
class EntitySettings:
    """One of our legal entities: the NetSuite subsidiary it is (its name; currency and country are read from
    NetSuite), the client countries it contracts for, its tax regime and VAT id, whom it may cross-charge."""

    entity_id: str
    subsidiary: str
    contracts_for: tuple[str, ...] = ()
    tax_regime: str = "NONE"
    vat_id: str | None = None
    intercompany_partners: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaxPolicy:
    """``rates``: the standard rate per seller country, from this file; ``netsuite``: from the NetSuite tax codes
    (``salesTaxItem``) named per country in ``codes``; ``service``: each invoice's tax from the tax service
    (``[vendors.tax]``), committed when NetSuite holds the invoice."""

    source: str = "rates"
    rates: Mapping[str, Decimal] = field(default_factory=dict)
    codes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BillingCalendar:
    """When a month's billing run is due: ``run_day = 0`` as soon as approved time is staged; ``N`` from day N of the
    following month (the month closes first), in ``timezone``."""

    period: str = "monthly"
    run_day: int = 0
    timezone: str = "UTC"

    def is_due(self, period: str, today: date) -> bool:
        year, month = (int(x) for x in period.split("-"))
        if self.run_day == 0:
            return (today.year, today.month) >= (year, month)
        ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
        return today >= date(ny, nm, self.run_day)


@dataclass(frozen=True)
class ReferenceSettings:
    """Reference data from the systems of record: ``vendors`` (NetSuite subsidiaries, currencies, currency rates,
    tax codes; PSA rate cards) refreshed every ``refresh_minutes`` and on demand, or ``demo`` (built-in scenarios)."""

    source: str = "vendors"
    refresh_minutes: int = 60
    default_rate_card: str | None = None
    rate_cards: tuple[str, ...] = ()  # PSA rate card names to load (empty: all)
    fx_rate_type: str = "corporate"  # what NetSuite's currency rates are to the contracts' FX policy
    fx_rate_date_rule: str = "invoice_date"  # the default policy's rate date


@dataclass(frozen=True)
class CoreConfig:
    vendors: Mapping[str, VendorSettings]
    salesforce: SalesforceSettings = field(default_factory=SalesforceSettings)
    netsuite: NetSuiteSettings = field(default_factory=NetSuiteSettings)
    entities: Mapping[str, EntitySettings] = field(default_factory=dict)
    tax: TaxPolicy = field(default_factory=TaxPolicy)
    intercompany_markup_percent: Decimal = Decimal("0")
    billing: BillingCalendar = field(default_factory=BillingCalendar)
    reference: ReferenceSettings = field(default_factory=ReferenceSettings)
    owners: Mapping[str, str] = field(default_factory=dict)
    source: str = ""  # the file it was read from

    def vendor(self, name: str) -> VendorSettings:
        try:
            return self.vendors[name]
        except KeyError:
            raise ConfigError(f"no [vendors.{name}] table in the configuration file") from None

    def country_entity(self) -> dict[str, str]:
        return {country: e.entity_id for e in self.entities.values() for country in e.contracts_for}

    def check_secrets(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Every secret the file references that cannot be read now, by its path."""
        problems = []
        for v in self.vendors.values():
            refs = v.credentials.secrets() + ([v.webhook_secret] if v.webhook_secret else [])
            for ref in refs:
                try:
                    ref.read(environ)
                except ConfigError as exc:
                    problems.append(str(exc))
        return problems


# ---- parsing ---------------------------------------------------------------------------------------------------------
class _Reader:
    """Walks the parsed TOML, collecting problems with their paths instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def table(self, data: Mapping[str, Any], key: str, path: str, known: tuple[str, ...] | None = None
              ) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.bad(path, f"must be a table, not {_kind(value)}")
            return {}
        if known is not None:
            self.unknown(value, path, known)
        return value

    def unknown(self, table: Mapping[str, Any], path: str, known: tuple[str, ...] | set[str]) -> None:
        for key in table:
            if key not in known:
                hint = _closest(key, known)
                self.bad(_join(path, key), "unknown setting" + (f" (did you mean {hint!r}?)" if hint else "") +
                         f"; known: {', '.join(sorted(known))}")

    def string(self, table: Mapping[str, Any], key: str, path: str, *, default: str | None = None,
               required: bool = False, choices: tuple[str, ...] | None = None,
               pattern: re.Pattern[str] | None = None, what: str = "") -> str | None:
        p = _join(path, key)
        if key not in table:
            if required:
                self.bad(p, "missing")
            return default
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.bad(p, f"must be a non-empty string, not {_kind(value)}")
            return default
        if choices is not None and value not in choices:
            self.bad(p, f"{value!r} is not one of {', '.join(choices)}")
            return default
        if pattern is not None and not pattern.match(value):
            self.bad(p, f"{value!r} is not {what or 'valid'}")
            return default
        return value

    def url(self, table: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        value = self.string(table, key, path, required=required)
        if value is not None and not value.startswith(("http://", "https://")):
            self.bad(_join(path, key), f"{value!r} is not an http(s) URL")
            return None
        return value.rstrip("/") if value else value

    def integer(self, table: Mapping[str, Any], key: str, path: str, *, default: int | None, low: int,
                high: int | None = None) -> int | None:
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(_join(path, key), f"must be an integer, not {_kind(value)}")
            return default
        if value < low or (high is not None and value > high):
            self.bad(_join(path, key), f"{value} is out of range ({low}..{high if high is not None else ''})")
            return default
        return value

    def decimal(self, value: Any, path: str) -> Decimal | None:
        """Money and percentages: a string or an integer (a TOML float would not be exact)."""
        if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, (str, int)):
            self.bad(path, f"must be a decimal written as a string (\"7.5\") or an integer, not {_kind(value)}")
            return None
        try:
            out = Decimal(str(value).strip())
        except InvalidOperation:
            self.bad(path, f"{value!r} is not a decimal number")
            return None
        if not out.is_finite() or out < 0:
            self.bad(path, f"{value!r} must be a finite number >= 0")
            return None
        return out

    def boolean(self, table: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        if key not in table:
            return default
        if not isinstance(table[key], bool):
            self.bad(_join(path, key), f"must be true or false, not {_kind(table[key])}")
            return default
        return table[key]

    def strings(self, table: Mapping[str, Any], key: str, path: str, *, pattern: re.Pattern[str] | None = None,
                what: str = "") -> tuple[str, ...]:
        if key not in table:
            return ()
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.bad(_join(path, key), f"must be a list of strings, not {_kind(value)}")
            return ()
        for i, v in enumerate(value):
            if pattern is not None and not pattern.match(v):
                self.bad(f"{_join(path, key)}[{i}]", f"{v!r} is not {what or 'valid'}")
        return tuple(value)

    def secret(self, value: Any, path: str) -> SecretRef | None:
        if not isinstance(value, dict) or set(value) - {"env", "file"} or len(value) != 1:
            self.bad(path, "a secret is { env = \"NAME\" } or { file = \"PATH\" }, never a literal value")
            return None
        (kind, name), = value.items()
        if not isinstance(name, str) or not name:
            self.bad(path, f"{kind} must name a variable or a path")
            return None
        return SecretRef(env=name if kind == "env" else None, file=name if kind == "file" else None, where=path)


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _closest(key: str, known: tuple[str, ...] | set[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    return match[0] if match else None


def _credentials(r: _Reader, vendor: str, table: Any, path: str) -> Credentials | None:
    if not isinstance(table, dict):
        r.bad(path, "missing" if table is None else f"must be a table, not {_kind(table)}")
        return None
    kinds = CREDENTIAL_KINDS[vendor]
    kind = table.get("type", "bearer")
    if kind not in kinds:
        r.bad(_join(path, "type"), f"{kind!r} is not one of {', '.join(kinds)} for {vendor}")
        return None
    spec = kinds[kind]
    r.unknown(table, path, {"type", *spec})
    values: dict[str, Value] = {}
    for name, (what, required) in spec.items():
        p = _join(path, name)
        if name not in table:
            if required:
                r.bad(p, "missing")
            continue
        raw = table[name]
        if what == SECRET:
            ref = r.secret(raw, p)
            if ref is not None:
                values[name] = ref
        elif isinstance(raw, dict):  # an identifier may be referenced like a secret
            ref = r.secret(raw, p)
            if ref is not None:
                values[name] = ref
        elif what == URL:
            url = r.url(table, name, path)
            if url:
                values[name] = url
        elif what == TEXT and name == "algorithm":
            alg = r.string(table, name, path, choices=JWT_ALGORITHMS)
            if alg:
                values[name] = alg
        else:
            ident = r.string(table, name, path)
            if ident:
                values[name] = ident
    return Credentials(kind, values, where=path)


def _vendor(r: _Reader, name: str, table: Any, core: bool) -> VendorSettings | None:
    path = f"vendors.{name}"
    if name not in VENDORS:
        r.bad(path, f"unknown vendor; known: {', '.join(VENDORS)}")
        return None
    if not isinstance(table, dict):
        r.bad(path, f"must be a table, not {_kind(table)}")
        return None
    allowed = {"base_url", "credentials", "concurrency", "ca_bundle", "timeout",
               *({"account"} if name == "netsuite" else ()), *({"api_version"} if name == "salesforce" else ()),
               *({"webhook_secret"} if name == "psa" else ()), *({"company"} if name == "tax" else ())}
    r.unknown(table, path, allowed)
    base_url = r.url(table, "base_url", path, required=True)
    creds = _credentials(r, name, table.get("credentials"), f"{path}.credentials")
    concurrency = r.integer(table, "concurrency", path, default=None, low=1, high=1000)
    account = r.string(table, "account", path, pattern=re.compile(r"^[0-9A-Za-z_]+$"),
                       what="a NetSuite account id (1234567_SB1)")
    if name == "netsuite" and "account" not in table and (core or (creds is not None and creds.type == "tba")):
        r.bad(f"{path}.account", "missing (the account id, e.g. 1234567_SB1: TBA signs with it)")
    api_version = r.string(table, "api_version", path, pattern=re.compile(r"^\d{2}\.\d$"),
                           what="a REST API version (59.0)")
    hook = r.secret(table["webhook_secret"], f"{path}.webhook_secret") if "webhook_secret" in table else None
    company = r.string(table, "company", path, pattern=re.compile(r"^[A-Za-z0-9_.-]{1,25}$"),
                       what="an AvaTax company code")
    ca = r.string(table, "ca_bundle", path)
    if ca is not None and not Path(ca).expanduser().is_file():
        r.bad(f"{path}.ca_bundle", f"{ca}: no such file")
    timeout = table.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
        r.bad(f"{path}.timeout", "must be a number of seconds in (0, 600]")
        timeout = 30.0
    if base_url is None or creds is None:
        return None
    return VendorSettings(name, base_url, creds, concurrency=concurrency, account=account, api_version=api_version,
                          webhook_secret=hook, ca_bundle=ca, timeout=float(timeout), company=company)


def _salesforce(r: _Reader, data: Mapping[str, Any]) -> SalesforceSettings:
    sf = r.table(data, "salesforce", "salesforce", ("fields", "contract", "intake"))
    names = [f.name for f in dataclass_fields(SalesforceFields)]
    ftable = r.table(sf, "fields", "salesforce.fields", tuple(names))
    given = {k: r.string(ftable, k, "salesforce.fields", pattern=_API_NAME, what="a Salesforce API name")
             for k in names if k in ftable}
    fields_ = SalesforceFields(**{k: v for k, v in given.items() if v})
    taken: dict[str, str] = {}
    for k in names:  # two settings on one field would overwrite each other's values
        api = getattr(fields_, k).lower()
        if api in taken:
            r.bad(f"salesforce.fields.{k}", f"{getattr(fields_, k)!r} is already salesforce.fields.{taken[api]}")
        taken.setdefault(api, k)
    ct = r.table(sf, "contract", "salesforce.contract",
                 ("required", "accepted_status", "activated_status", "contracted_field"))
    d = SignedContractGate()
    gate = SignedContractGate(
        required=r.boolean(ct, "required", "salesforce.contract", d.required),
        accepted_status=r.string(ct, "accepted_status", "salesforce.contract", default=d.accepted_status) or "",
        activated_status=r.string(ct, "activated_status", "salesforce.contract", default=d.activated_status) or "",
        contracted_field=r.string(ct, "contracted_field", "salesforce.contract", default=d.contracted_field,
                                  pattern=_API_NAME, what="a Salesforce API name") or "")
    it = r.table(sf, "intake", "salesforce.intake", ("mode", "overlap_seconds", "objects", "start"))
    di = SalesforceIntake()
    start = r.string(it, "start", "salesforce.intake")
    if start is not None:
        from datetime import datetime

        try:
            datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            r.bad("salesforce.intake.start", f"{start!r} is not an ISO 8601 datetime")
    intake = SalesforceIntake(
        mode=r.string(it, "mode", "salesforce.intake", default=di.mode, choices=("polling", "change_events"))
        or di.mode,
        overlap_seconds=r.integer(it, "overlap_seconds", "salesforce.intake", default=di.overlap_seconds, low=60,
                                  high=86_400) or di.overlap_seconds,
        objects=r.strings(it, "objects", "salesforce.intake", pattern=_API_NAME, what="an sObject name")
        or di.objects, start=start)
    return SalesforceSettings(fields_, gate, intake)


def _netsuite(r: _Reader, data: Mapping[str, Any]) -> NetSuiteSettings:
    path = "netsuite"
    ns = r.table(data, "netsuite", path, ("items", "item_record", "custom_fields", "source_ids_field",
                                         "correlation_field"))
    items_t = r.table(ns, "items", "netsuite.items", ITEM_KINDS)
    items = {k: v for k in ITEM_KINDS if (v := r.string(items_t, k, "netsuite.items"))}
    d = NetSuiteSettings()
    return NetSuiteSettings(
        items=items, item_record=r.string(ns, "item_record", path, default=d.item_record) or d.item_record,
        custom_fields=r.boolean(ns, "custom_fields", path, d.custom_fields),
        source_ids_field=r.string(ns, "source_ids_field", path, default=d.source_ids_field,
                                  pattern=re.compile(r"^custcol\w+$"), what="a line custom field (custcol…)") or "",
        correlation_field=r.string(ns, "correlation_field", path, default=d.correlation_field,
                                   pattern=re.compile(r"^custbody\w+$"), what="a body custom field (custbody…)") or "")


def _entities(r: _Reader, data: Mapping[str, Any]) -> dict[str, EntitySettings]:
    table = r.table(data, "entities", "entities")
    out: dict[str, EntitySettings] = {}
    countries: dict[str, str] = {}
    keys = ("subsidiary", "contracts_for", "tax_regime", "vat_id", "intercompany_partners")
    for eid, t in table.items():
        path = f"entities.{eid}"
        if not re.match(r"^[A-Za-z0-9_-]+$", eid):
            r.bad(path, "an entity id is letters, digits, - and _")
        if not isinstance(t, dict):
            r.bad(path, f"must be a table, not {_kind(t)}")
            continue
        r.unknown(t, path, keys)
        sub = r.string(t, "subsidiary", path, required=True)
        contracts = r.strings(t, "contracts_for", path, pattern=_COUNTRY, what="an ISO 3166 alpha-2 country code")
        for c in contracts:
            if c in countries:
                r.bad(f"{path}.contracts_for", f"{c} is already contracted by entities.{countries[c]}")
            countries.setdefault(c, eid)
        out[eid] = EntitySettings(
            entity_id=eid, subsidiary=sub or "", contracts_for=contracts,
            tax_regime=r.string(t, "tax_regime", path, default="NONE", choices=TAX_REGIMES) or "NONE",
            vat_id=r.string(t, "vat_id", path),
            intercompany_partners=r.strings(t, "intercompany_partners", path))
    for e in out.values():
        for i, partner in enumerate(e.intercompany_partners):
            if partner not in out:
                r.bad(f"entities.{e.entity_id}.intercompany_partners[{i}]", f"{partner!r} is not an entity here")
    return out


def _tax(r: _Reader, data: Mapping[str, Any]) -> TaxPolicy:
    t = r.table(data, "tax", "tax", ("source", "rates", "codes"))
    source = r.string(t, "source", "tax", default="rates", choices=("rates", "netsuite", "service")) or "rates"
    rates: dict[str, Decimal] = {}
    for country, value in r.table(t, "rates", "tax.rates").items():
        if not _COUNTRY.match(country):
            r.bad(f"tax.rates.{country}", "is not an ISO 3166 alpha-2 country code")
        rate = r.decimal(value, f"tax.rates.{country}")
        if rate is not None:
            rates[country] = rate
    codes: dict[str, str] = {}
    ctable = r.table(t, "codes", "tax.codes")
    for country in ctable:
        if not _COUNTRY.match(country):
            r.bad(f"tax.codes.{country}", "is not an ISO 3166 alpha-2 country code")
        code = r.string(ctable, country, "tax.codes")
        if code:
            codes[country] = code
    if source == "netsuite" and not codes:
        r.bad("tax.codes", "missing: with source = \"netsuite\" name the tax code (salesTaxItem) per country")
    if source == "rates" and "rates" in t and not rates:
        r.bad("tax.rates", "is empty")
    return TaxPolicy(source, rates, codes)


def _billing(r: _Reader, data: Mapping[str, Any]) -> BillingCalendar:
    b = r.table(data, "billing", "billing", ("period", "run_day", "timezone"))
    tz = r.string(b, "timezone", "billing", default="UTC") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.bad("billing.timezone", f"{tz!r} is not an IANA time zone")
        tz = "UTC"
    return BillingCalendar(period=r.string(b, "period", "billing", default="monthly", choices=("monthly",))
                           or "monthly",
                           run_day=r.integer(b, "run_day", "billing", default=0, low=0, high=28) or 0, timezone=tz)


def _reference(r: _Reader, data: Mapping[str, Any]) -> ReferenceSettings:
    t = r.table(data, "reference", "reference", ("source", "refresh_minutes", "default_rate_card", "rate_cards",
                                                 "fx_rate_type", "fx_rate_date_rule"))
    d = ReferenceSettings()
    return ReferenceSettings(
        source=r.string(t, "source", "reference", default=d.source, choices=("vendors", "demo")) or d.source,
        refresh_minutes=r.integer(t, "refresh_minutes", "reference", default=d.refresh_minutes, low=1,
                                  high=7 * 24 * 60) or d.refresh_minutes,
        default_rate_card=r.string(t, "default_rate_card", "reference"),
        rate_cards=r.strings(t, "rate_cards", "reference"),
        fx_rate_type=r.string(t, "fx_rate_type", "reference", default=d.fx_rate_type, choices=FX_RATE_TYPES)
        or d.fx_rate_type,
        fx_rate_date_rule=r.string(t, "fx_rate_date_rule", "reference", default=d.fx_rate_date_rule,
                                   choices=FX_DATE_RULES) or d.fx_rate_date_rule)


TOP_LEVEL = ("vendors", "salesforce", "netsuite", "entities", "tax", "intercompany", "billing", "reference", "owners")
OWNER_AREAS = ("quote", "billing", "milestone", "change_order", "cash", "intake", "milestone_acceptance")


def parse_config(data: Mapping[str, Any], *, core: bool = True, source: str = "") -> CoreConfig:
    """Validate a parsed file. ``core=True`` (``q2c core``) needs the three core vendors, entities and tax; otherwise
    (``q2c parity``, ``q2c contracts``) only what is there is checked."""
    r = _Reader()
    r.unknown(data, "", TOP_LEVEL)
    vendors: dict[str, VendorSettings] = {}
    vtable = r.table(data, "vendors", "vendors")
    for name, table in vtable.items():
        v = _vendor(r, name, table, core)
        if v is not None:
            vendors[name] = v
    sf, ns = _salesforce(r, data), _netsuite(r, data)
    entities, tax = _entities(r, data), _tax(r, data)
    ic = r.table(data, "intercompany", "intercompany", ("markup_percent",))
    markup = r.decimal(ic["markup_percent"], "intercompany.markup_percent") if "markup_percent" in ic else Decimal(0)
    owners_t = r.table(data, "owners", "owners", OWNER_AREAS)
    owners = {k: v for k in OWNER_AREAS if (v := r.string(owners_t, k, "owners"))}
    billing, reference = _billing(r, data), _reference(r, data)
    if core:
        for name in CORE_VENDORS:
            if name not in vtable:
                r.bad(f"vendors.{name}", "missing (the core reads and writes Salesforce, NetSuite and the PSA)")
        if reference.source == "vendors":
            if not entities:
                r.bad("entities", "missing: name at least one legal entity and its NetSuite subsidiary")
            if tax.source == "service" and "tax" not in vtable:
                r.bad("vendors.tax", "missing: tax.source = \"service\" takes each invoice's tax from the tax service")
            if tax.source == "rates" and not tax.rates:
                r.bad("tax.rates", "missing: the standard rate per seller country (or source = \"netsuite\")")
            for eid, e in entities.items():
                if tax.source == "rates" and tax.rates and not e.contracts_for:
                    r.bad(f"entities.{eid}.contracts_for", "missing: the client countries this entity contracts for")
                    break
    if r.problems:
        raise ConfigError(r.problems)
    return CoreConfig(vendors=vendors, salesforce=sf, netsuite=ns, entities=entities, tax=tax,
                      intercompany_markup_percent=markup if markup is not None else Decimal(0), billing=billing,
                      reference=reference, owners=owners, source=source)


def load_config(path: str | Path, *, core: bool = True) -> CoreConfig:
    p = Path(path).expanduser()
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML: {exc}") from None
    return parse_config(data, core=core, source=str(p))
