"""The tax backend: AvaTax transactions, their document-code rules, tax calculation and address resolution. No HTTP.

One backend per AvaTax account (the tenant). State lives in `self.store`:
- `credentials`: license keys of the account (minted through the admin API);
- `companies`: company code -> company (id, nexus);
- `transactions`: every version of every recorded document, by id;
- `documents`: (company, code, type) -> the id of the document's current version.

Document-code rules (developer.avalara.com/avatax/errors/ `DocumentCodeConflict`; the SDK's test_create_trans.py and
test_commit_trans.py; developer.avalara.com/blog/2017/03/03/whats-a-doc-status-error/):
- a `SalesOrder` (the default type) is an estimate: calculated, status `Temporary`, never stored;
- a `SalesInvoice` is recorded: `commit` false gives `Saved`, true gives `Committed`;
- re-creating a code whose document is `Saved` replaces it (a new id, the same code);
- a `Committed` or `Cancelled` code is reserved: create fails with `DocumentCodeConflict`; changes go through
  adjust (a new version, the old one `Adjusted`) or void (`Cancelled`);
- no `code`: AvaTax assigns a GUID.
Requests are read case-insensitively (AvaTax binds JSON property names without regard to case).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from q2c_simulators.kernel import Store, VirtualClock

from . import jurisdictions as jx
from .exceptions import AvaTaxError, model_invalid, not_found

Record = dict[str, Any]
CENT = Decimal("0.01")
ZERO = Decimal("0")
DOCUMENT_TYPES = ("SalesOrder", "SalesInvoice", "ReturnOrder", "ReturnInvoice", "PurchaseOrder", "PurchaseInvoice")
RECORDED_TYPES = frozenset(t for t in DOCUMENT_TYPES if t.endswith("Invoice"))  # orders are estimates
VOID_REASONS = ("Unspecified", "PostFailed", "DocDeleted", "DocVoided", "AdjustmentCancelled")
ADJUSTMENT_REASONS = ("NotAdjusted", "SourcingIssue", "ReconciledWithGeneralLedger", "ExemptCertApplied",
                      "PriceAdjusted", "ProductReturned", "ProductExchanged", "BadDebt", "Other", "Offline")
ADDRESS_KINDS = {"singlelocation": "SingleLocation", "shipfrom": "ShipFrom", "shipto": "ShipTo",
                 "pointoforderorigin": "PointOfOrderOrigin", "pointoforderacceptance": "PointOfOrderAcceptance"}
MAX_LINES = 1000  # AvaTax takes 15,000; fewer keeps the fuzzer's oversized arrays cheap
DATE_PATTERN = r"^(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
_DATE = re.compile(DATE_PATTERN)
_POSTAL_US = re.compile(r"^\d{5}(?:-?\d{4})?$")
_JURIS_NAMES = {"CNT": "Country", "STA": "State", "CTY": "County", "CIT": "City", "STJ": "Special"}


def lower_keys(value: Any) -> Any:
    """JSON with every object key lower-cased (AvaTax reads property names case-insensitively)."""
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


# ---- reading a request model --------------------------------------------------------------------------------------
def _text(obj: dict, key: str, field: str, *, max_length: int = 1024, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise AvaTaxError("ValueRequiredError", f"{field} is required.", target="IncorrectData")
        return None
    if not isinstance(value, str):
        raise model_invalid(field, "a string is expected")
    text = value
    if len(text) > max_length:
        raise AvaTaxError("StringLengthError", f"{field} is longer than {max_length} characters.",
                          target="IncorrectData")
    return text


def _flag(obj: dict, key: str, field: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise model_invalid(field, "true or false is expected")
    return value


def _amount(obj: dict, key: str, field: str, *, default: Decimal | None = None) -> Decimal:
    value = obj.get(key)
    if value is None:
        if default is None:
            raise AvaTaxError("ValueRequiredError", f"{field} is required.", target="IncorrectData")
        return default
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise AvaTaxError("InvalidDecimalValue", f"{field} is not a valid decimal value.", target="IncorrectData")
    number = Decimal(value)
    if not number.is_finite() or abs(number) >= Decimal("1e13"):
        raise AvaTaxError("RangeError", f"{field} is out of range.", target="IncorrectData")
    return number


def parse_date(value: Any, field: str = "date") -> date:
    """`2026-05-04`, or with a time as the SDK's TransactionBuilder sends it (`2026-05-04 10:11:12.123456`)."""
    m = _DATE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise AvaTaxError("DateFormatError", f"{field}: the date is not in a recognised format (YYYY-MM-DD).",
                          target="IncorrectData")
    try:
        return date.fromisoformat(m.group(1))
    except ValueError:
        raise AvaTaxError("DateFormatError", f"{field}: {value!r} is not a valid date.", target="IncorrectData") from None


