"""The HTTP layer every vendor connector shares: one place for retries, breakers, budgets, correlation and logging.

A vendor client subclasses `VendorClient` and supplies: its system name, how it authenticates a request
(`Authenticator`), how a non-2xx response maps onto the error taxonomy (`classify`), and what it learns from response
headers (`observe`, e.g. Salesforce's ``Sforce-Limit-Info``). Everything else is here:

- the transport is injectable: ``httpx.ASGITransport(sim.asgi)`` for an in-process simulator, or a real URL with a
  CA bundle (``verify=``);
- every call carries ``X-Correlation-Id`` (an argument, else the current one, q2c_harness/correlation.py, else a fresh id that
  stays the same across the call's retries);
- transient failures are retried with exponential backoff and *full jitter* drawn from a seeded `random.Random`
  (same seed, same delays), a vendor ``Retry-After`` (seconds or HTTP-date) replaces the backoff delay, and both
  ``max_attempts`` and ``max_total_delay`` bound the whole call; the sleep function is injectable;
- writes that are not idempotent are retried only when the vendor certainly did not apply them (429, 503, lock
  contention, connection refused); a timeout on a plain POST surfaces at once, so the flow reconciles by its
  idempotency key instead of risking a duplicate;
- a circuit breaker per endpoint (operation) counts only transient failures;
- a concurrency budget per vendor *account* (one semaphore shared by every client of that account, per event loop)
  keeps the core under the vendor's concurrency limit on its own (NetSuite's default 5);
- usage headers near the vendor's limit slow calls down and, nearer still, stop them (`UsagePolicy`);
- a call-log hook receives one `CallRecord` per attempt (the engine's audit log).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email.utils
import json as json_lib
import inspect
import random
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal

import httpx

from q2c_harness import correlation
from q2c_harness.retry import RetryPolicy, mark_spent

from .errors import (
    AuthError,
    CircuitOpenError,
    IntegrationError,
    TransientError,
    error_for_status,
    json_or_contract_error,
    mark_not_applied,
    reauthenticate_on,
    was_not_applied,
)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# ---- JSON with exact decimals ----------------------------------------------------------------------------------------
def dumps_json(obj: Any) -> bytes:
    """JSON where a `Decimal` is written as the exact number it holds (``Decimal("1250.10")`` -> ``1250.10``),
    never through float; dates as ISO strings."""
    marks: dict[str, str] = {}

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            if not o.is_finite():
                raise ValueError(f"cannot send a non-finite Decimal {o}")
            token = f"\x00dec{len(marks)}\x00"
            marks[json_lib.dumps(token)] = format(o, "f")
            return token
        if isinstance(o, (datetime.date, datetime.datetime)):
            return o.isoformat()
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")

    text = json_lib.dumps(obj, default=default, separators=(",", ":"), ensure_ascii=False)
    for quoted, number in marks.items():
        text = text.replace(quoted, number, 1)
    return text.encode()


def loads_json(content: bytes) -> Any:
    """Vendor JSON with every non-integer number as a `Decimal` (money never passes through float)."""
    return json_lib.loads(content, parse_float=Decimal)


# ---- Retry-After -----------------------------------------------------------------------------------------------------
def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date (RFC 9110 10.2.3); None if absent/garbled."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def error_parts(response: httpx.Response) -> tuple[int, float | None, Any]:
    """What every vendor's error classification starts from: the status, the Retry-After in seconds, and the body as
    JSON (None when it is not JSON)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return response.status_code, parse_retry_after(response.headers.get("Retry-After")), body


# ---- policies --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5  # consecutive transient failures that open the circuit
    cooldown: float = 30.0  # seconds open before one half-open probe is let through


@dataclass(frozen=True)
class UsagePolicy:
    """What to do as a vendor's usage header (used/max) approaches the max.

    From ``slow_ratio`` the client sleeps before each call, linearly up to ``slow_delay`` at ``stop_ratio``; from
    ``stop_ratio`` it refuses to call (TransientError ``API_USAGE_GUARD`` with ``stop_retry_after``), leaving the rest
    of the allocation to the other integrations of the org.
    """

    slow_ratio: float = 0.80
    stop_ratio: float = 0.95
    slow_delay: float = 1.0
    stop_retry_after: float = 300.0


