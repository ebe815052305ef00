"""Running probes: `record` sends the catalogue to a target and writes normalised snapshots; `verify` replays the
probes behind a set of snapshots and compares each answer with its snapshot."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from q2c_harness.contracts.states import NetSuiteStates, PsaStates, SalesforceStates, StateFn

from .catalogue import Catalogue, Probe
from .compare import Difference, compare_response
from .normalise import Normaliser
from .snapshots import KnownGap, Snapshot, write_snapshot
from .targets import Target

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_STATES = {"salesforce": SalesforceStates, "netsuite": NetSuiteStates, "psa": PsaStates}


class ProbeError(RuntimeError):
    """A probe could not be sent: its provider state or a setup request failed."""


def fill(value: Any, values: dict[str, Any]) -> Any:
    """`${name}` replaced from `values`; a string that is only `${name}` takes the value's own type."""
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]

        def one(m: re.Match[str]) -> str:
            if m.group(1) not in values:
                raise ProbeError(f"no value for ${{{m.group(1)}}}")
            return str(values[m.group(1)])
        return _VAR.sub(one, value)
    if isinstance(value, dict):
        return {fill(k, values): fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value


def dig(doc: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def body_of(r: httpx.Response) -> Any:
    if not r.content:
        return ""
    try:
        return json.loads(r.content)
    except ValueError:
        return r.text


class ProbeRunner:
    """Sends probes to one target, keeping the values setups and provider states produced."""

    def __init__(self, catalogue: Catalogue, target: Target) -> None:
        self.catalogue, self.target = catalogue, target
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        # ${hour_ago} and ${hour_ahead} bound windows a vendor serves only near the present (Get Updated: 30 days back).
        self.values: dict[str, Any] = {"tenant": target.tenant, "run": uuid.uuid4().hex[:6],
                                       "hour_ago": (now - dt.timedelta(hours=1)).isoformat(),
                                       "hour_ahead": (now + dt.timedelta(hours=1)).isoformat()}
        self.api = target.client()
        self.anon = target.client(auth=False)
        self._state_http = target.client(prefix=catalogue.api_prefix)
        states = _STATES.get(catalogue.provider)  # providers without contract states use setups only
        self.states: dict[str, StateFn] = states(self._state_http).handlers() if states else {}
        self.normaliser = Normaliser(catalogue.provider, extra_hosts=(target.base_url,))

    def close(self) -> None:
        for c in (self.api, self.anon, self._state_http):
            c.close()

    def __enter__(self) -> "ProbeRunner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _send(self, spec: dict[str, Any], *, admin: bool = False, patient: bool = False) -> httpx.Response:
        """`patient`: a 429 with a short Retry-After is waited out, as a client honouring the vendor's limit does
        (a run of probes in process can outpace Stripe's 25 requests a second); probes about limits are not patient."""
        for _ in range(3 if patient else 0):
            r = self._send_once(spec, admin=admin)
            wait = r.headers.get("retry-after", "")
            if r.status_code != 429 or not re.fullmatch(r"\d+(\.\d+)?", wait) or float(wait) > 5:
                return r
            time.sleep(max(float(wait), 0.05))
        return self._send_once(spec, admin=admin)

    def _send_once(self, spec: dict[str, Any], *, admin: bool = False) -> httpx.Response:
        req = fill(spec, self.values)
        auth = "none" if admin else req.get("auth", "default")
        headers = {str(k): str(v) for k, v in (req.get("headers") or {}).items()}
        if auth == "invalid":
            headers["Authorization"] = f"Bearer {self.catalogue.invalid_token}"
        client = self.api if auth == "default" else self.anon
        kwargs: dict[str, Any] = {}
        if "json" in req:
            kwargs["json"] = req["json"]
        elif "form" in req:
            kwargs["data"] = req["form"]
        elif "content" in req:
            kwargs["content"] = str(req["content"]).encode()
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (req.get("query") or {}).items()}
        try:
            return client.request(req["method"], req["path"], params=query or None, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ProbeError(f"{req['method']} {req['path']}: {type(exc).__name__}: {exc}") from None

    def prepare(self, probe: Probe) -> None:
        if probe.needs_simulator:
            if not self.target.admin:
                raise ProbeError("needs a simulator's admin API (sim-only setup)")
            for step in probe.simulator.get("setup", []):
                r = self._send(step, admin=True)
                if r.status_code >= 400:
                    raise ProbeError(f"simulator setup {step['method']} {step['path']}: {r.status_code} {r.text[:300]}")
        if probe.state:
            handler = self.states.get(probe.state)
            if handler is None:
                raise ProbeError(f"no provider state {probe.state!r}")
            try:
                self.values.update(handler({}) or {})
            except Exception as exc:  # the vendor's answer to the state's setup call
                raise ProbeError(f"provider state {probe.state!r}: {exc}") from None
        for step in probe.setup:
            r = self._send(step["request"], patient=True)
            if r.status_code >= 400 and not step.get("allow_error"):
                raise ProbeError(f"setup {step['request']['method']} {step['request']['path']}: "
                                 f"{r.status_code} {r.text[:300]}")
            for name, where in (step.get("save") or {}).items():
                try:
                    self.values[name] = dig(body_of(r) if where != "header.location" else
                                            {"header": {"location": r.headers.get("location", "")}}, where)
                except (KeyError, IndexError, TypeError):
                    raise ProbeError(f"setup answer has no {where}: {r.text[:300]}") from None

    def run(self, probe: Probe) -> dict[str, Any]:
        """The probe's normalised answer `{status, headers, body}`."""
        try:
            self.prepare(probe)
            r = self._send(probe.request, patient=not probe.needs_simulator)
        finally:
            for step in probe.simulator.get("teardown", []) if self.target.admin else []:
                self._send(step, admin=True)
        return {"status": r.status_code, "headers": self.normaliser.headers(dict(r.headers)),
                "body": self.normaliser.body(body_of(r))}


# ---- verify --------------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    snapshot: str
    probe: str
    result: str                     # pass | known-gap | fail | skipped | error
    differences: list[Difference] = field(default_factory=list)     # not covered by a known gap
    gapped: list[tuple[Difference, KnownGap]] = field(default_factory=list)
    stale_gaps: list[KnownGap] = field(default_factory=list)
    message: str = ""
    source: dict[str, Any] = field(default_factory=dict)


@dataclass
class VerifyReport:
    provider: str
    target: str
    snapshots: str
    outcomes: list[Outcome]

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def checked(self) -> int:
        return sum(1 for o in self.outcomes if o.result in ("pass", "known-gap", "fail"))

    @property
    def ok(self) -> bool:  # nothing checked proves nothing
        return self.checked > 0 and not any(o.result in ("fail", "error") for o in self.outcomes)


def judge(snap: Snapshot, actual: dict[str, Any], catalogue: Catalogue, normaliser: Normaliser) -> Outcome:
    expected = {"status": snap.response.get("status"),
                "headers": normaliser.headers(snap.response.get("headers") or {})}
    if "body" in snap.response:
        expected["body"] = normaliser.body(snap.response["body"])
    diffs = compare_response(expected, actual, exact_keys=catalogue.exact_keys, partial=snap.partial)
    open_, gapped = [], []
    for d in diffs:
        gap = next((g for g in snap.known_gaps if g.covers(d)), None)
        (gapped.append((d, gap)) if gap else open_.append(d))
    used = {id(g) for _, g in gapped}
    stale = [g for g in snap.known_gaps if id(g) not in used]
    result = "fail" if open_ or stale else ("known-gap" if gapped else "pass")
    msg = "; ".join(f"known gap {g.path} no longer differs: remove its mark" for g in stale)
    return Outcome(snap.name, snap.probe, result, open_, gapped, stale, msg, snap.source)


def verify_snapshots(catalogue: Catalogue, target: Target, snapshots: list[Snapshot],
                     snapshots_label: str = "") -> VerifyReport:
    by_probe: dict[str, list[Snapshot]] = {}
    outcomes: list[Outcome] = []
    for s in snapshots:
        if s.probe not in catalogue.probes:
            outcomes.append(Outcome(s.name, s.probe, "error", message=f"no probe {s.probe!r} in the catalogue",
                                    source=s.source))
        else:
            by_probe.setdefault(s.probe, []).append(s)
    with ProbeRunner(catalogue, target) as runner:
        for probe_id, probe in catalogue.probes.items():  # catalogue order: provider states build on each other
            snaps = by_probe.get(probe_id)
            if not snaps:
                continue
            if probe.needs_simulator and not target.admin:
                outcomes.extend(Outcome(s.name, probe_id, "skipped", message="needs a simulator's admin API",
                                        source=s.source) for s in snaps)
                continue
            try:
                actual = runner.run(probe)
            except ProbeError as exc:
                outcomes.extend(Outcome(s.name, probe_id, "error", message=str(exc), source=s.source) for s in snaps)
                continue
            outcomes.extend(judge(s, actual, catalogue, runner.normaliser) for s in snaps)
    outcomes.sort(key=lambda o: o.snapshot)
    return VerifyReport(catalogue.provider, target.label, snapshots_label, outcomes)


# ---- record --------------------------------------------------------------------------------------------------------
@dataclass
class RecordReport:
    provider: str
    target: str
    written: list[Path]
    skipped: list[tuple[str, str]]
    errors: list[tuple[str, str]]

    @property
    def ok(self) -> bool:
        return bool(self.written) and not self.errors


def record(catalogue: Catalogue, target: Target, out_dir: Path, *, only: list[str] | None = None) -> RecordReport:
    written: list[Path] = []
    skipped: list[tuple[str, str]] = []
    errors: list[tuple[str, str]] = []
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    with ProbeRunner(catalogue, target) as runner:
        for probe in catalogue.probes.values():
            if only and probe.id not in only:
                continue
            if not probe.record or probe.needs_simulator:
                skipped.append((probe.id, "not sent to a sandbox (record: false)"))
                continue
            try:
                answer = runner.run(probe)
            except ProbeError as exc:
                errors.append((probe.id, str(exc)))
                continue
            snap = Snapshot(probe.id, probe.id, {"kind": "recorded", "target": target.base_url, "recorded_at": now,
                                                 "title": probe.title}, answer)
            written.append(write_snapshot(out_dir, snap))
    return RecordReport(catalogue.provider, target.label, written, skipped, errors)
