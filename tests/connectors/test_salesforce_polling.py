"""The polling intake's window logic: a span from the high-water mark minus the overlap to now, the next mark from
``latestDateCovered``; against a model of Get Updated as Salesforce documents it (seconds ignored, bounds included,
latestDateCovered held at the start of a transaction still open), every change committed is seen."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from q2c_harness.connectors.salesforce import UpdatedRecords
from q2c_harness.connectors.salesforce_polling import (
    SalesforcePoller,
    advance,
    minute_floor,
    next_window,
    parse_sf_datetime,
)

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
OVERLAP = timedelta(minutes=5)


def test_window_starts_an_overlap_before_the_mark_and_ends_now():
    now = T0 + timedelta(minutes=30, seconds=41)
    w = next_window(T0 + timedelta(minutes=20), now, overlap=OVERLAP)
    assert (w.start, w.end, w.use_get_updated) == (T0 + timedelta(minutes=15), now, True)
    first = next_window(None, now, overlap=OVERLAP)  # no mark yet: the last overlap's worth
    assert first.start == T0 + timedelta(minutes=25)
    assert next_window(None, now, overlap=OVERLAP, first_start=T0).start == T0 - OVERLAP
    # a mark older than Get Updated looks back (30 days): SOQL on SystemModstamp catches up
    assert next_window(T0 - timedelta(days=31), now, overlap=OVERLAP).use_get_updated is False
    assert next_window(now, now, overlap=timedelta(seconds=30)) is None  # the same minute: nothing to ask yet


def test_the_mark_never_goes_backwards():
    assert advance(None, T0) == T0
    assert advance(T0, T0 - timedelta(minutes=3)) == T0  # an open long transaction holds latestDateCovered back
    assert advance(T0, T0 + timedelta(minutes=1)) == T0 + timedelta(minutes=1)


class ModelOrg:
    """Records change at a SystemModstamp and become visible at their commit (>= the stamp). While a change is
    uncommitted, latestDateCovered is held at its start, as the SOAP API's GetUpdatedResult says."""

    def __init__(self, changes: list[tuple[str, datetime, datetime]]) -> None:
        self.changes = changes  # (id, stamp, commit)
        self.now = T0

    def _visible(self) -> dict[str, datetime]:
        latest: dict[str, datetime] = {}
        for rid, stamp, commit in sorted(self.changes, key=lambda c: c[1]):
            if commit <= self.now:
                latest[rid] = stamp
        return latest

    async def updated(self, sobject: str, start: str, end: str) -> UpdatedRecords:
        s, e = minute_floor(parse_sf_datetime(start)), minute_floor(parse_sf_datetime(end))
        assert s < e
        ids = [rid for rid, stamp in self._visible().items() if s <= stamp <= e]
        open_starts = [stamp for _, stamp, commit in self.changes if stamp <= self.now < commit]
        covered = min([e, max(s, minute_floor(self.now)), *(minute_floor(t) for t in open_starts)])
        return UpdatedRecords(ids=ids, latest_date_covered=covered.strftime("%Y-%m-%dT%H:%M:%S.000+0000"))

    async def query_all(self, soql: str) -> list[dict]:
        wanted = soql.split("IN (", 1)[1].rstrip(")").replace("'", "").split(", ")
        visible = self._visible()
        return [{"Id": rid, "SystemModstamp": visible[rid].isoformat()} for rid in wanted if rid in visible]


changes_strategy = st.lists(st.tuples(
    st.integers(0, 40),                   # which record
    st.integers(0, 3 * 3600 * 1000),      # stamp, ms after T0
    st.integers(0, 4 * 60 * 1000),        # commit lag: up to 4 minutes (within the overlap)
    st.booleans()), min_size=1, max_size=120)   # a long transaction: held open for up to 40 minutes more


@settings(max_examples=150, deadline=None)
@given(changes=changes_strategy, poll_every=st.integers(20, 900), jitter=st.integers(0, 59))
async def test_every_committed_change_is_seen_by_some_poll(changes, poll_every, jitter):
    model = ModelOrg([(f"006{rid:015d}", T0 + timedelta(milliseconds=ms),
                       T0 + timedelta(milliseconds=ms + lag) + (timedelta(minutes=40) if long else timedelta()))
                      for rid, ms, lag, long in changes])
    poller = SalesforcePoller(model, {"Opportunity": []}, overlap_seconds=300, first_start=T0,
                              now=lambda: model.now)
    mark, seen = None, set()
    model.now = T0 + timedelta(seconds=jitter)
    end = T0 + timedelta(hours=4)
    while model.now <= end:
        result = await poller.poll("Opportunity", mark)
        mark = result.high_water
        seen |= {(c.id, parse_sf_datetime(c.modstamp)) for c in result.changes}
        model.now += timedelta(seconds=poll_every)
    final = model._visible()  # every record's last committed version
    assert all((rid, stamp) in seen for rid, stamp in final.items()), sorted(set(final.items()) - seen)[:3]