def _choice(value: Any, choices: Iterable[str], field: str, default: str) -> str:
    if value is None or value == "":
        return default
    if value in choices:
        return value
    raise AvaTaxError("InvalidEnumValue", f"{field}: {value!r} is not one of {', '.join(choices)}.",
                      target="IncorrectData")


@dataclass(frozen=True)
class Address:
    line1: str | None
    city: str | None
    region: str | None
    country: str
    postal_code: str | None

    def wire(self, kind: str, address_id: int) -> Record:
        return {"id": address_id, "boundaryLevel": "Address", "line1": self.line1, "city": self.city,
                "region": self.region, "country": self.country, "postalCode": self.postal_code,
                "addressType": kind}


def parse_address(raw: Any, field: str) -> Address:
    if not isinstance(raw, dict):
        raise model_invalid(field, "an address object is expected")
    country = (_text(raw, "country", f"{field}.country", max_length=50) or "US").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise AvaTaxError("InvalidCountry", f"{field}.country: {country!r} is not a two-letter ISO 3166 country code.",
                          target="IncorrectData")
    region = _text(raw, "region", f"{field}.region", max_length=50)
    return Address(_text(raw, "line1", f"{field}.line1", max_length=100), _text(raw, "city", f"{field}.city", max_length=50),
                   region.upper() if region else None, country,
                   _text(raw, "postalcode", f"{field}.postalCode", max_length=11))


def _addresses(raw: Any, field: str) -> dict[str, Address]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise model_invalid(field, "an object of addresses (singleLocation, shipFrom, shipTo) is expected")
    out = {}
    for key, value in raw.items():
        kind = ADDRESS_KINDS.get(key)
        if kind is None:
            raise model_invalid(f"{field}.{key}", "not an address type (singleLocation, shipFrom, shipTo, ...)")
        if value is not None:
            out[kind] = parse_address(value, f"{field}.{kind[0].lower()}{kind[1:]}")
    return out


def _route(addresses: dict[str, Address], field: str) -> tuple[Address, Address]:
    """(ship from, ship to): a single location is both."""
    if "SingleLocation" in addresses:
        return addresses["SingleLocation"], addresses["SingleLocation"]
    ship_to = addresses.get("ShipTo") or addresses.get("PointOfOrderAcceptance")
    ship_from = addresses.get("ShipFrom") or addresses.get("PointOfOrderOrigin") or ship_to
    if ship_to is None:
        ship_to = ship_from
    if ship_to is None or ship_from is None:
        raise AvaTaxError("MissingAddress", f"{field}: an address is required (singleLocation, or shipFrom and shipTo).",
                          target="IncorrectData")
    return ship_from, ship_to


# ---- calculation --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    """A jurisdiction's rate applied to a line: what goes into a line detail and the summary."""

    country: str
    region: str
    juris_type: str
    juris_code: str
    juris_name: str
    tax_name: str
    tax_type: str  # Sales, or Output for VAT
    rate_type: str
    rate: Decimal


def _us_parts(ship_to: Address) -> list[Part]:
    state = jx.US_STATES.get(ship_to.region or "")
    if state is None:
        raise AvaTaxError("JurisdictionNotFoundError",
                          f"No jurisdiction for region {ship_to.region!r} in country US in this simulator's table "
                          f"(it holds {', '.join(sorted(jx.US_STATES))}).", target="IncorrectData")
    parts = [Part("US", state.code, "STA", state.fips, state.name, f"{state.code} STATE {state.tax_name}", "Sales",
                  "General", state.rate)]
    city = state.cities.get((ship_to.city or "").upper())
    for rate in city.local if city else state.default_local:
        parts.append(Part("US", state.code, rate.juris_type, rate.juris_code, rate.juris_name,
                          f"{state.code} {_JURIS_NAMES[rate.juris_type].upper()} {state.tax_name}", "Sales",
                          "General", rate.rate))
    return parts


