"""Tax calculation and the document-code rules, on the backend (no HTTP)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from q2c_simulators.kernel import VirtualClock
from q2c_simulators.tax.exceptions import AvaTaxError
from q2c_simulators.tax.models import TaxBackend, resolve_address

from .conftest import invoice


@pytest.fixture
def backend() -> TaxBackend:
    clock = VirtualClock()
    clock.set(datetime(2026, 11, 30, tzinfo=timezone.utc), freeze=True)
    return TaxBackend("2000000001", clock)


def where(city: str, region: str, postal: str = "", country: str = "US") -> dict:
    return {"singleLocation": {"city": city, "region": region, "country": country, "postalCode": postal}}


def calc(backend: TaxBackend, amount, tax_code: str, addresses: dict, **extra) -> dict:
    line = {"amount": D(str(amount)), "taxCode": tax_code, **extra.pop("line", {})}
    return backend.create_transaction({**invoice(None, type_="SalesOrder", lines=[line], **addresses), **extra})


def test_us_state_and_local_parts_add_up(backend):
    txn = calc(backend, 1000, "P0000000", where("Austin", "TX", "78701"))
    details = txn["lines"][0]["details"]
    assert [(d["jurisType"], d["rate"], d["tax"]) for d in details] == [
        ("STA", D("0.0625"), D("62.50")), ("CIT", D("0.01"), D("10.00")), ("STJ", D("0.01"), D("10.00"))]
    assert txn["totalTax"] == D("82.50") and txn["status"] == "Temporary"
    assert [s["jurisType"] for s in txn["summary"]] == ["State", "City", "Special"]


def test_services_are_taxed_only_where_the_state_taxes_them(backend):
    assert calc(backend, 1000, "SC080000", where("Irvine", "CA", "92615"))["totalTax"] == 0
    hawaii = calc(backend, 1000, "SC080000", where("Honolulu", "HI", "96813"))
    assert hawaii["totalTax"] == D("45.00") and hawaii["lines"][0]["isItemTaxable"] is True
    texas_software = calc(backend, 1000, "SC120000", where("Austin", "TX", "78701"))  # 80% taxable
    assert texas_software["totalTaxable"] == D("800.00") and texas_software["totalTax"] == D("66.00")
    assert calc(backend, 1000, "SC080000", where("Austin", "TX", "78701"))["totalTax"] == 0


def test_clothing_exempt_in_pennsylvania_taxed_in_texas(backend):
    assert calc(backend, 100, "PC040100", where("Philadelphia", "PA", "19103"))["totalTax"] == 0
    assert calc(backend, 100, "PC040100", where("Austin", "TX", "78701"))["totalTax"] == D("8.25")


def test_an_unmapped_item_is_tangible_property(backend):
    txn = calc(backend, 100, "", where("Irvine", "CA", "92615"))
    assert txn["lines"][0]["taxCode"] == "P0000000" and txn["totalTax"] == D("7.75")


def test_tax_included_splits_the_amount(backend):
    txn = calc(backend, "108.25", "P0000000", where("Austin", "TX", "78701"), line={"taxIncluded": True})
    assert txn["totalAmount"] == D("100.00") and txn["totalTax"] == D("8.25")


def test_rounding_is_half_up_per_jurisdiction(backend):
    txn = calc(backend, "10.02", "P0000000", where("Boston", "MA", "02108"))
    assert txn["lines"][0]["details"][0]["tax"] == D("0.63")  # 0.626250 -> 0.63


def test_vat_domestic_reverse_charge_and_cross_border_b2c(backend):
    gb = where("London", None, "EC1A 1BB", "GB")
    assert calc(backend, 100, "SC080000", gb)["totalTax"] == D("20.00")
    route = {"shipFrom": {"city": "Berlin", "country": "DE"}, "shipTo": {"city": "Paris", "country": "FR"}}
    b2b = calc(backend, 100, "SC080000", route, businessIdentificationNo="FR40303265045")
    assert b2b["totalTax"] == 0 and b2b["totalTaxable"] == D("100")
    assert b2b["lines"][0]["details"][0]["reverseCharge"] is True
    assert "art. 196" in b2b["messages"][0]["details"]
    assert calc(backend, 100, "SC080000", route)["totalTax"] == D("19.00")  # B2C services: the supplier's VAT
    assert calc(backend, 100, "P0000000", route)["totalTax"] == D("20.00")  # B2C goods: the destination's
    from_us = {"shipFrom": {"city": "Austin", "region": "TX", "country": "US"}, "shipTo": route["shipTo"]}
    assert calc(backend, 100, "SC080000", from_us)["totalTax"] == 0


def test_no_nexus_no_tax(backend):
    backend.set_company("DEFAULT", ["US-CA"])
    txn = calc(backend, 100, "P0000000", where("Austin", "TX", "78701"))
    assert txn["totalTax"] == 0 and txn["messages"][0]["summary"] == "No nexus"
    assert calc(backend, 100, "P0000000", where("Irvine", "CA", "92615"))["totalTax"] == D("7.75")


def test_a_state_missing_from_the_table_is_an_error_not_zero(backend):
    with pytest.raises(AvaTaxError) as err:
        calc(backend, 100, "P0000000", where("Columbus", "OH", "43004"))
    assert err.value.code == "JurisdictionNotFoundError"


@pytest.mark.parametrize("change, code", [
    ({"lines": []}, "MissingLine"),
    ({"addresses": None}, "MissingAddress"),
    ({"date": "30/11/2026"}, "DateFormatError"),
    ({"customerCode": ""}, "ValueRequiredError"),
    ({"type": "Bogus"}, "InvalidEnumValue"),
    ({"lines": [{"amount": "12"}]}, "InvalidDecimalValue"),
    ({"addresses": {"shipTo": {"country": "USA"}}}, "InvalidCountry"),
    ({"addresses": {"billTo": {}}}, "ModelStateInvalid"),
])
def test_bad_models_get_avatax_codes(backend, change, code):
    with pytest.raises(AvaTaxError) as err:
        backend.create_transaction({**invoice(), **change})
    assert err.value.code == code and err.value.status == 400


def test_sales_order_is_never_stored(backend):
    backend.create_transaction(invoice("EST-1", type_="SalesOrder"))
    assert backend.store.count("transactions") == 0


def test_saved_code_is_replaced_committed_code_is_reserved(backend):
    first = backend.create_transaction(invoice("INV-1"))
    second = backend.create_transaction(invoice("INV-1", lines=[{"amount": 50}]))
    assert second["id"] != first["id"] and backend.store.count("transactions") == 1
    assert backend.current("DEFAULT", "INV-1")["totalAmount"] == 50
    assert backend.commit("DEFAULT", "INV-1", "SalesInvoice", True)["status"] == "Committed"
    with pytest.raises(AvaTaxError) as err:
        backend.create_transaction(invoice("INV-1"))
    assert err.value.code == "DocumentCodeConflict"
    assert backend.current("DEFAULT", "INV-1")["id"] == second["id"]  # nothing changed


def test_void_then_no_second_void_and_no_commit(backend):
    backend.create_transaction(invoice("INV-2", commit=True))
    assert backend.void("DEFAULT", "INV-2", "SalesInvoice", "DocVoided")["status"] == "Cancelled"
    for action in (lambda: backend.void("DEFAULT", "INV-2", "SalesInvoice", "DocVoided"),
                   lambda: backend.commit("DEFAULT", "INV-2", "SalesInvoice", True),
                   lambda: backend.create_transaction(invoice("INV-2"))):
        with pytest.raises(AvaTaxError):
            action()


def test_adjust_makes_a_new_version_and_keeps_the_old(backend):
    old = backend.create_transaction(invoice("INV-3", commit=True))
    new = backend.adjust("DEFAULT", "INV-3", "SalesInvoice", "PriceAdjusted", None,
                         {**invoice("ignored", lines=[{"amount": 500}]), "commit": True})
    assert new["version"] == 2 and new["code"] == "INV-3" and new["totalAmount"] == 500
    assert backend.by_id(old["id"])["status"] == "Adjusted"
    assert backend.current("DEFAULT", "INV-3")["id"] == new["id"]
    assert [t["id"] for t in backend.list_transactions("DEFAULT")] == [new["id"]]


def test_documents_of_an_unknown_company_are_not_found(backend):
    with pytest.raises(AvaTaxError) as err:
        backend.current("NOPE", "INV-1")
    assert err.value.status == 404


def test_address_resolution():
    found = resolve_address({"line1": "1 Main", "city": "Irvine", "region": "CA", "postalCode": "92615"})
    assert found["coordinates"]["latitude"] == D("33.6846") and found["resolutionQuality"] == "Intersection"
    assert resolve_address({"postalCode": "78701"})["validatedAddresses"][0]["region"] == "TX"
    with pytest.raises(AvaTaxError):
        resolve_address({"line1": "Incomplete Address"})