# ---- circuit breaker -------------------------------------------------------------------------------------------------
BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """closed -> (threshold transient failures) -> open -> (cool-down) -> half_open -> one probe -> closed | open."""

    def __init__(self, name: str, policy: BreakerPolicy, clock: Clock) -> None:
        self.name = name
        self.policy = policy
        self._clock = clock
        self._state: BreakerState = "closed"
        self.failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._state == "open" and self._clock() - self._opened_at >= self.policy.cooldown:
            self._state = "half_open"
            self._probe_in_flight = False
        return self._state

    def before_call(self, system: str) -> None:
        state = self.state
        if state == "closed":
            return
        if state == "half_open" and not self._probe_in_flight:
            self._probe_in_flight = True
            return
        remaining = max(0.0, self.policy.cooldown - (self._clock() - self._opened_at))
        raise CircuitOpenError(
            f"{system}: circuit for {self.name} is {state}; not calling",
            system=system, code="CIRCUIT_OPEN", retry_after=remaining if state == "open" else None,
        )

    def record_success(self) -> None:
        self._state = "closed"
        self.failures = 0
        self._probe_in_flight = False

    def record_transient_failure(self) -> None:
        if self._state == "half_open":
            self._open()
            return
        self.failures += 1
        if self.failures >= self.policy.failure_threshold:
            self._open()

    def release_probe(self) -> None:
        """A half-open probe that ended neither in success nor transient failure (e.g. auth): let another try."""
        self._probe_in_flight = False

    def _open(self) -> None:
        self._state = "open"
        self._opened_at = self._clock()
        self._probe_in_flight = False
        self.failures = 0


# ---- the vendor account: concurrency budget, usage, breakers ----------------------------------------------------------
class VendorAccount:
    """State shared by every client of one vendor account (org, NetSuite account, PSA tenant).

    ``concurrency`` bounds calls in flight across all clients of the account (one semaphore per event loop, created
    lazily, so a loop-per-test suite never trips over a semaphore bound to a dead loop).
    """

    def __init__(
        self, system: str, account_id: str, *, concurrency: int = 5, breaker: BreakerPolicy | None = None,
        usage: UsagePolicy | None = None, clock: Clock = time.monotonic,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.system = system
        self.account_id = account_id
        self.concurrency = concurrency
        self.breaker_policy = breaker or BreakerPolicy()
        self.usage_policy = usage or UsagePolicy()
        self.clock = clock
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())
        self._breakers: dict[str, CircuitBreaker] = {}
        self.api_usage: tuple[int, int] | None = None  # (used, max) from the vendor's last usage header
        self.in_flight = 0
        self.max_in_flight = 0

    def semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return sem

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self.semaphore():
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1

    def breaker(self, endpoint: str) -> CircuitBreaker:
        b = self._breakers.get(endpoint)
        if b is None:
            b = self._breakers[endpoint] = CircuitBreaker(endpoint, self.breaker_policy, self.clock)
        return b

    def breakers(self) -> dict[str, CircuitBreaker]:
        return dict(self._breakers)

    def observe_usage(self, used: int, maximum: int) -> None:
        if maximum > 0:
            self.api_usage = (used, maximum)

    def usage_delay(self) -> float | None:
        """Seconds to wait before the next call (0 when far from the limit); None means stop."""
        if self.api_usage is None:
            return 0.0
        used, maximum = self.api_usage
        ratio = used / maximum
        p = self.usage_policy
        if ratio >= p.stop_ratio:
            return None
        if ratio >= p.slow_ratio:
            span = max(p.stop_ratio - p.slow_ratio, 1e-9)
            return p.slow_delay * (ratio - p.slow_ratio) / span
        return 0.0


