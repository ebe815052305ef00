from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_factories import FAST, fx, fx_policy, hours, rate_card, rates, rc_version, time_entry
from q2c_harness.billing import FxRateTable, fx_rate_date, rate_time_entry, round_money
from q2c_harness.billing.errors import (
    MissingFxRate,
    NegativeQuantity,
    NoRateInForce,
    OverlappingRateCardVersions,
    UnknownCurrency,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("2.345", "USD", "2.35"), ("-2.345", "USD", "-2.35"), ("1234.5", "JPY", "1235"), ("0.0005", "KWD", "0.001"),
     ("10.004", "INR", "10.00")],
)
def test_round_money_half_up_to_minor_units(amount, currency, expected):
    assert round_money(D(amount), currency) == D(expected)
    assert str(round_money(D(amount), currency)) == expected


@FAST
@given(st.decimals(min_value=D("-1e9"), max_value=D("1e9"), places=6), st.sampled_from(["USD", "JPY", "KWD", "EUR"]))
def test_round_money_is_within_half_a_minor_unit(amount, currency):
    rounded = round_money(amount, currency)
    half = D(1).scaleb(-{"USD": 2, "JPY": 0, "KWD": 3, "EUR": 2}[currency]) / 2
    assert abs(rounded - amount) <= half
    assert round_money(rounded, currency) == rounded


def test_unknown_currency_is_a_typed_error():
    with pytest.raises(UnknownCurrency, match="'ABC'") as exc:
        round_money(D("1"), "ABC")
    assert exc.value.code == "unknown_currency"


CARD = rate_card(
    rc_version(1, date(2026, 1, 1), date(2026, 3, 31), D("150.00")),
    rc_version(2, date(2026, 4, 1), None, D("165.00")),
)
TABLE = FxRateTable({
    ("corporate", "GBP", "USD", date(2026, 3, 10)): D("1.25"),
    ("corporate", "GBP", "USD", date(2026, 3, 31)): D("1.30"),
    ("corporate", "GBP", "USD", date(2026, 4, 2)): D("1.27"),
    ("corporate", "GBP", "USD", date(2026, 4, 30)): D("1.28"),
})


def _rate(entry, policy=None, invoice_date=date(2026, 4, 30)):
    return rate_time_entry(entry, rate_card=CARD, fx_policy=policy or fx_policy(), fx_rates=TABLE,
                           contract_currency="USD", invoice_date=invoice_date)


def test_worked_example_rate_fx_and_audit_trail_on_the_line():
    line = _rate(time_entry(hrs=D("7.5")))
    # 7.5 h x GBP 150 (v1, in force 2026-03-10) x 1.25 = USD 1,406.25
    assert line.amount == D("1406.25")
    assert (line.applied_rate, line.rate_card_version, line.fx_rate, line.fx_rate_type, line.fx_rate_date) == (
        D("150.00"), 1, D("1.25"), "corporate", date(2026, 3, 10))


def test_version_in_force_on_work_date_is_used():
    line = _rate(time_entry(work_date=date(2026, 4, 2), hrs=D("1")))
    assert (line.rate_card_version, line.applied_rate, line.amount) == (2, D("165.00"), D("209.55"))


@pytest.mark.parametrize(
    ("rule", "fixed", "expected_date", "expected_amount"),
    [("period_end", None, date(2026, 3, 31), D("195.00")), ("invoice_date", None, date(2026, 4, 30), D("192.00")),
     ("fixed", date(2026, 4, 2), date(2026, 4, 2), D("190.50"))],
)
def test_fx_rate_date_rules(rule, fixed, expected_date, expected_amount):
    line = _rate(time_entry(hrs=D("1")), policy=fx_policy(rule, fixed=fixed))
    assert line.fx_rate_date == expected_date == fx_rate_date(fx_policy(rule, fixed=fixed), work_date=date(2026, 3, 10),
                                                               invoice_date=date(2026, 4, 30))
    assert line.amount == expected_amount


def test_negative_hours_rejected_naming_the_entry():
    with pytest.raises(NegativeQuantity, match="time entry T-9 hours must not be negative"):
        _rate(time_entry("T-9", hrs=D("-1")))


def test_overlapping_rate_card_versions_rejected():
    card = rate_card(rc_version(1, date(2026, 1, 1), date(2026, 4, 15), D("150")),
                     rc_version(2, date(2026, 4, 1), None, D("160")))
    with pytest.raises(OverlappingRateCardVersions, match="RC-1: version 1 .* overlaps version 2") as exc:
        rate_time_entry(time_entry(), rate_card=card, fx_policy=fx_policy(), fx_rates=TABLE, contract_currency="USD",
                        invoice_date=date(2026, 4, 30))
    assert exc.value.code == "overlapping_rate_card_versions"


def test_missing_rate_and_missing_fx_are_errors_not_guesses():
    with pytest.raises(NoRateInForce, match="role 'architect'"):
        _rate(time_entry(role="architect"))
    with pytest.raises(NoRateInForce, match="no version in force on 2025-12-31"):
        _rate(time_entry(work_date=date(2025, 12, 31)))
    with pytest.raises(MissingFxRate, match="GBP->USD for 2026-03-11"):
        _rate(time_entry(work_date=date(2026, 3, 11)))


@FAST
@given(hrs=hours, rate=rates, fx_rate=fx, currency=st.sampled_from(["USD", "JPY", "EUR"]))
def test_rated_amount_is_reproducible_from_stored_fields(hrs, rate, fx_rate, currency):
    card = rate_card(rc_version(1, date(2026, 1, 1), None, rate))
    table = FxRateTable({("corporate", "GBP", currency, date(2026, 3, 10)): fx_rate})
    line = rate_time_entry(time_entry(hrs=hrs), rate_card=card, fx_policy=fx_policy(), fx_rates=table,
                           contract_currency=currency, invoice_date=date(2026, 3, 31))
    assert line.amount == round_money(line.hours * line.applied_rate * line.fx_rate, currency)
    assert line.amount == round_money(hrs * rate * fx_rate, currency)


@FAST
@given(st.lists(hours, min_size=1, max_size=20), rates, fx)
def test_sum_of_lines_matches_sum_of_sources_within_documented_rounding(hour_list, rate, fx_rate):
    card = rate_card(rc_version(1, date(2026, 1, 1), None, rate))
    table = FxRateTable({("corporate", "GBP", "USD", date(2026, 3, 10)): fx_rate})
    lines = [rate_time_entry(time_entry(f"T-{i}", hrs=h), rate_card=card, fx_policy=fx_policy(), fx_rates=table,
                             contract_currency="USD", invoice_date=date(2026, 3, 31)) for i, h in enumerate(hour_list)]
    exact = sum(h * rate * fx_rate for h in hour_list)
    # each line rounds once: at most half a cent per line of drift
    assert abs(sum(ln.amount for ln in lines) - exact) <= D("0.005") * len(lines)
