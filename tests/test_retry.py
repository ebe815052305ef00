"""The one retry policy (q2c_harness/retry.py): a vendor call's budget, a step's budget, and that they never nest."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from q2c_harness.connectors.http import BreakerPolicy, VendorAccount, VendorClient
from q2c_harness.engine import Engine, InlineRunner
from q2c_harness.errors import AuthError, BusinessError, ContractError, TransientError
from q2c_harness.retry import STEP, RetryPolicy, call_with_retry, mark_spent


def test_step_honours_retry_after_then_backs_off_with_seeded_jitter():
    sleeps: list[float] = []
    attempts = {"n": 0}

    def flaky():
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise TransientError("429", retry_after=7.0 if attempts["n"] == 1 else None)
        return "ok"

    assert call_with_retry(flaky, sleep=sleeps.append, rng=random.Random(1)) == "ok"
    assert sleeps[0] == 7.0  # Retry-After honoured
    assert sleeps[1] == STEP.backoff(2, random.Random(1))  # 2nd wait: uniform(0, 1.0) from the seeded generator
    assert 0 <= sleeps[1] <= 1.0


@pytest.mark.parametrize("exc", [BusinessError("no"), ContractError("shape"), ValueError("bug")])
def test_step_never_retries_business_contract_or_bugs(exc):
    n = {"n": 0}

    def once():
        n["n"] += 1
        raise exc

    with pytest.raises(type(exc)):
        call_with_retry(once, sleep=lambda s: None)
    assert n["n"] == 1


def test_step_retries_auth_once_and_stops_at_its_budgets():
    n = {"n": 0}

    def auth():
        n["n"] += 1
        raise AuthError("401")

    with pytest.raises(AuthError):
        call_with_retry(auth, sleep=lambda s: None)
    assert n["n"] == 2

    n["n"] = 0

    def always():
        n["n"] += 1
        raise TransientError("503")

    with pytest.raises(TransientError):
        call_with_retry(always, sleep=lambda s: None)
    assert n["n"] == STEP.max_attempts

    sleeps: list[float] = []
    with pytest.raises(TransientError):  # a Retry-After past the sleep budget is not slept through: parked instead
        call_with_retry(lambda: (_ for _ in ()).throw(TransientError("x", retry_after=3600)), sleep=sleeps.append)
    assert sleeps == []


def test_a_spent_transient_error_is_not_retried_by_the_step():
    n = {"n": 0}

    def spent():
        n["n"] += 1
        raise mark_spent(TransientError("503 after the call's own retries"))

    with pytest.raises(TransientError):
        call_with_retry(spent, sleep=lambda s: None)
    assert n["n"] == 1


def test_backoff_is_exponential_capped_and_full_jitter():
    p = RetryPolicy(base_delay=1.0, max_delay=5.0)
    caps = [min(5.0, 2 ** (i - 1)) for i in range(1, 6)]
    rng = random.Random(3)
    for i, cap in enumerate(caps, start=1):
        assert 0 <= p.backoff(i, rng) <= cap
    values = {round(p.backoff(1, random.Random(s)), 6) for s in range(20)}
    assert len(values) > 10 and all(0 <= v <= 1.0 for v in values)


class Vendor(VendorClient):
    system = "netsuite"


def test_a_failing_vendor_gets_the_calls_attempts_once_not_attempts_times_attempts(tmp_path):
    """Against a vendor that answers 503 forever, one step makes the call's max_attempts requests and the work is
    parked in the transient lot: the step does not re-run the call's whole budget (6 x 3 before one policy)."""
    requests = {"n": 0}

    def always_503(request: httpx.Request) -> httpx.Response:
        requests["n"] += 1
        return httpx.Response(503, text="maintenance")

    async def no_sleep(seconds: float) -> None:
        return None

    call = RetryPolicy(max_attempts=6, base_delay=0.0)
    account = VendorAccount("netsuite", "retry-test", breaker=BreakerPolicy(failure_threshold=100))  # breaker aside
    engine = Engine(f"sqlite:///{tmp_path / 'retry.sqlite'}", runner=InlineRunner(sleep=lambda s: None))

    @engine.step("post.invoice")
    def post_invoice() -> None:
        async def send() -> None:
            async with Vendor("https://ns.test", transport=httpx.MockTransport(always_503), retry=call,
                              sleep=no_sleep, vendor_account=account) as client:
                await client.request("GET", "/invoice/1", operation="invoice.get")
        asyncio.run(send())

    @engine.workflow("demo.bill")
    def bill(message: dict) -> None:
        post_invoice()

    engine.handle("psa", "te-1", "time.approved", {}, workflow="demo.bill", correlation_id="c-retry")
    assert requests["n"] == call.max_attempts
    parked = engine.exceptions.list(lot="transient")
    assert len(parked) == 1 and parked[0].error_class == "TransientError"
    engine.db.dispose()
