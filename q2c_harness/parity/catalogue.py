"""The probe catalogue of a provider: the requests `record` sends to a sandbox and `verify` replays.

A provider's catalogue is its consumer pact's interactions (q2c_harness/contracts/pacts, turned into probes with
their provider states) plus the probes in `catalogue/<provider>.yaml`: error probes (not found, validation, auth
failure, limits, paging edges) and the requests behind each documented example of the corpus. Probe format:

    - id: sobject-get                       # unique in the provider; snapshots name it
      title: read an Account
      state: "opportunity Acme Rollout is Closed Won"   # optional: a contracts provider state (q2c_harness/contracts/states.py)
      setup:                                # optional: requests run first; `save` keeps values for ${name}
        - request: {method: POST, path: /services/data/v59.0/sobjects/Account/, json: {Name: "Parity ${run}"}}
          save: {accountId: id}             # a dotted path into the JSON answer (records.0.Id)
      request: {method: GET, path: "/services/data/v59.0/sobjects/Account/${accountId}",
                query: {}, headers: {}, json: ..., form: ..., content: "...", auth: default | none | invalid}
      record: false                         # never sent to a sandbox (e.g. exhausting a real limit)
      simulator:                            # admin calls made only when the target is a simulator
        setup: [{method: PUT, path: /__admin/quotas, json: {...}}]
        teardown: [{method: POST, path: /__admin/quotas/reset, query: {defaults: "true"}}]

`${tenant}` is the simulator tenant (empty against a sandbox), `${run}` a short id unique to the run, `${hour_ago}`
and `${hour_ahead}` the run's UTC time an hour before and after (ISO 8601).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml


PROVIDERS = ("salesforce", "netsuite", "psa", "payments", "tax")


class CatalogueError(ValueError):
    pass


@dataclass(frozen=True)
class Probe:
    id: str
    title: str
    request: dict[str, Any]
    setup: tuple[dict[str, Any], ...] = ()
    state: str | None = None
    record: bool = True
    simulator: dict[str, Any] = field(default_factory=dict)
    origin: str = "catalogue"

    @property
    def needs_simulator(self) -> bool:
        return bool(self.simulator.get("setup"))


@dataclass(frozen=True)
class Catalogue:
    provider: str
    api_prefix: str                 # where the contracts provider states' client points (/services/data/v59.0)
    exact_keys: frozenset[str]
    invalid_token: str
    probes: dict[str, Probe]

    def probe(self, probe_id: str) -> Probe:
        try:
            return self.probes[probe_id]
        except KeyError:
            raise CatalogueError(f"{self.provider} catalogue has no probe {probe_id!r}") from None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _pact_probe(interaction: dict[str, Any]) -> Probe:
    """A pact interaction as a probe: its request with the provider-state generators turned into ${name}."""
    req = interaction["request"]
    gens = req.get("generators") or {}
    path = (gens.get("path") or {}).get("expression") or req["path"]
    query = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in (req.get("query") or {}).items()}
    for name, gen in (gens.get("query") or {}).items():
        query[name] = gen["expression"]
    headers = {k: v[0] if isinstance(v, list) else v for k, v in (req.get("headers") or {}).items()
               if k.lower() != "authorization"}
    for name, gen in (gens.get("header") or {}).items():
        headers[name] = gen["expression"]
    out: dict[str, Any] = {"method": req["method"], "path": path, "query": query, "headers": headers}
    body = req.get("body") or {}
    if "content" in body:
        content = json.loads(json.dumps(body["content"]))
        for pointer, gen in (gens.get("body") or {}).items():
            _set_path(content, pointer, gen["expression"])
        if isinstance(content, str):
            out["content"] = content
        else:
            out["json"] = content
    states = [s["name"] for s in interaction.get("providerStates") or []]
    return Probe(id="pact-" + slug(interaction["description"]), title=interaction["description"], request=out,
                 state=states[0] if states else None, origin="pact")


def _set_path(doc: Any, pointer: str, value: Any) -> None:
    parts = [p for p in re.split(r"\.|\[(\d+)\]", pointer.removeprefix("$")) if p]
    for p in parts[:-1]:
        doc = doc[int(p)] if p.isdigit() else doc[p]
    last = parts[-1]
    doc[int(last) if last.isdigit() else last] = value


def _probe(raw: dict[str, Any]) -> Probe:
    if not isinstance(raw, dict) or "id" not in raw or "request" not in raw:
        raise CatalogueError(f"a probe needs an id and a request: {raw!r}")
    return Probe(id=raw["id"], title=raw.get("title", raw["id"]), request=raw["request"],
                 setup=tuple(raw.get("setup") or ()), state=raw.get("state"), record=raw.get("record", True),
                 simulator=raw.get("simulator") or {})


def load_catalogue(provider: str) -> Catalogue:
    if provider not in PROVIDERS:
        raise CatalogueError(f"unknown provider {provider!r} (one of {', '.join(PROVIDERS)})")
    text = resources.files("q2c_harness.parity").joinpath("catalogue", f"{provider}.yaml").read_text()
    doc = yaml.safe_load(text) or {}
    probes: dict[str, Probe] = {}
    # the shipped pact file, read as data (q2c_harness.contracts.common needs pact-python, the contracts extra);
    # a provider the core has no pact with yet (payments, tax) has only the YAML probes
    pact_file = resources.files("q2c_harness.contracts").joinpath("pacts", f"q2c-core-{provider}.json")
    pact = json.loads(pact_file.read_text()) if pact_file.is_file() else {}
    overrides = doc.get("pact_overrides") or {}
    for interaction in pact.get("interactions", []):
        p = _pact_probe(interaction)
        if p.id in overrides:
            p = Probe(**{**p.__dict__, **overrides[p.id]})
        probes[p.id] = p
    for raw in doc.get("probes") or []:
        p = _probe(raw)
        if p.id in probes:
            raise CatalogueError(f"{provider}: probe id {p.id!r} appears twice")
        probes[p.id] = p
    return Catalogue(provider, doc["api_prefix"], frozenset(doc.get("exact_keys") or ()), doc["invalid_token"],
                     probes)