@dataclass(frozen=True)
class Sourcing:
    parts: list[Part]
    rules: dict[str, Decimal]
    message: tuple[str, str] | None = None  # (summary, details) of a transaction message
    reverse_charge: bool = False


def source(ship_from: Address, ship_to: Address, business_id: str | None, tax_code: str,
           nexus: list[str] | None) -> Sourcing:
    """Which jurisdictions tax a line. US: destination sales tax (state and local). UK/EU VAT: domestic supply at
    the domestic rate; cross-border B2B (the customer gave a VAT id) is reverse-charged (the customer accounts for
    the VAT: EU VAT Directive art. 196, UK VAT Act 1994 s.8); cross-border B2C goods take the destination rate
    (distance selling), B2C services the supplier's rate (art. 45), none when the supplier is outside the VAT area."""
    dest = ship_to.country
    if nexus is not None and _nexus_key(ship_to) not in nexus and dest not in nexus:
        return Sourcing([], {}, ("No nexus", f"The company has no nexus in {_nexus_key(ship_to)}."))
    if dest == "US":
        state = jx.US_STATES.get(ship_to.region or "")
        return Sourcing(_us_parts(ship_to), state.taxability if state else {})
    if dest not in jx.VAT_STANDARD:
        return Sourcing([], {}, ("No tax", f"This simulator's table holds no tax for country {dest}."))
    origin = ship_from.country
    goods = not tax_code.startswith("S")
    if origin == dest:
        taxing = dest
    elif business_id:
        name, rate = jx.VAT_STANDARD[dest]
        law = "UK VAT Act 1994 s.8" if dest == "GB" else "EU VAT Directive 2006/112/EC art. 196"
        part = Part(dest, dest, "CNT", dest, name, f"{name} VAT", "Output", "Standard", ZERO)
        return Sourcing([part], jx.VAT_TAXABILITY,
                        ("Reverse charge", f"Reverse charge: the customer ({business_id}) accounts for the VAT ({law})."),
                        reverse_charge=True)
    elif goods or origin not in jx.VAT_STANDARD:
        if not goods:
            return Sourcing([], {}, ("Outside the scope of VAT", f"B2C services from {origin} to {dest}."))
        taxing = dest
    else:
        taxing = origin
    name, rate = jx.VAT_STANDARD[taxing]
    return Sourcing([Part(taxing, taxing, "CNT", taxing, name, f"{name} VAT", "Output", "Standard", rate)],
                    jx.VAT_TAXABILITY)


