"""Retry policy per exception class (engine-independent; ``durable.py`` applies it inside each step).

- TransientError: retried with exponential backoff and jitter; a vendor's ``retry_after`` (Retry-After header)
  is honoured: the wait is at least that long. When attempts run out the error propagates and the work is parked
  in the ``transient`` lot.
- AuthError: one more attempt (the connector re-authenticates before raising it), then surfaced.
- BusinessError, ContractError: never retried; parked in the ``business`` lot.
- Anything else (a bug): not retried.

The policy for an exception is the one registered for the nearest class in its MRO.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from q2c_harness.errors import AuthError, BusinessError, ContractError, TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 1  # total attempts, including the first
    initial_delay: float = 0.5  # seconds before the 2nd attempt
    backoff: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.5  # fraction of the delay that is randomized: delay * (1 - jitter * U[0,1))
    max_retry_after: float = 300.0  # a longer Retry-After is not slept through: the error propagates

    def delay(self, attempt: int, exc: BaseException | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.backoff ** (attempt - 1))
        r = (rng or random).random()
        computed = base * (1 - self.jitter * r)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None and retry_after >= 0:
            return max(float(retry_after), computed)
        return computed


NO_RETRY = RetryPolicy(max_attempts=1)

DEFAULT_POLICIES: Mapping[type[BaseException], RetryPolicy] = {
    TransientError: RetryPolicy(max_attempts=5, initial_delay=0.5, backoff=2.0, max_delay=30.0, jitter=0.5),
    AuthError: RetryPolicy(max_attempts=2, initial_delay=0.0, jitter=0.0),
    BusinessError: NO_RETRY,
    ContractError: NO_RETRY,
    BaseException: NO_RETRY,
}


class RetryPolicies:
    """A table of policies keyed by exception class."""

    def __init__(self, policies: Mapping[type[BaseException], RetryPolicy] | None = None) -> None:
        self.policies = dict(DEFAULT_POLICIES)
        if policies:
            self.policies.update(policies)

    def for_exception(self, exc: BaseException) -> RetryPolicy:
        for cls in type(exc).__mro__:
            if cls in self.policies:
                return self.policies[cls]
        return NO_RETRY

    def with_policy(self, cls: type[BaseException], **changes: Any) -> "RetryPolicies":
        base = self.policies.get(cls, NO_RETRY)
        return RetryPolicies({**self.policies, cls: replace(base, **changes)})


DEFAULT = RetryPolicies()


def call_with_retry(fn: Callable[[], T], policies: RetryPolicies = DEFAULT, *,
                    sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
                    on_retry: Callable[[int, BaseException, float], None] | None = None) -> T:
    """Call ``fn`` until it succeeds or its exception's policy says stop; re-raises the last exception."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            policy = policies.for_exception(exc)
            if attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt, exc, rng)
            if wait > policy.max_retry_after:
                raise
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            sleep(wait)
