"""NetSuite <-> canonical: customer, project (job), timeBill, invoice, payment and invoice status.

References go out as ``{"id": "<internal id>"}``; the flow resolves internal ids (subsidiary, currency, customer,
job, employee, service items) through the cross-reference table before calling a mapper. Every payload carries an
``externalId`` built by `external_id`, which is also the key of the idempotent ``PUT …/eid:{externalId}`` upsert.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from q2c_harness.canonical import CURRENCY_MINOR_UNITS, Client, Engagement, InvoiceEvent, Payment, StatementOfWork, TimeTransaction

from ..errors import BusinessError, ContractError
from .common import external_id, money, need, ref_id, to_decimal

SYSTEM = "netsuite"
SOURCE_IDS_FIELD = "custcol_q2c_source_ids"  # optional line custom field holding the billed source ids
CORRELATION_FIELD = "custbody_q2c_correlation_id"  # optional body custom field

JOB_BILLING_TYPES = {"time_and_materials": "TM", "fixed_fee": "FBM", "retainer": "CB", "recurring_fee": "FBI"}


def _ref(internal_id: str | None) -> dict[str, str] | None:
    return {"id": str(internal_id)} if internal_id is not None else None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# ---- customer --------------------------------------------------------------------------------------------------------
def customer_external_id(client_id: str) -> str:
    return external_id("CLIENT", client_id)


def customer_payload(client: Client, *, subsidiary_id: str, currency_id: str | None = None) -> dict[str, Any]:
    """A customer for ``upsert("customer", customer_external_id(client.client_id), payload)``."""
    return _drop_none({
        "externalId": customer_external_id(client.client_id), "companyName": client.name[:83],
        "subsidiary": _ref(subsidiary_id), "currency": _ref(currency_id),
    })


def client_from_customer(customer: dict[str, Any], *, correlation_id: str, country: str,
                         billing_currency: str | None = None, client_id: str | None = None,
                         vat_id: str | None = None) -> Client:
    """A NetSuite customer as a canonical Client (country comes from the flow: the customer record lacks it)."""
    ns_id = str(need(customer, "id", system=SYSTEM, what="customer"))
    currency = billing_currency
    if currency is None:
        cur = customer.get("currency")
        currency = cur.get("refName") if isinstance(cur, dict) else None
    if not currency:
        raise ContractError(f"netsuite: customer {ns_id} has no currency refName", system=SYSTEM,
                            code="UNEXPECTED_SHAPE")
    eid = customer.get("externalId")
    if client_id is None and isinstance(eid, str) and eid.startswith("Q2C-CLIENT-"):
        client_id = eid[len("Q2C-CLIENT-"):]
    return Client(correlation_id=correlation_id, xref={"netsuite": ns_id}, client_id=client_id or ns_id,
                  name=str(need(customer, "companyName", system=SYSTEM, what="customer")), country=country,
                  billing_currency=currency, vat_id=vat_id)


# ---- project (job) ---------------------------------------------------------------------------------------------------
def job_external_id(engagement_id: str) -> str:
    return external_id("ENGAGEMENT", engagement_id)


def job_payload(engagement: Engagement, *, customer_id: str, subsidiary_id: str | None = None,
                currency_id: str | None = None, sow: StatementOfWork | None = None,
                start_date: date | None = None, projected_end_date: date | None = None) -> dict[str, Any]:
    billing_type = JOB_BILLING_TYPES[sow.billing_plan.kind] if sow is not None else None
    end = projected_end_date or (sow.current.end_date if sow is not None else None)
    return _drop_none({
        "externalId": job_external_id(engagement.engagement_id), "companyName": engagement.name[:83],
        "customer": _ref(customer_id), "subsidiary": _ref(subsidiary_id), "currency": _ref(currency_id),
        "jobBillingType": billing_type, "startDate": start_date.isoformat() if start_date else None,
        "projectedEndDate": end.isoformat() if end else None,
    })


# ---- timeBill --------------------------------------------------------------------------------------------------------
def time_bill_external_id(time_entry_id: str) -> str:
    return external_id("TIME", time_entry_id)


def time_bill_payload(tx: TimeTransaction, *, employee_id: str, job_id: str, item_id: str | None = None,
                      rate: Decimal | None = None, task_id: str | None = None) -> dict[str, Any]:
    """Rated time -> ``timeBill`` (hours exact as Decimal; ``rate`` in the project currency, if rated)."""
    approval = {"approved": "2", "rejected": "3"}.get(tx.approval_state, "1")
    return _drop_none({
        "externalId": time_bill_external_id(tx.time_entry_id), "employee": _ref(employee_id),
        "customer": _ref(job_id), "caseTaskEvent": _ref(task_id), "item": _ref(item_id),
        "tranDate": tx.work_date.isoformat(), "hours": tx.hours, "rate": rate, "isBillable": tx.billable,
        "approvalStatus": approval,
        "memo": f"q2c time {tx.time_entry_id} sow {tx.sow_id} role {tx.role}/{tx.region} corr {tx.correlation_id}",
    })


# ---- invoice ---------------------------------------------------------------------------------------------------------
def invoice_external_id(invoice_id: str) -> str:
    return external_id("INVOICE", invoice_id)


def invoice_payload(invoice: InvoiceEvent, *, customer_id: str, subsidiary_id: str, currency_id: str,
                    item_ids: Mapping[str, str], job_id: str | None = None, custom_fields: bool = False
                    ) -> dict[str, Any]:
    """InvoiceEvent -> NetSuite invoice (lines in ``item.items``).

    ``item_ids`` maps a line kind (time, expense, milestone, ...) to the service item's internal id. NetSuite
    derives a line amount as quantity x rate; when the canonical amount (already rounded by the billing rules) is
    not exactly quantity x unit price at the currency's minor units, the line goes as quantity 1 at the amount, and
    the description keeps the real quantity and price, so money is never re-rounded by the ERP. Source ids go into
    the line description (always) and ``custcol_q2c_source_ids`` (with ``custom_fields=True``).
    """
    cur = invoice.currency
    lines = []
    for line in invoice.lines:
        try:
            item = item_ids[line.kind]
        except KeyError:
            raise BusinessError(f"no NetSuite service item mapped for {line.kind} lines", system=SYSTEM,
                                code="NO_ITEM_MAPPING", details={"kind": line.kind}) from None
        amount = money(line.amount, cur)
        sources = ",".join(line.source_ids)
        desc = f"{line.description} [{line.kind} {sources}; v{line.contract_version}]".strip()
        if money_of(line.quantity * line.unit_price, cur) == amount:
            quantity, rate = line.quantity, line.unit_price
        else:
            quantity, rate = Decimal("1"), amount
            desc += f" ({line.quantity} x {line.unit_price})"
        entry: dict[str, Any] = {"item": _ref(item), "description": desc[:4000], "quantity": quantity, "rate": rate}
        if job_id is not None:
            entry["job"] = _ref(job_id)
        if custom_fields:
            entry[SOURCE_IDS_FIELD] = sources[:4000]
        lines.append(entry)
    body: dict[str, Any] = _drop_none({
        "externalId": invoice_external_id(invoice.invoice_id), "entity": _ref(customer_id), "job": _ref(job_id),
        "subsidiary": _ref(subsidiary_id), "currency": _ref(currency_id), "tranDate": invoice.invoice_date.isoformat(),
        "exchangeRate": invoice.booking_fx_rate,
        "memo": (f"q2c invoice {invoice.invoice_id} sow {invoice.sow_id} contract v{invoice.contract_version}"
                 + (f"; {invoice.reverse_charge_note}" if invoice.reverse_charge_note else ""))[:4000],
        "item": {"items": lines},
    })
    if custom_fields:
        body[CORRELATION_FIELD] = invoice.correlation_id
    return body


def money_of(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor units (only to compare; never to send)."""
    return amount.quantize(Decimal(1).scaleb(-CURRENCY_MINOR_UNITS[currency]), rounding=ROUND_HALF_UP)