def _nexus_key(address: Address) -> str:
    return f"US-{address.region}" if address.country == "US" else address.country


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def calculate_line(raw: Any, index: int, doc_addresses: dict[str, Address], business_id: str | None,
                   nexus: list[str] | None, doc_exempt: bool) -> tuple[Record, list[tuple[str, str]]]:
    """One line with its details, and the messages it raises."""
    field = f"lines[{index}]"
    if not isinstance(raw, dict):
        raise model_invalid(field, "a line object is expected")
    amount = _amount(raw, "amount", f"{field}.amount")
    quantity = _amount(raw, "quantity", f"{field}.quantity", default=Decimal(1))
    tax_code = (_text(raw, "taxcode", f"{field}.taxCode", max_length=25) or "P0000000").upper()
    exempt = doc_exempt or bool(_text(raw, "exemptioncode", f"{field}.exemptionCode", max_length=25))
    tax_included = _flag(raw, "taxincluded", f"{field}.taxIncluded")
    line_addresses = {**doc_addresses, **_addresses(raw.get("addresses"), f"{field}.addresses")}
    ship_from, ship_to = _route(line_addresses, field)
    sourcing = source(ship_from, ship_to, business_id, tax_code, nexus)
    fraction = ZERO if exempt else jx.taxable_fraction(tax_code, sourcing.rules)
    total_rate = sum((p.rate for p in sourcing.parts), ZERO)
    base = _round(amount / (1 + total_rate * fraction)) if tax_included and total_rate else amount
    taxable = _round(base * fraction)
    details = []
    for part in sourcing.parts:
        tax = _round(taxable * part.rate)
        details.append({"country": part.country, "region": part.region, "jurisType": part.juris_type,
                        "jurisdictionType": _JURIS_NAMES[part.juris_type], "jurisCode": part.juris_code,
                        "jurisName": part.juris_name, "taxName": part.tax_name, "taxType": part.tax_type,
                        "rateType": part.rate_type, "rate": part.rate, "tax": tax, "taxCalculated": tax,
                        "taxableAmount": taxable, "nonTaxableAmount": base - taxable if not exempt else ZERO,
                        "exemptAmount": base if exempt else ZERO, "reverseCharge": sourcing.reverse_charge})
    if tax_included and details:  # the tax is what the amount holds beyond the base; rounding lands on the last part
        drift = (amount - base) - sum((d["tax"] for d in details), ZERO)
        details[-1]["tax"] += drift
        details[-1]["taxCalculated"] = details[-1]["tax"]
    line_tax = sum((d["tax"] for d in details), ZERO)
    line = {"lineNumber": _text(raw, "number", f"{field}.number", max_length=50) or str(index + 1),
            "itemCode": _text(raw, "itemcode", f"{field}.itemCode", max_length=50) or "",
            "description": _text(raw, "description", f"{field}.description", max_length=2096) or "",
            "quantity": quantity, "lineAmount": base, "taxCode": tax_code, "taxIncluded": tax_included,
            "tax": line_tax, "taxCalculated": line_tax, "taxableAmount": taxable,
            "exemptAmount": base if exempt else ZERO, "exemptCertId": 0,
            "isItemTaxable": fraction > 0 and bool(details), "details": details}
    return line, [sourcing.message] if sourcing.message else []


def summarise(lines: list[Record]) -> list[Record]:
    """The summary: one row per jurisdiction and tax name, in the order first seen."""
    rows: dict[tuple, Record] = {}
    for line in lines:
        for d in line["details"]:
            key = (d["country"], d["region"], d["jurisType"], d["jurisCode"], d["taxName"], d["rate"])
            row = rows.setdefault(key, {
                "country": d["country"], "region": d["region"], "jurisType": d["jurisdictionType"],
                "jurisCode": d["jurisCode"], "jurisName": d["jurisName"], "taxName": d["taxName"],
                "taxType": d["taxType"], "rateType": d["rateType"], "rate": d["rate"], "taxable": ZERO, "tax": ZERO,
                "taxCalculated": ZERO, "nonTaxable": ZERO, "exemption": ZERO})
            row["taxable"] += d["taxableAmount"]
            row["tax"] += d["tax"]
            row["taxCalculated"] += d["taxCalculated"]
            row["nonTaxable"] += d["nonTaxableAmount"]
            row["exemption"] += d["exemptAmount"]
    return list(rows.values())


