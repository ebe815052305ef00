from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_factories import FAST, money
from q2c_harness.billing import RetainerBalance, draw_down_retainer, receive_retainer, split_amount
from q2c_harness.billing.errors import NegativeQuantity, RetainerOverdrawn, SplitsDoNotSumTo100
from q2c_harness.canonical import CustomerSplit


def test_retainer_worked_example_and_overdraw():
    state = receive_retainer(RetainerBalance("RET-1", "USD"), D("5000.00"))
    state = draw_down_retainer(state, D("3200.00"))
    assert state.balance == D("1800.00")
    with pytest.raises(RetainerOverdrawn, match="RET-1: drawdown 2000.00 USD exceeds the remaining balance 1800.00 USD"):
        draw_down_retainer(state, D("2000.00"))
    with pytest.raises(NegativeQuantity, match="retainer RET-1 drawdown"):
        draw_down_retainer(state, D("-1.00"))


@FAST
@given(st.lists(st.tuples(st.sampled_from(["receive", "draw"]), money), max_size=20))
def test_retainer_balance_never_negative_and_applied_never_exceeds_balance(ops):
    state = RetainerBalance("RET-1", "USD")
    for op, amount in ops:
        before = state.balance
        if op == "receive":
            state = receive_retainer(state, amount)
        elif amount > before:
            with pytest.raises(RetainerOverdrawn):
                draw_down_retainer(state, amount)
        else:
            state = draw_down_retainer(state, amount)
            assert state.balance == before - amount
        assert state.balance >= 0 and state.balance == state.received - state.applied


def _splits(*pcts):
    return [CustomerSplit(client_id=f"C{i}", percent=D(p)) for i, p in enumerate(pcts)]


def test_split_residue_goes_to_designated_customer():
    shares = split_amount(D("100.00"), _splits("33.33", "33.33", "33.34"), residue_client_id="C0", currency="USD")
    assert shares == {"C0": D("33.33"), "C1": D("33.33"), "C2": D("33.34")}
    # 50 % of 0.05 rounds half up to 0.03 for both: the -0.01 residue lands on C1 only
    shares = split_amount(D("0.05"), _splits("50", "50"), residue_client_id="C1", currency="USD")
    assert shares == {"C0": D("0.03"), "C1": D("0.02")}


def test_splits_not_summing_to_100_rejected():
    with pytest.raises(SplitsDoNotSumTo100, match="sum to 99.9, not 100"):
        split_amount(D("10"), _splits("50", "49.9"), residue_client_id="C0", currency="USD")


@FAST
@given(money, st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=4), st.data())
def test_split_shares_always_sum_to_amount(amount, weights, data):
    pcts = [D(w) for w in weights]
    pcts[-1] += D(100) - sum(pcts)
    if pcts[-1] < 0:
        return
    splits = _splits(*[str(p) for p in pcts])
    residue = data.draw(st.sampled_from([s.client_id for s in splits]))
    shares = split_amount(amount, splits, residue_client_id=residue, currency="USD")
    assert sum(shares.values()) == amount
    for s in splits:
        if s.client_id != residue:
            assert shares[s.client_id] == (amount * s.percent / 100).quantize(D("0.01"), rounding="ROUND_HALF_UP")
