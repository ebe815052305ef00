"""Snapshots: the answer a probe is expected to get, one JSON file each.

    {"probe": "sobject-create",                   # the catalogue probe whose answer this is
     "source": {"kind": "documented", "url": "https://developer.salesforce.com/...", "section": "..."}
              | {"kind": "recorded", "target": "https://acme--uat.sandbox.my.salesforce.com", "recorded_at": "..."},
     "partial": true,                              # an excerpt (documentation): keys/headers it omits are no difference
     "response": {"status": 201, "headers": {"content-type": "application/json"}, "body": {...}},
     "known_gaps": [{"path": "body.foo", "kind": "missing-key", "reason": "...", "doc": "docs/salesforce.md#known-gaps"}]}

The shipped corpus (`corpus/<provider>/`, the vendors' documented examples) keeps bodies as the documentation
prints them; a recorded snapshot holds the normalised answer. Both are normalised again when compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .compare import Difference


@dataclass(frozen=True)
class KnownGap:
    path: str
    reason: str
    kind: str | None = None
    doc: str | None = None

    def covers(self, d: Difference) -> bool:
        if self.kind is not None and self.kind != d.kind:
            return False
        return d.path == self.path or d.path.startswith((self.path + ".", self.path + "["))


@dataclass(frozen=True)
class Snapshot:
    name: str
    probe: str
    source: dict[str, Any]
    response: dict[str, Any]
    partial: bool = False
    known_gaps: tuple[KnownGap, ...] = ()
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, name: str, doc: dict[str, Any], path: Path | None = None) -> "Snapshot":
        for key in ("probe", "source", "response"):
            if key not in doc:
                raise ValueError(f"snapshot {name}: missing {key!r}")
        gaps = tuple(KnownGap(g["path"], g["reason"], g.get("kind"), g.get("doc")) for g in doc.get("known_gaps", []))
        return cls(name, doc["probe"], doc["source"], doc["response"], bool(doc.get("partial", False)), gaps, path)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"probe": self.probe, "source": self.source, "partial": self.partial,
                               "response": self.response}
        if self.known_gaps:
            doc["known_gaps"] = [{k: v for k, v in g.__dict__.items() if v is not None} for g in self.known_gaps]
        return doc


def corpus_dir(provider: str) -> Path:
    return Path(str(resources.files("q2c_harness.parity").joinpath("corpus", provider)))


def load_snapshots(directory: Path) -> list[Snapshot]:
    out = []
    for p in sorted(Path(directory).glob("*.json")):
        out.append(Snapshot.from_json(p.stem, json.loads(p.read_text()), p))
    return out


def write_snapshot(directory: Path, snap: Snapshot) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{snap.name}.json"
    path.write_text(json.dumps(snap.to_json(), indent=2, sort_keys=False, ensure_ascii=False) + "\n")
    return path