_ACCOUNTS: dict[tuple[str, str], VendorAccount] = {}


def shared_vendor_account(system: str, account_id: str, **options: Any) -> VendorAccount:
    """The shared `VendorAccount` for (system, account id); options apply only when it is first created."""
    key = (system, account_id)
    acct = _ACCOUNTS.get(key)
    if acct is None:
        acct = _ACCOUNTS[key] = VendorAccount(system, account_id, **options)
    return acct


def forget_vendor_accounts() -> None:
    """Drop every shared account (tests; a process that reconfigures limits)."""
    _ACCOUNTS.clear()


# ---- call log --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallRecord:
    """One attempt of one vendor call, as the audit log records it."""

    system: str
    operation: str
    method: str
    url: str
    status: int | None  # None: no response (timeout, reset, breaker open, usage guard)
    attempt: int
    duration: float  # seconds, wall clock of the attempt
    correlation_id: str
    idempotency_key: str | None
    error_class: str | None = None
    error_code: str | None = None
    retry_in: float | None = None  # the sleep before the next attempt, when there is one


CallLog = Callable[[CallRecord], Any]
"""Sync or async callable; an exception it raises propagates (an audit log that cannot write stops the call)."""


# ---- authentication --------------------------------------------------------------------------------------------------
class Authenticator:
    """How a vendor client authenticates each attempt. ``refresh`` is called once after a re-authenticable 401."""

    can_refresh: bool = False

    async def ensure(self, client: VendorClient) -> None:
        """Obtain credentials if there are none yet (called before the request URL is built)."""

    async def apply(self, request: httpx.Request, client: VendorClient) -> httpx.Request:
        return request

    async def refresh(self, client: VendorClient) -> None:  # pragma: no cover - overridden
        return None


class NoAuth(Authenticator):
    pass


class BearerToken(Authenticator):
    """A static bearer token, or one obtained from ``provider`` (called again on refresh)."""

    def __init__(self, token: str | None = None, *, provider: Callable[[], Awaitable[str] | str] | None = None) -> None:
        if token is None and provider is None:
            raise ValueError("a token or a provider is required")
        self.token = token
        self.provider = provider
        self.can_refresh = provider is not None

    async def _fetch(self) -> str:
        assert self.provider is not None
        value = self.provider()
        if inspect.isawaitable(value):
            value = await value
        return str(value)

    async def apply(self, request: httpx.Request, client: VendorClient) -> httpx.Request:
        if self.token is None:
            self.token = await self._fetch()
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request

    async def refresh(self, client: VendorClient) -> None:
        if self.provider is not None:
            self.token = await self._fetch()


