"""What a simulator benchmark measures, and the equivalent static stub a peer (WireMock, Prism, Mockoon) serves.

Each simulator provides `benchmarks/<name>_cases.py` with `prepare(base_url, ca_bundle) -> list[BenchCase]`: it seeds
data through the simulator's public or admin API and returns the requests to hammer. The runner replays each case
against the simulator and against the peers serving `stub` in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StubResponse:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass(frozen=True)
class BenchCase:
    name: str  # e.g. "salesforce GET sobject by id"
    method: str
    path: str  # path and query, relative to the simulator's base URL
    headers: dict[str, str]
    stub: StubResponse  # what a peer serves for the same request
    body: bytes | None = None
