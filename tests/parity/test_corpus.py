"""Every simulator reproduces its corpus of documented vendor examples: each snapshot passes, or its difference is a
known gap marked in the snapshot (and listed in the simulator's docs page); a stale mark fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from q2c_harness.parity.catalogue import PROVIDERS, load_catalogue
from q2c_harness.parity.report import render_table, to_junit
from q2c_harness.parity.runner import verify_snapshots
from q2c_harness.parity.snapshots import corpus_dir, load_snapshots
from q2c_harness.parity.targets import simulator_target

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = {"salesforce": "salesforce.md", "netsuite": "netsuite.md", "psa": "psa.md", "payments": "payments.md",
         "tax": "tax.md"}
# Issue 24 asks for 30 documented examples a vendor; NetSuite and PSA are still short of it (docs/parity.md).
MIN_EXAMPLES = {"salesforce": 30, "netsuite": 28, "psa": 16, "payments": 30, "tax": 30}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_corpus_is_documented_and_large_enough(provider):
    snaps = load_snapshots(corpus_dir(provider))
    assert len(snaps) >= MIN_EXAMPLES[provider], f"{provider}: {len(snaps)} documented examples"
    catalogue = load_catalogue(provider)
    for s in snaps:
        assert s.source["kind"] == "documented" and s.source["url"].startswith("https://") and s.source["section"], s.name
        assert s.probe in catalogue.probes, f"{s.name} names no probe"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_known_gaps_are_listed_on_the_simulator_page(provider):
    page = (DOCS / PAGES[provider]).read_text()
    for s in load_snapshots(corpus_dir(provider)):
        for gap in s.known_gaps:
            assert gap.doc and gap.doc.startswith(f"docs/{PAGES[provider]}"), (s.name, gap)
            assert s.name in page, f"{s.name} has a known gap but docs/{PAGES[provider]} does not list it"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_simulator_passes_its_corpus(provider, tmp_path):
    catalogue = load_catalogue(provider)
    with simulator_target(provider) as target:
        report = verify_snapshots(catalogue, target, load_snapshots(corpus_dir(provider)), "corpus")
    (tmp_path / "junit.xml").write_bytes(to_junit(report))
    assert report.ok, render_table(report)
    assert report.count("pass") + report.count("known-gap") == len(report.outcomes), render_table(report)


def test_a_difference_fails_and_a_stale_gap_fails(tmp_path):
    """The corpus test can fail: a changed error code fails, and a gap mark that covers nothing fails too."""
    catalogue = load_catalogue("salesforce")
    src = corpus_dir("salesforce")
    wrong = json.loads((src / "error-not-found.json").read_text())
    wrong["response"]["body"][0]["errorCode"] = "ENTITY_IS_DELETED"
    stale = json.loads((src / "create-account.json").read_text())
    stale["known_gaps"] = [{"path": "body.id", "reason": "pretend", "doc": "docs/salesforce.md"}]
    for name, doc in (("wrong", wrong), ("stale", stale)):
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    with simulator_target("salesforce") as target:
        report = verify_snapshots(catalogue, target, load_snapshots(tmp_path))
    by = {o.snapshot: o for o in report.outcomes}
    assert by["wrong"].result == "fail"
    assert [(d.path, d.kind) for d in by["wrong"].differences] == [("body[0].errorCode", "value")]
    assert by["stale"].result == "fail" and by["stale"].stale_gaps
    assert not report.ok
