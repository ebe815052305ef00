"""Salesforce <-> canonical: Account <-> Client, Opportunity + SBQQ quote + lines -> engagement inputs,
invoice and payment status -> Salesforce fields.

Our own fields on Salesforce objects (custom fields an org installs with the integration) are named in
`SalesforceFields`; change them there, not in the functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from q2c_harness.canonical import (
    Client,
    PostalAddress,
    ContractVersion,
    Engagement,
    FixedFeePlan,
    FxPolicy,
    InvoiceEvent,
    Milestone,
    RecurringFeePlan,
    StatementOfWork,
    TimeAndMaterialsPlan,
)

from ..errors import BusinessError, ContractError
from .common import need, to_decimal

SYSTEM = "salesforce"


@dataclass(frozen=True)
class SalesforceFields:
    """The API names of the fields the core reads and writes in the org. The defaults are the integration package's
    names; an org with its own names maps them in the configuration file (``[salesforce.fields]``)."""

    client_id: str = "Q2C_Client_Id__c"  # Account external id (upsert key; optional, not provisioned)
    vat_id: str = "VAT_Number__c"
    engagement_id: str = "Q2C_Engagement_Id__c"  # Opportunity external id
    netsuite_project_id: str = "NetSuite_Project_Id__c"
    psa_workspace_id: str = "PSA_Workspace_Id__c"
    invoice_status: str = "Invoice_Status__c"
    invoice_number: str = "Invoice_Number__c"
    amount_invoiced: str = "Amount_Invoiced__c"
    amount_paid: str = "Amount_Paid__c"
    last_invoice_date: str = "Last_Invoice_Date__c"
    last_payment_date: str = "Last_Payment_Date__c"
    retainer_amount: str = "Q2C_Retainer_Amount__c"  # sales: a retainer paid up front
    # the contract's T&M terms as sales records them: the rate card, the FX policy, a not-to-exceed cap
    rate_card: str = "Q2C_Rate_Card__c"
    fx_rate_type: str = "Q2C_FX_Rate_Type__c"
    fx_rate_date_rule: str = "Q2C_FX_Rate_Date_Rule__c"
    not_to_exceed: str = "Q2C_Not_To_Exceed__c"


@dataclass(frozen=True)
class FieldSpec:
    """What the core needs of one of its fields: the object it is on, its type, how to create it (provisioning)."""

    sobject: str
    type: str  # currency | date | string
    create: dict[str, Any] = field(default_factory=dict)


FIELD_SPECS: dict[str, FieldSpec] = {
    "vat_id": FieldSpec("Account", "string", {"length": 40}),
    "engagement_id": FieldSpec("Opportunity", "string", {"length": 80, "external_id": True, "unique": True}),
    "netsuite_project_id": FieldSpec("Opportunity", "string", {"length": 40}),
    "psa_workspace_id": FieldSpec("Opportunity", "string", {"length": 40}),
    "invoice_status": FieldSpec("Opportunity", "string", {"length": 40}),
    "invoice_number": FieldSpec("Opportunity", "string", {"length": 80}),
    "amount_invoiced": FieldSpec("Opportunity", "currency", {"precision": 16, "scale": 2}),
    "amount_paid": FieldSpec("Opportunity", "currency", {"precision": 16, "scale": 2}),
    "last_invoice_date": FieldSpec("Opportunity", "date"),
    "last_payment_date": FieldSpec("Opportunity", "date"),
    "retainer_amount": FieldSpec("Opportunity", "currency", {"precision": 16, "scale": 2}),
    "rate_card": FieldSpec("Opportunity", "string", {"length": 80}),
    "fx_rate_type": FieldSpec("Opportunity", "string", {"length": 20}),
    "fx_rate_date_rule": FieldSpec("Opportunity", "string", {"length": 20}),
    "not_to_exceed": FieldSpec("Opportunity", "currency", {"precision": 16, "scale": 2}),
}
# Salesforce field types (describe ``type``) that hold what the core writes: a text the core writes fits a picklist
# or a text area as well; money fits a currency or a number field
COMPATIBLE_TYPES = {"string": frozenset({"string", "textarea", "picklist"}),
                    "currency": frozenset({"currency", "double"}), "date": frozenset({"date"})}


# the CPQ and standard fields the flows read (read_quote's SOQL, quote_terms, client_from_account)
QUOTE_FIELDS = ("Id", "Name", "SBQQ__Account__c", "SBQQ__Opportunity2__c", "SBQQ__Primary__c", "SBQQ__Status__c",
                "SBQQ__Type__c", "SBQQ__StartDate__c", "SBQQ__EndDate__c", "SBQQ__NetAmount__c")
QUOTE_LINE_FIELDS = ("Id", "Name", "SBQQ__Quote__c", "SBQQ__Quantity__c", "SBQQ__NetPrice__c", "SBQQ__NetTotal__c",
                     "SBQQ__ChargeType__c", "SBQQ__BillingFrequency__c", "SBQQ__StartDate__c", "SBQQ__EndDate__c",
                     "SBQQ__Description__c", "SBQQ__Product__c")
STANDARD_READS = {"Account": ("Name", "BillingCountry", "BillingStreet", "BillingCity", "BillingState",
                              "BillingPostalCode"), "Opportunity": ("Name", "StageName", "AccountId"),
                  "SBQQ__Quote__c": QUOTE_FIELDS, "SBQQ__QuoteLine__c": QUOTE_LINE_FIELDS,
                  "Contract": ("Status", "SBQQ__Opportunity__c", "SBQQ__Quote__c")}


def field_plan(fields: "SalesforceFields") -> list[tuple[str, str, FieldSpec]]:
    """(setting name, the org's API name, spec) for every field the core reads or writes."""
    return [(key, getattr(fields, key), spec) for key, spec in FIELD_SPECS.items()]


FIELDS = SalesforceFields()

INVOICE_STATUS_LABELS = {"draft": "Draft", "posted": "Invoiced", "partially_paid": "Partially Paid",
                         "paid": "Paid", "void": "Void"}


def _date(value: Any, what: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ContractError(f"salesforce: {what} {value!r} is not a date", system=SYSTEM,
                            code="UNEXPECTED_SHAPE") from None


# ---- Account <-> Client ----------------------------------------------------------------------------------------------
def client_from_account(account: dict[str, Any], *, correlation_id: str, fields: SalesforceFields = FIELDS,
                        default_currency: str | None = None) -> Client:
    """An Account as a canonical Client. ``BillingCountry`` must hold an ISO 3166 alpha-2 code."""
    sf_id = str(need(account, "Id", system=SYSTEM, what="Account"))
    country = account.get("BillingCountry")
    if not (isinstance(country, str) and len(country) == 2 and country.isalpha() and country.isupper()):
        raise BusinessError(f"salesforce: Account {sf_id} BillingCountry {country!r} is not an ISO 3166 alpha-2 code",
                            system=SYSTEM, code="INVALID_COUNTRY", details={"account": sf_id})
    currency = account.get("CurrencyIsoCode") or default_currency
    if not currency:
        raise BusinessError(f"salesforce: Account {sf_id} has no currency", system=SYSTEM, code="NO_CURRENCY")
    return Client(
        correlation_id=correlation_id, xref={"salesforce": sf_id},
        client_id=str(account.get(fields.client_id) or sf_id), name=str(need(account, "Name", system=SYSTEM,
                                                                             what="Account")),
        country=country, billing_currency=currency, vat_id=account.get(fields.vat_id) or None,
        address=_billing_address(account, country),
    )


def _billing_address(account: dict[str, Any], country: str) -> PostalAddress | None:
    """The Account's billing address (standard compound field parts); None when only the country is kept."""
    parts = {k: (str(account[f]).strip() or None) if account.get(f) not in (None, "") else None
             for k, f in (("line1", "BillingStreet"), ("city", "BillingCity"), ("region", "BillingState"),
                          ("postal_code", "BillingPostalCode"))}
    return PostalAddress(country=country, **parts) if any(parts.values()) else None


def account_fields(client: Client, *, fields: SalesforceFields = FIELDS) -> dict[str, Any]:
    """Fields for ``upsert("Account", fields.client_id, client.client_id, ...)`` (the key itself is in the URL)."""
    out: dict[str, Any] = {"Name": client.name, "BillingCountry": client.country,
                           "CurrencyIsoCode": client.billing_currency}
    if client.vat_id:
        out[fields.vat_id] = client.vat_id
    return out


# ---- Opportunity + quote -> engagement inputs ------------------------------------------------------------------------
ChargeKind = Literal["fixed_fee", "recurring_fee", "time_and_materials"]


@dataclass(frozen=True)
class QuoteLineTerms:
    line_id: str
    description: str
    quantity: Decimal
    unit_price: Decimal  # net price per unit
    net_total: Decimal
    charge: ChargeKind
    billing_frequency: str | None
    start_date: date | None
    end_date: date | None
    product_id: str | None = None


@dataclass(frozen=True)
class QuoteTerms:
    """What was sold, read from a Closed Won opportunity and its primary quote: the flow's input to create the
    engagement, statement of work and billing plan."""

    opportunity_id: str
    quote_id: str
    account_id: str
    name: str
    currency: str
    net_amount: Decimal
    start_date: date | None
    end_date: date | None
    lines: list[QuoteLineTerms] = field(default_factory=list)

    @property
    def charge_kinds(self) -> set[ChargeKind]:
        return {line.charge for line in self.lines}


def _charge(line: dict[str, Any]) -> ChargeKind:
    charge = line.get("SBQQ__ChargeType__c") or "One-Time"
    if charge == "Recurring":
        return "recurring_fee"
    if charge == "Usage":
        return "time_and_materials"
    if charge == "One-Time":
        return "fixed_fee"
    raise BusinessError(f"salesforce: quote line {line.get('Id')} has charge type {charge!r}", system=SYSTEM,
                        code="UNKNOWN_CHARGE_TYPE")


def quote_terms(opportunity: dict[str, Any], quote: dict[str, Any], lines: list[dict[str, Any]], *,
                default_currency: str | None = None) -> QuoteTerms:
    """Opportunity + ``SBQQ__Quote__c`` + ``SBQQ__QuoteLine__c`` records -> `QuoteTerms` (money as Decimal)."""
    opp_id = str(need(opportunity, "Id", system=SYSTEM, what="Opportunity"))
    quote_id = str(need(quote, "Id", system=SYSTEM, what="SBQQ__Quote__c"))
    if quote.get("SBQQ__Opportunity2__c") not in (None, opp_id):
        raise BusinessError(f"salesforce: quote {quote_id} belongs to another opportunity", system=SYSTEM,
                            code="QUOTE_MISMATCH")
    currency = quote.get("CurrencyIsoCode") or opportunity.get("CurrencyIsoCode") or default_currency
    if not currency:
        raise BusinessError(f"salesforce: opportunity {opp_id} has no currency", system=SYSTEM, code="NO_CURRENCY")
    terms_lines = []
    for line in lines:
        lid = str(need(line, "Id", system=SYSTEM, what="SBQQ__QuoteLine__c"))
        if line.get("SBQQ__Quote__c") not in (None, quote_id):
            raise BusinessError(f"salesforce: quote line {lid} belongs to another quote", system=SYSTEM,
                                code="QUOTE_MISMATCH")
        quantity = to_decimal(line.get("SBQQ__Quantity__c", 1), what=f"{lid} SBQQ__Quantity__c", system=SYSTEM)
        unit = to_decimal(need(line, "SBQQ__NetPrice__c", system=SYSTEM, what=f"quote line {lid}"),
                          what=f"{lid} SBQQ__NetPrice__c", system=SYSTEM)
        total_raw = line.get("SBQQ__NetTotal__c")
        total = to_decimal(total_raw, what=f"{lid} SBQQ__NetTotal__c", system=SYSTEM) if total_raw is not None \
            else quantity * unit
        terms_lines.append(QuoteLineTerms(
            line_id=lid, description=str(line.get("SBQQ__Description__c") or line.get("Name") or lid),
            quantity=quantity, unit_price=unit, net_total=total, charge=_charge(line),
            billing_frequency=line.get("SBQQ__BillingFrequency__c"),
            start_date=_date(line.get("SBQQ__StartDate__c"), "SBQQ__StartDate__c"),
            end_date=_date(line.get("SBQQ__EndDate__c"), "SBQQ__EndDate__c"),
            product_id=line.get("SBQQ__Product__c"),
        ))
    net = quote.get("SBQQ__NetAmount__c")
    net_amount = to_decimal(net, what="SBQQ__NetAmount__c", system=SYSTEM) if net is not None else \
        sum((line.net_total for line in terms_lines), Decimal("0"))
    return QuoteTerms(
        opportunity_id=opp_id, quote_id=quote_id,
        account_id=str(quote.get("SBQQ__Account__c") or need(opportunity, "AccountId", system=SYSTEM,
                                                             what="Opportunity")),
        name=str(opportunity.get("Name") or quote_id), currency=currency, net_amount=net_amount,
        start_date=_date(quote.get("SBQQ__StartDate__c"), "SBQQ__StartDate__c"),
        end_date=_date(quote.get("SBQQ__EndDate__c"), "SBQQ__EndDate__c"), lines=terms_lines,
    )


def engagement_from_quote(terms: QuoteTerms, *, engagement_id: str, client_id: str, contracting_entity_id: str,
                          correlation_id: str, delivering_entity_ids: list[str] | None = None) -> Engagement:
    return Engagement(
        correlation_id=correlation_id, xref={"salesforce": terms.opportunity_id}, engagement_id=engagement_id,
        client_id=client_id, name=terms.name, contracting_entity_id=contracting_entity_id,
        delivering_entity_ids=list(delivering_entity_ids or [contracting_entity_id]), currency=terms.currency,
    )


_FREQUENCIES = {"Monthly": "monthly", "Quarterly": "quarterly", "Annual": "annual"}


def billing_plan_from_quote(terms: QuoteTerms, *, billing_plan_id: str, sow_id: str, correlation_id: str,
                            rate_card_id: str | None = None, fx_policy: FxPolicy | None = None,
                            not_to_exceed: Decimal | None = None):  # -> BillingPlan
    """One billing plan from the quote's lines (all lines must share one charge kind):

    - One-Time lines -> fixed fee, one milestone per line (due on the line's end date, else the quote's);
    - Recurring lines -> a recurring fee: Σ net per period, frequency from ``SBQQ__BillingFrequency__c``;
    - Usage lines -> time and materials on the given rate card and FX policy (the quote total becomes the
      not-to-exceed cap unless one is given).
    """
    kinds = terms.charge_kinds
    if len(kinds) != 1:
        raise BusinessError(f"salesforce: quote {terms.quote_id} mixes charge kinds {sorted(kinds)}; split it into "
                            "one statement of work per kind", system=SYSTEM, code="MIXED_CHARGE_KINDS")
    (kind,) = kinds
    if kind == "fixed_fee":
        milestones = []
        for n, line in enumerate(terms.lines, start=1):
            due = line.end_date or terms.end_date
            if due is None:
                raise BusinessError(f"salesforce: quote line {line.line_id} has no end date for its milestone",
                                    system=SYSTEM, code="NO_MILESTONE_DATE")
            milestones.append(Milestone(correlation_id=correlation_id, xref={"salesforce": line.line_id},
                                        milestone_id=f"{sow_id}-M{n}", sow_id=sow_id, name=line.description,
                                        amount=line.net_total, due_date=due))
        return FixedFeePlan(correlation_id=correlation_id, billing_plan_id=billing_plan_id,
                            fee=sum((m.amount for m in milestones), Decimal("0")), milestones=milestones)
    if kind == "recurring_fee":
        freqs = {line.billing_frequency for line in terms.lines}
        if len(freqs) != 1 or next(iter(freqs)) not in _FREQUENCIES:
            raise BusinessError(f"salesforce: quote {terms.quote_id} recurring lines bill {sorted(map(str, freqs))}",
                                system=SYSTEM, code="UNSUPPORTED_FREQUENCY")
        start = terms.start_date or min((line.start_date for line in terms.lines if line.start_date), default=None)
        if start is None:
            raise BusinessError(f"salesforce: quote {terms.quote_id} has no start date", system=SYSTEM,
                                code="NO_START_DATE")
        return RecurringFeePlan(correlation_id=correlation_id, billing_plan_id=billing_plan_id,
                                amount_per_period=sum((line.unit_price for line in terms.lines), Decimal("0")),
                                frequency=_FREQUENCIES[next(iter(freqs))], start_date=start, end_date=terms.end_date)
    if rate_card_id is None or fx_policy is None:
        raise BusinessError("salesforce: a time-and-materials quote needs a rate card and an FX policy",
                            system=SYSTEM, code="NO_RATE_CARD")
    return TimeAndMaterialsPlan(correlation_id=correlation_id, billing_plan_id=billing_plan_id,
                                rate_card_id=rate_card_id, fx_policy=fx_policy,
                                not_to_exceed=not_to_exceed if not_to_exceed is not None else terms.net_amount)


def statement_of_work_from_quote(terms: QuoteTerms, *, sow_id: str, engagement_id: str, billing_plan: Any,
                                 correlation_id: str, budget: Decimal | None = None) -> StatementOfWork:
    baseline = ContractVersion(version=1, value=terms.net_amount,
                               budget=budget if budget is not None else terms.net_amount, end_date=terms.end_date)
    return StatementOfWork(correlation_id=correlation_id, xref={"salesforce": terms.quote_id}, sow_id=sow_id,
                           engagement_id=engagement_id, currency=terms.currency, baseline=baseline, current=baseline,
                           billing_plan=billing_plan)


# ---- invoice and payment status -> Salesforce ------------------------------------------------------------------------
def invoice_status_fields(invoice: InvoiceEvent, *, amount_paid: Decimal | None = None,
                          invoice_number: str | None = None, last_payment_date: date | None = None,
                          fields: SalesforceFields = FIELDS) -> dict[str, Any]:
    """Fields to write back on the Opportunity (or the org's invoice mirror) when an invoice posts or is paid."""
    out: dict[str, Any] = {
        fields.invoice_status: INVOICE_STATUS_LABELS[invoice.status],
        fields.amount_invoiced: invoice.gross_total,
        fields.last_invoice_date: invoice.invoice_date.isoformat(),
    }
    if invoice_number:
        out[fields.invoice_number] = invoice_number
    if amount_paid is not None:
        out[fields.amount_paid] = amount_paid
    if last_payment_date is not None:
        out[fields.last_payment_date] = last_payment_date.isoformat()
    return out