# ---- the backend --------------------------------------------------------------------------------------------------
class TaxBackend:
    def __init__(self, account_id: str, clock: VirtualClock) -> None:
        self.account_id = account_id
        self.clock = clock
        self.store = Store()

    # -- credentials and companies ------------------------------------------------------------------------------
    def add_license_key(self, license_key: str) -> Record:
        return self.store.put("credentials", license_key, {"id": license_key, "created": self.clock.now().isoformat()})

    def license_key_valid(self, license_key: str) -> bool:
        return self.store.get("credentials", license_key) is not None

    def company(self, code: str, *, create: bool = False) -> Record:
        key = code.upper()
        found = self.store.get("companies", key)
        if found is None:
            if not create and key != "DEFAULT":
                raise not_found(f"Company {code}")
            found = self.store.put("companies", key, {"id": self.store.next_id("companies"), "companyCode": code,
                                                      "nexus": None})
        return found

    def set_company(self, code: str, nexus: list[str] | None) -> Record:
        company = self.company(code, create=True)
        return self.store.put("companies", code.upper(), {**company, "nexus": nexus})

    # -- documents ----------------------------------------------------------------------------------------------
    def current(self, company_code: str, code: str, doc_type: str = "SalesInvoice") -> Record:
        self.company(company_code)
        tid = self.store.get("documents", _doc_key(company_code, code, doc_type))
        if tid is None:
            raise not_found(f"Document {doc_type} with code {code} for company {company_code}")
        return self.store.get("transactions", str(tid["transaction_id"]))  # type: ignore[return-value]

    def by_id(self, transaction_id: int) -> Record:
        found = self.store.get("transactions", str(transaction_id))
        if found is None:
            raise not_found(f"Transaction {transaction_id}")
        return found

    def create_transaction(self, model: Any) -> Record:
        """Calculate and, for an invoice type, record. Raises AvaTaxError for a model it refuses."""
        raw = lower_keys(model)
        if not isinstance(raw, dict):
            raise AvaTaxError("ModelRequiredException", "A request body (CreateTransactionModel) is required.",
                              target="IncorrectData")
        doc = self.calculate(raw)
        if doc["type"] not in RECORDED_TYPES:
            return doc
        with self.store.atomic():
            key = _doc_key(doc["companyCode"], doc["code"], doc["type"])
            existing = self.store.get("documents", key)
            if existing is not None:
                previous = self.by_id(existing["transaction_id"])
                if previous["status"] in ("Committed", "Cancelled"):
                    raise AvaTaxError(
                        "DocumentCodeConflict",
                        f"A document with code {doc['code']} already exists and is {previous['status']}; "
                        "adjust or void it instead.", target="IncorrectData")
                self.store.delete("transactions", str(previous["id"]))  # a saved document is replaced
            return self._record(doc, key)

    def calculate(self, raw: dict, *, version: int = 1) -> Record:
        doc_type = _choice(raw.get("type"), DOCUMENT_TYPES, "type", "SalesOrder")
        company = self.company(_text(raw, "companycode", "companyCode", max_length=25) or "DEFAULT")
        when = parse_date(raw.get("date"))
        code = _text(raw, "code", "code", max_length=50) or str(uuid.UUID(int=self.store.next_id("guids") | 1 << 120))
        customer = _text(raw, "customercode", "customerCode", max_length=50, required=True)
        currency = (_text(raw, "currencycode", "currencyCode", max_length=3) or "USD").upper()
        business_id = _text(raw, "businessidentificationno", "businessIdentificationNo", max_length=25)
        doc_exempt = bool(_text(raw, "exemptionno", "exemptionNo", max_length=25))
        commit = _flag(raw, "commit", "commit")
        lines_raw = raw.get("lines")
        if not isinstance(lines_raw, list) or not lines_raw:
            raise AvaTaxError("MissingLine", "A transaction must have at least one line.", target="IncorrectData")
        if len(lines_raw) > MAX_LINES:
            raise AvaTaxError("RangeError", f"lines: at most {MAX_LINES} lines.", target="IncorrectData")
        addresses = _addresses(raw.get("addresses"), "addresses")
        lines, messages = [], []
        for i, line_raw in enumerate(lines_raw):
            line, said = calculate_line(line_raw, i, addresses, business_id, company["nexus"], doc_exempt)
            lines.append(line)
            messages.extend(m for m in said if m not in messages)
        total_amount = sum((ln["lineAmount"] for ln in lines), ZERO)
        total_tax = sum((ln["tax"] for ln in lines), ZERO)
        status = "Temporary" if doc_type not in RECORDED_TYPES else ("Committed" if commit else "Saved")
        now = self.clock.now()
        wired = [a.wire(kind, i + 1) for i, (kind, a) in enumerate(addresses.items())]
        ids = {a["addressType"]: a["id"] for a in wired}
        return {
            "id": 0, "code": code, "companyId": company["id"], "companyCode": company["companyCode"],
            "date": when.isoformat(), "taxDate": when.isoformat(), "status": status, "type": doc_type,
            "customerCode": customer, "currencyCode": currency, "businessIdentificationNo": business_id,
            # TransactionModel fields an account without batches, salespeople, usage types or overrides holds as
            # developer.avalara.com/blog/2017/03/07/customer-exemption-handling/ prints them
            "customerVendorCode": customer, "exemptNo": _text(raw, "exemptionno", "exemptionNo", max_length=25) or "",
            "customerUsageType": "", "batchCode": "", "salespersonCode": "", "taxOverrideType": "None",
            "taxOverrideAmount": ZERO, "taxOverrideReason": "",
            "isSellerImporterOfRecord": _flag(raw, "issellerimporterofrecord", "isSellerImporterOfRecord"),
            "exchangeRateEffectiveDate": when.isoformat(), "parameters": {},
            "originAddressId": ids.get("ShipFrom", ids.get("SingleLocation")),
            "destinationAddressId": ids.get("ShipTo", ids.get("SingleLocation")),
            "reconciled": False, "locked": False, "version": version, "exchangeRate": Decimal(1),
            "totalAmount": total_amount, "totalExempt": sum((ln["exemptAmount"] for ln in lines), ZERO),
            "totalDiscount": ZERO, "totalTax": total_tax,
            "totalTaxable": sum((ln["taxableAmount"] for ln in lines), ZERO), "totalTaxCalculated": total_tax,
            "adjustmentReason": "NotAdjusted", "adjustmentDescription": None,
            "modifiedDate": now.isoformat().replace("+00:00", "Z"),
            "description": _text(raw, "description", "description", max_length=2048),
            "purchaseOrderNo": _text(raw, "purchaseorderno", "purchaseOrderNo", max_length=50),
            "lines": lines, "summary": summarise(lines),
            "addresses": wired,
            "messages": [{"summary": s, "details": d, "refersTo": "Transaction", "severity": "Informational",
                          "source": "Avalara.AvaTax.Services.Tax"} for s, d in messages],
        }

    def _record(self, doc: Record, key: str) -> Record:
        tid = self.store.next_id("transactions")
        doc = {**doc, "id": tid}
        self.store.put("transactions", str(tid), doc)
        self.store.put("documents", key, {"id": key, "transaction_id": tid})
        return doc

    def commit(self, company_code: str, code: str, doc_type: str, commit: bool) -> Record:
        doc = self.current(company_code, code, doc_type)
        if doc["status"] == "Cancelled":
            raise AvaTaxError("GetTaxError", "DocStatus is invalid for this operation.", target="IncorrectData",
                              description=f"Document {code} is Cancelled and cannot be committed.")
        if doc["status"] in ("Saved", "Committed") and (doc["status"] == "Committed") != commit:
            doc = self.store.put("transactions", str(doc["id"]), {**doc, "status": "Committed" if commit else "Saved"})
        return doc

    def void(self, company_code: str, code: str, doc_type: str, reason: str) -> Record:
        doc = self.current(company_code, code, doc_type)
        if doc["status"] == "Cancelled":
            raise AvaTaxError("TransactionAlreadyCancelled", f"Transaction {code} is already cancelled.",
                              target="IncorrectData")
        return self.store.put("transactions", str(doc["id"]), {**doc, "status": "Cancelled", "voidReason": reason})

    def adjust(self, company_code: str, code: str, doc_type: str, reason: str, description: str | None,
               new_model: Any) -> Record:
        """A new version of a recorded document; the old version stays retrievable by id, status `Adjusted`."""
        old = self.current(company_code, code, doc_type)
        if old["status"] == "Cancelled":
            raise AvaTaxError("GetTaxError", "DocStatus is invalid for this operation.", target="IncorrectData",
                              description=f"Document {code} is Cancelled and cannot be adjusted.")
        if reason == "Other" and not description:
            raise AvaTaxError("ValueRequiredError", "adjustmentDescription is required when the reason is Other.",
                              target="IncorrectData")
        raw = lower_keys(new_model)
        if not isinstance(raw, dict):
            raise model_invalid("newTransaction", "a CreateTransactionModel is expected")
        raw = {**raw, "code": code, "type": doc_type, "companycode": old["companyCode"]}
        doc = self.calculate(raw, version=old["version"] + 1)
        with self.store.atomic():
            self.store.put("transactions", str(old["id"]), {**old, "status": "Adjusted"})
            return self._record({**doc, "adjustmentReason": reason, "adjustmentDescription": description},
                                _doc_key(old["companyCode"], code, doc_type))

    def list_transactions(self, company_code: str) -> list[Record]:
        company = self.company(company_code)
        current = {d["transaction_id"] for d in self.store.records("documents")}
        return sorted((t for t in self.store.records("transactions")
                       if t["companyId"] == company["id"] and t["id"] in current), key=lambda t: t["id"])


