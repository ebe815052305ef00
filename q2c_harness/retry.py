"""The retry policy, one for every vendor call (connectors/http.py) and every workflow step (engine/durable.py), on
tenacity (https://tenacity.readthedocs.io: stop, wait and retry strategies over a RetryCallState).

The attempt budgets, so that retries never nest into attempts x attempts against a failing vendor:

- A vendor call (`CALL`, the flows' clients use 6 attempts): only transient errors are retried, a write that is
  not idempotent only when the vendor certainly did not apply it; at most ``max_attempts`` attempts and sleeps
  summing to at most ``max_total_delay``; each wait is the vendor's Retry-After when it sent one, else full-jitter
  exponential backoff from a generator seeded by ``seed`` (same seed, same delays). When it gives up on a
  retryable error, the error is marked spent.
- A step (`STEP`): a transient error whose call spent its budget is not retried again: the step fails and the work
  is parked in the exception queue's transient lot, which retries it later. The step retries what no call retried
  (an open circuit after its cool-down, a write that timed out and that the step reconciles by its idempotency key, a
  database hiccup) within its own budget, and an AuthError once (the connector re-authenticated before raising).
  Business and contract errors, and bugs, are never retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity

from q2c_harness.errors import AuthError, TransientError

_SPENT = "_q2c_retries_spent"


@dataclass(frozen=True)
class RetryPolicy:
    """Full-jitter exponential backoff: wait_n = uniform(0, min(max_delay, base_delay * 2**(n-1))), or Retry-After."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_total_delay: float = 60.0  # sum of sleeps; a wait that would pass it is not slept: the error surfaces
    seed: int = 0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The jittered wait after failed attempt number ``attempt`` (1-based)."""
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1))))

    def wait(self, rng: random.Random) -> Callable[[tenacity.RetryCallState], float]:
        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None and retry_after >= 0:
                return float(retry_after)
            return self.backoff(state.attempt_number, rng)
        return wait

    def stop(self) -> tenacity.stop.stop_base:
        return tenacity.stop_after_attempt(self.max_attempts) | _BudgetSpent(self.max_total_delay)

    def retrying(self, retryable: Callable[[BaseException, int], bool], *, sleep: Callable[[float], Any],
                 rng: random.Random | None = None, asynchronous: bool = False,
                 before_sleep: Callable[[tenacity.RetryCallState], Any] | None = None) -> Any:
        """A tenacity controller: ``retryable(exc, attempt)`` says whether an error may be retried at all; the
        policy says how long to wait and when to stop. ``sleep`` is injectable (virtual clocks, tests)."""
        cls = tenacity.AsyncRetrying if asynchronous else tenacity.Retrying
        return cls(stop=self.stop(), wait=self.wait(rng or random.Random(self.seed)), sleep=sleep, reraise=True,
                   retry=_Retryable(retryable), before_sleep=before_sleep)


class _BudgetSpent(tenacity.stop.stop_base):
    """Stop when the next wait would take the sum of sleeps past the budget (tenacity computes the wait first)."""

    def __init__(self, budget: float) -> None:
        self.budget = budget

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        return state.idle_for + (state.upcoming_sleep or 0.0) > self.budget


class _Retryable(tenacity.retry_base):
    def __init__(self, predicate: Callable[[BaseException, int], bool]) -> None:
        self.predicate = predicate

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return exc is not None and self.predicate(exc, state.attempt_number)


CALL = RetryPolicy()
STEP = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=30.0, max_total_delay=60.0)


def mark_spent(exc: BaseException) -> BaseException:
    """The vendor call retried this error as long as its budget allowed."""
    setattr(exc, _SPENT, True)
    return exc


def was_spent(exc: BaseException) -> bool:
    return bool(getattr(exc, _SPENT, False))


def step_retryable(exc: BaseException, attempt: int) -> bool:
    """What a step retries: transient errors no call already retried, and an AuthError once."""
    if isinstance(exc, TransientError):
        return not was_spent(exc)
    return isinstance(exc, AuthError) and attempt == 1


def call_with_retry(fn: Callable[[], Any], policy: RetryPolicy = STEP, *, sleep: Callable[[float], None] = time.sleep,
                    rng: random.Random | None = None) -> Any:
    """Run a step body under the step budget; re-raises the last error."""
    return policy.retrying(step_retryable, sleep=sleep, rng=rng)(fn)
