"""Shared names and helpers for the contract suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pact import generate, match


CONSUMER = "q2c-core"
PROVIDERS = ("salesforce", "netsuite", "psa")
EVENTS_PROVIDER = "q2c-core-events"
EVENT_CONSUMERS = ("q2c-ops-dashboard", "q2c-crm-status")
PACT_DIR = Path(__file__).resolve().parent / "pacts"


def from_state(example: str, expression: str, regex: str | None = None) -> Any:
    """A string the provider state supplies (``${name}`` placeholders filled from the state's answer).

    The consumer test (mock server) sees ``example``; the verifier substitutes the value the state-change call
    returned, so the same pact works against any account whose ids differ (a real sandbox)."""
    if regex is None:  # the literal parts must match; each ${...} stands for an id-like segment
        import re
        parts = re.split(r"\$\{[^}]+\}", expression)
        regex = "^" + "[^/?#]+".join(re.escape(p) for p in parts) + "$"
    return match.GenericMatcher("regex", example, generator=generate.provider_state(expression), regex=regex)


def pact_path(consumer: str, provider: str, directory: Path = PACT_DIR) -> Path:
    return Path(directory) / f"{consumer}-{provider}.json"


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """What legitimately varies between two generations of the same pact: tool versions in metadata, and the
    order of interactions (kept sorted by description + states by pact itself, sorted again here)."""
    doc = json.loads(json.dumps(doc))
    meta = doc.get("metadata", {})
    meta.pop("pactRust", None)
    meta.pop("pactPython", None)
    meta.pop("pact-python", None)
    doc["interactions"] = sorted(doc.get("interactions", []),
                                 key=lambda i: (i.get("description", ""), json.dumps(i.get("providerStates", []))))
    return doc


def pact_files(directory: Path = PACT_DIR) -> list[Path]:
    return sorted(Path(directory).glob("*.json"))
