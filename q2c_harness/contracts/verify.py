"""Provider verification: replay the consumer pacts against a simulator (served in-process on a real socket) or
any base URL (a vendor sandbox), with provider states set up through the vendor's public API.

Credentials for a real base URL come from the environment (see docs/contracts.md):
  Salesforce: Q2C_SF_ACCESS_TOKEN (a session / OAuth access token for the sandbox)
  NetSuite:   Q2C_NS_ACCESS_TOKEN (an OAuth 2.0 M2M access token)
  PSA:        Q2C_PSA_TOKEN (a bearer token)
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pact import Verifier

from .common import CONSUMER, PACT_DIR, pact_path
from .states import NetSuiteStates, StateFn, StateServer, simulator_credentials

Middleware = Callable[[Any], Any]


@dataclass
class Target:
    provider: str
    base_url: str
    headers: dict[str, str]
    states: dict[str, StateFn]
    label: str
    release: str | None = None


@dataclass
class InteractionResult:
    description: str
    ok: bool
    mismatches: list[str] = field(default_factory=list)


@dataclass
class VerificationReport:
    provider: str
    target: str
    interactions: list[InteractionResult]
    output: str
    state_errors: list[str]

    @property
    def checked(self) -> int:
        return len(self.interactions)

    @property
    def failed(self) -> list[InteractionResult]:
        return [i for i in self.interactions if not i.ok]

    @property
    def ok(self) -> bool:
        # zero interactions checked is a failure: a misspelled provider name or an empty pact proves nothing
        return self.checked > 0 and not self.failed

    def render(self) -> str:
        lines = [f"provider {self.provider} at {self.target}: {self.checked} interaction(s) checked, "
                 f"{len(self.failed)} failed" + ("" if self.checked else "  <- ZERO interactions: FAIL")]
        for i in self.interactions:
            lines.append(f"  [{'ok' if i.ok else 'FAIL'}] {i.description}")
            lines.extend(f"        - {m}" for m in i.mismatches)
        lines.extend(f"  state setup error: {e}" for e in self.state_errors)
        return "\n".join(lines)


# ---- targets -----------------------------------------------------------------------------------------------------
def _states_for(provider: str, base_url: str, headers: dict[str, str]) -> tuple[dict[str, StateFn], httpx.Client]:
    if provider == "netsuite":
        http = httpx.Client(base_url=base_url.rstrip("/") + "/services/rest", headers=headers, timeout=30)
        return NetSuiteStates(http).handlers(), http
    if provider == "salesforce":
        from .states import SalesforceStates
        http = httpx.Client(base_url=base_url.rstrip("/") + "/services/data/v59.0", headers=headers, timeout=30)
        return SalesforceStates(http).handlers(), http
    if provider == "psa":
        from .states import PsaStates
        http = httpx.Client(base_url=base_url.rstrip("/") + "/api/v1", headers=headers, timeout=30)
        return PsaStates(http).handlers(), http
    raise ValueError(f"unknown provider {provider!r}")


def _env_headers(provider: str, env: dict[str, str]) -> dict[str, str]:
    var = {"salesforce": "Q2C_SF_ACCESS_TOKEN", "netsuite": "Q2C_NS_ACCESS_TOKEN", "psa": "Q2C_PSA_TOKEN"}[provider]
    token = env.get(var)
    if not token:
        raise SystemExit(f"{var} is not set: verifying {provider} at a base URL needs its credentials")
    return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def simulator_target(provider: str, *, release: str | None = None, seed: int = 7,
                     middleware: Middleware | None = None, tenant: str | None = None) -> Iterator[Target]:
    """The provider's simulator on a real socket (HTTP), a fresh tenant, credentials minted through admin.
    `middleware(asgi_app) -> asgi_app` wraps the served app (used to seed response mutations)."""
    from q2c_simulators.kernel.serving import build_simulators, running_servers

    sims = build_simulators([provider], seed=seed)
    sim = sims[provider]
    if middleware is not None:
        inner = sim.asgi

        class Wrapped:
            def __init__(self) -> None:
                self.asgi = middleware(inner)
                self.seed = sim.seed
        sims = {provider: Wrapped()}  # type: ignore[dict-item]
    tenant = tenant or f"Q2C_CONTRACTS_{uuid.uuid4().hex[:8].upper()}"
    if provider == "salesforce":
        tenant = tenant.lower().replace("_", "-")
    with running_servers(sims, http=True) as endpoints:
        base = endpoints.base_urls[provider]
        with httpx.Client(base_url=base, timeout=30) as admin:
            headers = simulator_credentials(provider, admin, tenant, release)
        states, http = _states_for(provider, base, headers)
        try:
            yield Target(provider, base, headers, states, f"{provider} simulator {base} (tenant {tenant}"
                         + (f", release {release})" if release else ")"), release)
        finally:
            http.close()


@contextlib.contextmanager
def url_target(provider: str, base_url: str, env: dict[str, str] | None = None) -> Iterator[Target]:
    headers = _env_headers(provider, dict(os.environ if env is None else env))
    states, http = _states_for(provider, base_url, headers)
    try:
        yield Target(provider, base_url, headers, states, base_url)
    finally:
        http.close()


# ---- verification ------------------------------------------------------------------------------------------------
def _parse(results: dict[str, Any] | None, output: str) -> list[InteractionResult]:
    out: list[InteractionResult] = []
    for r in (results or {}).get("interactionResults", []) or []:
        desc = r.get("description") or "?"
        states = r.get("providerStates") or []
        if states:
            desc = f"{desc} (given {'; '.join(states)})"
        ok = str(r.get("result", "")).upper() == "OK"
        mismatches = [] if ok else _mismatch_lines(r.get("mismatch") or {})
        if not ok and not mismatches:
            mismatches.append(f"failed: {r.get('result')}")
        out.append(InteractionResult(desc, ok, mismatches))
    return out


def _mismatch_lines(res: dict[str, Any]) -> list[str]:
    lines = []
    for m in res.get("mismatches", []) or []:
        kind = m.get("type", "mismatch")
        where = m.get("path") or m.get("key") or ""
        msg = m.get("mismatch") or m.get("description") or ""
        if not msg and "expected" in m:
            msg = f"expected {m.get('expected')} but was {m.get('actual')}"
        lines.append(f"{kind} {where}: {msg}".replace(" : ", ": ").strip())
    if not lines and res.get("type") == "error":
        lines.append(str(res.get("message") or res))
    if not lines and res.get("message"):
        lines.append(str(res["message"]))
    if not lines and res.get("description"):
        lines.append(str(res["description"]))
    return lines


def verify_target(target: Target, pact_files: list[Path] | None = None,
                  provider_name: str | None = None) -> VerificationReport:
    """Verify the pacts of `target.provider` (or every pact in `pact_files`) against the target.
    `provider_name` overrides the name the verifier filters on (a test uses it to show 0 checked fails)."""
    files = pact_files or [PACT_DIR]  # a directory: the verifier picks the pacts naming this provider
    with StateServer(target.states) as states:
        v = Verifier(provider_name or target.provider, host="127.0.0.1").add_transport(url=target.base_url)
        v.state_handler(states.url, body=True, teardown=False)
        for name, value in target.headers.items():
            v.add_custom_header(name, value)
        v.set_request_timeout(30_000)
        for f in files:
            v.add_source(str(f))
        try:
            v.verify()
        except RuntimeError:
            pass  # the details are in results and output
        output = v.output(strip_ansi=True)
        report = VerificationReport(target.provider, target.label, _parse(v.results, output), output,
                                    list(states.errors))
    return report


def verify_provider(provider: str, *, base_url: str | None = None, release: str | None = None,
                    pact_files: list[Path] | None = None, middleware: Middleware | None = None,
                    provider_name: str | None = None) -> VerificationReport:
    ctx = url_target(provider, base_url) if base_url else simulator_target(provider, release=release,
                                                                            middleware=middleware)
    with ctx as target:
        return verify_target(target, pact_files, provider_name)