def _doc_key(company_code: str, code: str, doc_type: str) -> str:
    return f"{company_code.upper()}\x1f{code}\x1f{doc_type}"


# ---- address resolution -------------------------------------------------------------------------------------------
def resolve_address(raw: dict) -> Record:
    """AvaTax's AddressResolutionModel for a US address (the service resolves US and Canadian addresses only).

    An address without a city and region, or a postal code, cannot be located: AvaTax answers 400 (the SDK's
    test_resolve_address.py sends `{'line1': 'Incomplete Address'}`)."""
    raw = lower_keys(raw)
    line1 = _text(raw, "line1", "line1", max_length=100)
    city = _text(raw, "city", "city", max_length=50)
    region = (_text(raw, "region", "region", max_length=50) or "").upper() or None
    postal = _text(raw, "postalcode", "postalCode", max_length=11)
    country = (_text(raw, "country", "country", max_length=50) or "US").upper()
    given = {"line1": line1, "line2": _text(raw, "line2", "line2", max_length=100),
             "line3": _text(raw, "line3", "line3", max_length=100), "city": city, "region": region,
             "country": country, "postalCode": postal}
    if not (postal or (city and region)):
        raise AvaTaxError("InvalidAddress", "The address is not deliverable: a postal code, or a city and region, "
                          "is required.", target="IncorrectData")
    if country != "US":
        raise AvaTaxError("InvalidCountry", f"Address resolution covers US addresses in this simulator, not {country}.",
                          target="IncorrectData")
    if postal and not _POSTAL_US.fullmatch(postal):
        raise AvaTaxError("InvalidAddress", f"postalCode {postal!r} is not a US ZIP code.", target="IncorrectData")
    state = jx.US_STATES.get(region or "") if region else _state_of_postal(postal)
    if state is None:
        raise AvaTaxError("AddressLocationNotFound", f"The region {region!r} could not be located.",
                          target="IncorrectData")
    found = state.cities.get((city or "").upper())
    if found is None and postal:
        found = next((c for c in state.cities.values() if postal.startswith(c.postal_prefix)), None)
    if found is not None:
        lat, lon, quality = found.latitude, found.longitude, "Intersection" if line1 else "PostalCentroidGood"
        city_name, county = found.name.title(), found.county
    else:
        digits = int((postal or "0")[:5]) if postal else sum(map(ord, city or ""))
        lat = Decimal(25 + digits % 2400 / 100).quantize(Decimal("0.0001"))
        lon = Decimal(-70 - digits % 5000 / 100).quantize(Decimal("0.0001"))
        quality, city_name, county = "PostalCentroidGood", (city or "").title() or None, None
    if not (line1 or city):  # a postal code and region alone are only a rough guess: "NotCoded"
        quality = "NotCoded"  # (developer.avalara.com/blog/2016/12/09/address-validation-in-rest-v2/)
    validated = {"addressType": "StreetOrResidentialAddress", "line1": (line1 or "").upper(), "line2": "", "line3": "",
                 "city": (city_name or "").upper(), "region": state.code, "country": "US",
                 "postalCode": postal or (found.postal_prefix + "00" if found else None),
                 "latitude": lat, "longitude": lon}
    authorities = [{"avalaraId": state.fips, "jurisdictionName": state.name, "jurisdictionType": "State",
                    "signatureCode": state.code}]
    if county:
        authorities.append({"avalaraId": f"{state.fips}-{county}", "jurisdictionName": county,
                            "jurisdictionType": "County", "signatureCode": county[:4]})
    return {"address": given, "validatedAddresses": [validated], "coordinates": {"latitude": lat, "longitude": lon},
            "resolutionQuality": quality, "taxAuthorities": authorities}


def _state_of_postal(postal: str | None) -> jx.UsState | None:
    for state in jx.US_STATES.values():
        for city in state.cities.values():
            if postal and postal.startswith(city.postal_prefix):
                return state
    return None
