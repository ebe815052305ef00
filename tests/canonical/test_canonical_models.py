import inspect
from datetime import date
from decimal import Decimal as D

import pytest
from pydantic import TypeAdapter, ValidationError

import q2c_harness.canonical as canonical
from q2c_harness.canonical import (
    BillingPlan,
    CanonicalObject,
    ContractVersion,
    FxPolicy,
    Money,
    StatementOfWork,
    TimeTransaction,
)

ENTRY = dict(correlation_id="c-1", time_entry_id="T-1", engagement_id="E-1", sow_id="S-1", resource_id="R-1",
             role="consultant", region="EMEA", delivering_entity_id="LE-UK", work_date=date(2026, 3, 1),
             hours=D("8"), approval_state="approved", billable=True)


def test_money_refuses_float_and_unknown_currency():
    with pytest.raises(ValidationError, match="instance of Decimal"):
        Money(amount=10.5, currency="USD")
    with pytest.raises(ValidationError, match="unknown currency 'USX'"):
        Money(amount=D("10.5"), currency="USX")
    with pytest.raises(ValidationError):
        Money(amount=D("NaN"), currency="USD")


def test_extra_fields_refused_and_objects_frozen():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TimeTransaction(**ENTRY, invoice_hint="x")
    entry = TimeTransaction(**ENTRY)
    with pytest.raises(ValidationError, match="frozen"):
        entry.hours = D("9")
    with pytest.raises(ValidationError):  # strict: no "8" -> Decimal coercion in Python mode
        TimeTransaction(**{**ENTRY, "hours": "8"})


def test_every_canonical_object_carries_correlation_id_and_xref():
    classes = [c for _, c in inspect.getmembers(canonical, inspect.isclass)
               if issubclass(c, CanonicalObject) and c is not CanonicalObject]
    assert len(classes) >= 18
    for cls in classes:
        assert cls.model_fields["correlation_id"].is_required(), cls
        assert "xref" in cls.model_fields, cls
    entry = TimeTransaction(**ENTRY, xref={"psa": "98765", "netsuite": "TE-1"})
    assert entry.xref["psa"] == "98765"


def test_billing_plan_is_discriminated_on_kind_and_round_trips_json():
    plan = TypeAdapter(BillingPlan).validate_json(
        '{"kind": "fixed_fee", "correlation_id": "c", "billing_plan_id": "BP", "fee": "100.00", "milestones": []}')
    assert type(plan).__name__ == "FixedFeePlan" and plan.fee == D("100.00")
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        TypeAdapter(BillingPlan).validate_python({"kind": "barter", "correlation_id": "c"})
    sow = StatementOfWork(
        correlation_id="c", sow_id="S-1", engagement_id="E-1", currency="JPY",
        baseline=ContractVersion(version=1, value=D("1000000"), budget=D("900000")),
        current=ContractVersion(version=1, value=D("1000000"), budget=D("900000")), billing_plan=plan,
    )
    assert StatementOfWork.model_validate_json(sow.model_dump_json()) == sow


def test_sow_baseline_must_be_version_one_and_fx_policy_fixed_needs_a_date():
    with pytest.raises(ValidationError, match="baseline must be contract version 1"):
        StatementOfWork(
            correlation_id="c", sow_id="S-1", engagement_id="E-1", currency="USD",
            baseline=ContractVersion(version=2, value=D("1"), budget=D("1")),
            current=ContractVersion(version=2, value=D("1"), budget=D("1")),
            billing_plan={"kind": "fixed_fee", "correlation_id": "c", "billing_plan_id": "BP", "fee": D("1"),
                          "milestones": []},
        )
    with pytest.raises(ValidationError, match="fixed_rate_date is required"):
        FxPolicy(rate_type="spot", rate_date_rule="fixed")