# ---- status and payments coming back ---------------------------------------------------------------------------------
_STATUS = {"open": "posted", "paid in full": "paid", "partially paid": "partially_paid", "voided": "void",
           "void": "void", "pending approval": "draft", "cancelled": "void"}


def _partly_paid(record: dict[str, Any]) -> bool:
    total, remaining = record.get("total"), record.get("amountRemaining")
    if total is None or remaining is None:
        return False
    t = to_decimal(total, what="invoice total", system=SYSTEM)
    r = to_decimal(remaining, what="invoice amountRemaining", system=SYSTEM)
    return 0 < r < t


def invoice_status(record: dict[str, Any]) -> str:
    """A NetSuite invoice's status as the canonical invoice status (from ``status``'s refName or text, else from
    ``amountRemaining``/``total``)."""
    status = record.get("status")
    text = status.get("refName") if isinstance(status, dict) else status
    if isinstance(text, str) and text.strip().lower() in _STATUS:
        mapped = _STATUS[text.strip().lower()]
        if mapped == "posted" and _partly_paid(record):  # NetSuite shows a partly paid invoice as "Open"
            return "partially_paid"
        return mapped
    total, remaining = record.get("total"), record.get("amountRemaining")
    if total is not None and remaining is not None:
        t = to_decimal(total, what="invoice total", system=SYSTEM)
        r = to_decimal(remaining, what="invoice amountRemaining", system=SYSTEM)
        return "paid" if r == 0 and t > 0 else "posted" if r == t else "partially_paid"
    raise ContractError(f"netsuite: invoice {record.get('id')} status {status!r} is not one we know", system=SYSTEM,
                        code="UNEXPECTED_SHAPE")


def payment_from_netsuite(record: dict[str, Any], *, correlation_id: str, client_id: str, currency: str | None = None,
                          ) -> Payment:
    ns_id = str(need(record, "id", system=SYSTEM, what="customerPayment"))
    cur = currency
    if cur is None:
        c = record.get("currency")
        cur = c.get("refName") if isinstance(c, dict) else None
    if not cur:
        raise ContractError(f"netsuite: payment {ns_id} has no currency", system=SYSTEM, code="UNEXPECTED_SHAPE")
    rate = record.get("exchangeRate")
    return Payment(correlation_id=correlation_id, xref={"netsuite": ns_id}, payment_id=str(record.get("tranId") or ns_id),
                   client_id=client_id, received_on=date.fromisoformat(str(need(record, "tranDate", system=SYSTEM,
                                                                                what="customerPayment"))[:10]),
                   currency=cur, amount=to_decimal(need(record, "payment", system=SYSTEM, what="customerPayment"),
                                                   what="payment", system=SYSTEM),
                   settlement_fx_rate=to_decimal(rate, what="exchangeRate", system=SYSTEM) if rate is not None
                   else None)


def customer_id_of(record: dict[str, Any], field: str = "entity") -> str | None:
    return ref_id(record.get(field))
