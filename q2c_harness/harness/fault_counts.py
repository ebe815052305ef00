"""Faults the simulators injected during a run, from their own counters (never from their memory):

- HTTP faults (latency, error, reset, dribble, hang) and quota rejections: each simulator's Prometheus metrics
  (`sim_faults_injected_total`, `sim_quota_rejections_total`), which count for the simulator's whole life;
- event-feed faults (duplicate, reorder): each rule's `injected` counter in `GET /__admin/faults`. A rule's counter
  goes when its rules are replaced, so `harvest` reads them first (each time a run loads new fault rules).

Keys are ``kind:rule`` (``duplicate:psa-dup``, ``error:ns-5xx``) and ``quota:name``.
"""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

EVENT_KINDS = ("duplicate", "reorder")
Counts = dict[str, dict[str, int]]  # simulator -> key -> injected


def _add(into: Counts, system: str, key: str, n: int) -> None:
    if n:
        into.setdefault(system, {})
        into[system][key] = into[system].get(key, 0) + n


async def harvest(vendors: Any, into: Counts) -> None:
    """Add the event-feed rules' counters to `into` before the rules are replaced."""
    for system in vendors.clients:
        for rule in await vendors.admin(system).faults():
            if rule.get("kind") in EVENT_KINDS:
                _add(into, system, f"{rule['kind']}:{rule.get('id')}", int(rule.get("injected", 0)))


def _from_metrics(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "sim_faults_injected_total":
                key = f"{sample.labels['kind']}:{sample.labels['rule']}"
            elif sample.name == "sim_quota_rejections_total":
                key = f"quota:{sample.labels['quota']}"
            else:
                continue
            out[key] = out.get(key, 0) + int(sample.value)
    return out


async def injected(vendors: Any, harvested: Counts) -> Counts:
    """Everything injected so far: metrics, the harvested event-rule counters and those of the rules still loaded."""
    counts: Counts = {system: {} for system in vendors.clients}
    for system, keys in harvested.items():
        for key, n in keys.items():
            _add(counts, system, key, n)
    await harvest(vendors, counts)
    for system in vendors.clients:
        raw = await vendors.admin(system).metrics()
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        for key, n in _from_metrics(text).items():
            _add(counts, system, key, n)
    return {system: dict(sorted(keys.items())) for system, keys in counts.items()}