# ---- the base client -------------------------------------------------------------------------------------------------
class VendorClient:
    """Base of the Salesforce, NetSuite and PSA clients. Use as ``async with``; or call `aclose`."""

    system: ClassVar[str] = "vendor"
    default_concurrency: ClassVar[int] = 5

    def __init__(
        self,
        base_url: str,
        *,
        auth: Authenticator | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: str | bool = True,
        timeout: float | httpx.Timeout = 30.0,
        retry: RetryPolicy | None = None,
        vendor_account: VendorAccount | None = None,
        account_id: str | None = None,
        concurrency: int | None = None,
        call_log: CallLog | None = None,
        sleep: Sleep | None = None,
        clock: Clock = time.perf_counter,
        headers: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth or NoAuth()
        self.retry = retry or RetryPolicy()
        self._rng = random.Random(self.retry.seed)  # one generator per client: its delays replay with the seed
        if vendor_account is None:
            options: dict[str, Any] = {"concurrency": concurrency or self.default_concurrency}
            vendor_account = shared_vendor_account(self.system, account_id or self.base_url, **options)
        self.account = vendor_account
        self.call_log = call_log
        self.sleep: Sleep = sleep or asyncio.sleep
        self._clock = clock
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(
            transport=transport, verify=verify, timeout=timeout, headers=dict(headers or {}), follow_redirects=False,
        )

    async def __aenter__(self) -> VendorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    # ---- what a vendor supplies ----------------------------------------------------------------------------------
    def classify(self, response: httpx.Response) -> IntegrationError:
        """Map a non-success response onto the taxonomy (vendors override; this is the status-only fallback)."""
        return error_for_status(self.system, response.status_code,
                                f"{self.system}: HTTP {response.status_code} {response.text[:300]}",
                                retry_after=parse_retry_after(response.headers.get("Retry-After")))

    def observe(self, response: httpx.Response) -> None:
        """Learn from response headers (usage limits). Called for every response."""

    def is_success(self, response: httpx.Response) -> bool:
        return 200 <= response.status_code < 300

    # ---- urls ----------------------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    # ---- the call ------------------------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        correlation_id: str | None = None,
        idempotency_key: str | None = None,
        idempotent: bool | None = None,
        authenticate: bool = True,
    ) -> httpx.Response:
        """Send one logical call (with its retries) and return the successful response, or raise the taxonomy error.

        ``operation`` names the endpoint for the breaker and the call log (``"sobject.create"``). ``idempotent``
        defaults from the method (GET/PUT/DELETE yes, POST/PATCH no); pass True for reads sent as POST and for
        writes made idempotent by a key.
        """
        method = method.upper()
        cid = correlation_id or correlation.current() or correlation.new_correlation_id()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        breaker = self.account.breaker(f"{method} {operation}")
        attempt = Attempt(self, operation, method, path, cid, idempotency_key, breaker)

        async def log_retry(state: Any) -> None:
            await attempt.log(retry_in=state.upcoming_sleep)

        retrying = self.retry.retrying(lambda exc, n: self._retryable(exc, idempotent), sleep=self.sleep,
                                       rng=self._rng, asynchronous=True, before_sleep=log_retry)
        try:
            async for trial in retrying:
                with trial:
                    response = await attempt.send(params=params, json=json, content=content, data=data,
                                                  headers=headers, authenticate=authenticate)
        except IntegrationError as err:
            await attempt.log(retry_in=None)
            if self._retryable(err, idempotent):
                mark_spent(err)
            raise
        return response

    async def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request`, then the body as JSON (ContractError when it is not JSON; None for an empty body)."""
        response = await self.request(method, path, **kwargs)
        if not response.content:
            return None
        return json_or_contract_error(self.system, response)

    # ---- internals -----------------------------------------------------------------------------------------------
    def _retryable(self, err: BaseException, idempotent: bool) -> bool:
        """What a call retries: transient errors (not an open circuit), a non-idempotent write only when the vendor
        certainly did not apply it. How long and how often is the policy's (q2c_harness/retry.py)."""
        if not isinstance(err, TransientError) or isinstance(err, CircuitOpenError):
            return False
        return idempotent or was_not_applied(err)

    async def _usage_gate(self) -> None:
        delay = self.account.usage_delay()
        if delay is None:
            used, maximum = self.account.api_usage or (0, 0)
            raise mark_not_applied(TransientError(
                f"{self.system}: API usage {used}/{maximum} is at the stop threshold; not calling",
                system=self.system, code="API_USAGE_GUARD", retry_after=self.account.usage_policy.stop_retry_after,
                details={"used": used, "max": maximum},
            ))
        if delay > 0:
            await self.sleep(delay)

    def _transport_error(self, exc: BaseException, method: str, url: str) -> TransientError:
        if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError)):
            code = "TIMEOUT"
        elif isinstance(exc, httpx.RemoteProtocolError):
            code = "REMOTE_PROTOCOL_ERROR"
        else:
            code = "CONNECTION_ERROR"
        err = TransientError(f"{self.system}: {method} {url}: {type(exc).__name__}: {exc}", system=self.system,
                             code=code, details={"exception": type(exc).__name__})
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, ConnectionRefusedError)):
            mark_not_applied(err)  # the request never reached the vendor
        return err

    async def _log(self, operation: str, method: str, url: str, status: int | None, attempt: int, duration: float,
             cid: str, idempotency_key: str | None, err: IntegrationError | None, retry_in: float | None) -> None:
        if self.call_log is None:
            return
        outcome = self.call_log(CallRecord(
            system=self.system, operation=operation, method=method, url=url, status=status, attempt=attempt,
            duration=duration, correlation_id=cid, idempotency_key=idempotency_key,
            error_class=err.error_class if err is not None else None, error_code=err.code if err is not None else None,
            retry_in=retry_in,
        ))
        if inspect.isawaitable(outcome):
            await outcome


class Attempt:
    """The attempts of one logical call: each `send` is one attempt (two when a 401 is cured by re-authenticating);
    `log` writes the last attempt's call record once the retry policy has decided what follows it."""

    def __init__(self, client: VendorClient, operation: str, method: str, path: str, cid: str,
                 idempotency_key: str | None, breaker: CircuitBreaker) -> None:
        self.client, self.operation, self.method, self.path = client, operation, method, path
        self.cid, self.idempotency_key, self.breaker = cid, idempotency_key, breaker
        self.number = 0
        self.reauthenticated = False
        self._last: tuple[str, int | None, float, IntegrationError | None] | None = None

    async def send(self, *, params: Any, json: Any, content: Any, data: Any, headers: Mapping[str, str] | None,
                   authenticate: bool) -> httpx.Response:
        c = self.client
        while True:
            self.number += 1
            url = c.url(self.path)
            started = c._clock()
            try:
                self.breaker.before_call(c.system)
                await c._usage_gate()
            except IntegrationError as gate:
                self._last = (url, None, 0.0, gate)
                raise
            if authenticate:
                await c.auth.ensure(c)
            url = c.url(self.path)  # after ensure: a token response may name the instance URL
            body = content
            send_headers = dict(headers or {})
            if json is not None:
                body = dumps_json(json)
                send_headers.setdefault("Content-Type", "application/json")
            request = c.http.build_request(self.method, url, params=params, content=body, data=data,
                                           headers=send_headers)
            request.headers[correlation.HEADER] = self.cid
            if authenticate:
                request = await c.auth.apply(request, c)
            response: httpx.Response | None = None
            err: IntegrationError | None = None
            try:
                async with c.account.slot():
                    response = await c.http.send(request)
                    await response.aread()
            except (httpx.TransportError, ConnectionError, asyncio.TimeoutError) as exc:
                err = c._transport_error(exc, self.method, url)
            duration = c._clock() - started
            if response is not None:
                c.observe(response)
                if not c.is_success(response):
                    err = c.classify(response)
            status = response.status_code if response is not None else None
            self._last = (url, status, duration, err)
            if err is None:
                self.breaker.record_success()
                await self.log(retry_in=None)
                assert response is not None
                return response
            if isinstance(err, TransientError) and getattr(err, "status", None) != 429:
                self.breaker.record_transient_failure()
            elif isinstance(err, AuthError):
                self.breaker.release_probe()
            else:  # the endpoint answered sensibly: a business refusal or a throttle (429) is not an outage
                self.breaker.record_success()
            if (isinstance(err, AuthError) and reauthenticate_on(err) and not self.reauthenticated
                    and c.auth.can_refresh):  # re-authenticate once, then send again at once
                self.reauthenticated = True
                await self.log(retry_in=0.0)
                await c.auth.refresh(c)
                continue
            raise err

    async def log(self, *, retry_in: float | None) -> None:
        if self._last is None:
            return
        url, status, duration, err = self._last
        self._last = None  # each attempt is logged once
        await self.client._log(self.operation, self.method, url, status, self.number, duration, self.cid,
                               self.idempotency_key, err, retry_in)


@dataclass
class CallRecorder:
    """A call log that keeps every record (tests, the scenario harness)."""

    records: list[CallRecord] = field(default_factory=list)

    def __call__(self, record: CallRecord) -> None:
        self.records.append(record)
