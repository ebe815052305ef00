"""Salesforce change intake any org can feed: polling documented REST resources, no streaming client needed.

Each poll of an sObject type asks `sObject Get Updated`_ for the ids changed in a span (by SystemModstamp), then
reads those records' fields with SOQL. The span starts at the high-water mark minus an overlap window and ends now;
the new high-water mark is the answer's ``latestDateCovered`` (Salesforce's own safe start of the next span: it
stays behind a long-running transaction until that commits). The overlap re-reads the last minutes so a change
committed late at a window edge is still seen; what is seen twice has the same (id, SystemModstamp) and the same
business key, and the core's inbox keeps one. Get Updated looks back 30 days at most: a high-water mark older than
that is caught up by SOQL on ``SystemModstamp`` alone.

Why not the Pub/Sub API (gRPC)? No client maintained by Salesforce is on PyPI, and the third-party ones found there
(pysfpubsub 0.1.2, aiosfpubsub 0.0.6, both last released 2024-06 by one author; sfprotostash 0.1.3, generated stubs
only) each vendor their own copy of ``pubsub_api.proto`` (docs/operations.md, "Salesforce intake").

.. _sObject Get Updated: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .salesforce import SalesforceClient

REPLICATION_LOOKBACK = timedelta(days=30)  # Get Updated: "no more than 30 days previous to the day the call is executed"
LOOKBACK_MARGIN = timedelta(hours=1)  # keep clear of the limit when clocks differ
IDS_PER_QUERY = 300  # 18-character ids in one SOQL IN list, well under the 100,000-character query limit


# ---- the window logic (pure) ----------------------------------------------------------------------------------------
def minute_floor(t: datetime) -> datetime:
    """Replication ignores seconds (12:30:15 is 12:30:00 UTC)."""
    return t.astimezone(timezone.utc).replace(second=0, microsecond=0)


def iso_param(t: datetime) -> str:
    """Get Updated's parameter form, ``YYYY-MM-DDThh:mm:ss+hh:mm`` (UTC)."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def soql_datetime(t: datetime) -> str:
    """A SOQL datetime literal (``2026-03-02T12:30:00Z``)."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_sf_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class PollWindow:
    start: datetime  # minute-aligned, included
    end: datetime
    use_get_updated: bool  # False: the start is older than Get Updated looks back; SOQL on SystemModstamp instead


def next_window(high_water: datetime | None, now: datetime, *, overlap: timedelta,
                first_start: datetime | None = None) -> PollWindow | None:
    """The span to ask for: from the high-water mark (else ``first_start``, else now) minus the overlap, to now.
    None when it would be empty (less than a minute: Get Updated needs its start strictly before its end)."""
    base = high_water or first_start or now
    start = minute_floor(base - overlap)
    if start >= minute_floor(now):
        return None
    return PollWindow(start, now, use_get_updated=start >= now - REPLICATION_LOOKBACK + LOOKBACK_MARGIN)


def advance(high_water: datetime | None, covered: datetime) -> datetime:
    """The next high-water mark: ``latestDateCovered``, never backwards."""
    return covered if high_water is None or covered > high_water else high_water


# ---- the poller --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordChange:
    """One observed version of a record: the same (sobject, id, modstamp) seen twice is the same change."""

    sobject: str
    id: str
    modstamp: str
    record: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.sobject}:{self.id}:{self.modstamp}"


@dataclass
class PollResult:
    changes: list[RecordChange]
    high_water: datetime | None  # store it; pass it to the next poll
    window: PollWindow | None


class SalesforcePoller:
    """Polls each sObject type for changed records. Holds no state between polls but what it is given: the caller
    keeps each type's high-water mark (the core stores it with its cursors)."""

    def __init__(self, client: SalesforceClient, fields: Mapping[str, Iterable[str]], *, overlap_seconds: int = 300,
                 first_start: datetime | None = None, now: Callable[[], datetime] | None = None) -> None:
        self.client = client
        self.fields = {obj: list(dict.fromkeys(["Id", "SystemModstamp", *cols])) for obj, cols in fields.items()}
        self.overlap = timedelta(seconds=overlap_seconds)
        self.first_start = first_start
        self.now = now or (lambda: datetime.now(timezone.utc))

    async def poll(self, sobject: str, high_water: datetime | None) -> PollResult:
        now = self.now()
        window = next_window(high_water, now, overlap=self.overlap, first_start=self.first_start)
        if window is None:
            return PollResult([], high_water, None)
        cols = ", ".join(self.fields[sobject])
        if window.use_get_updated:
            answer = await self.client.updated(sobject, iso_param(window.start), iso_param(window.end))
            covered = parse_sf_datetime(answer.latest_date_covered)
            records: list[dict[str, Any]] = []
            for i in range(0, len(answer.ids), IDS_PER_QUERY):
                chunk = ", ".join(f"'{rid}'" for rid in answer.ids[i:i + IDS_PER_QUERY])
                records += await self.client.query_all(f"SELECT {cols} FROM {sobject} WHERE Id IN ({chunk})")
        else:  # catching up after a long stop: SOQL alone, up to the current minute
            covered = minute_floor(window.end)
            records = await self.client.query_all(
                f"SELECT {cols} FROM {sobject} WHERE SystemModstamp >= {soql_datetime(window.start)} "
                f"AND SystemModstamp <= {soql_datetime(covered)} ORDER BY SystemModstamp, Id")
        changes = [RecordChange(sobject, str(r["Id"]), str(r["SystemModstamp"]),
                                {k: v for k, v in r.items() if k != "attributes"}) for r in records]
        changes.sort(key=lambda c: (c.modstamp, c.id))
        return PollResult(changes, advance(high_water, covered), window)
