from __future__ import annotations

import pytest

from q2c_harness import correlation
from q2c_harness.engine.db import NotFound
from q2c_harness.engine.inbox import Inbox, workflow_id_for
from q2c_harness.engine.xref import CrossReference, XrefConflict
from q2c_harness.errors import BusinessError


def test_inbox_deduplicates_on_source_and_event_id(db):
    inbox = Inbox(db)
    assert inbox.accept("salesforce", "evt-1", "quote.accepted", {"quote": "Q-1"}, "c-1") is True
    assert inbox.accept("salesforce", "evt-1", "quote.accepted", {"quote": "Q-1"}, "c-2") is False
    assert inbox.accept("psa", "evt-1", "time.approved", {}, "c-3") is True  # same id, other source
    ev = inbox.get("salesforce", "evt-1")
    assert ev.correlation_id == "c-1" and ev.status == "received"
    assert ev.workflow_id == workflow_id_for("salesforce", "evt-1") == "inbox:salesforce:evt-1"
    assert inbox.get_by_key("salesforce:evt-1") == ev


def test_inbox_statuses_and_attempts(db):
    inbox = Inbox(db)
    inbox.accept("psa", "e", "time.approved", {"h": "7.5"})
    inbox.mark_processing("psa", "e")
    inbox.mark_failed("psa", "e", {"error_class": "TransientError"})
    assert inbox.get("psa", "e").status == "failed"
    inbox.mark_processing("psa", "e")
    inbox.mark_done("psa", "e")
    ev = inbox.get("psa", "e")
    assert (ev.status, ev.attempts, ev.error) == ("done", 2, None)
    assert inbox.counts()["done"] == 1
    with pytest.raises(NotFound):
        inbox.mark_done("psa", "missing")
    with pytest.raises(ValueError):
        inbox.mark("psa", "e", "weird")


def test_inbox_takes_correlation_id_from_context(db):
    inbox = Inbox(db)
    with correlation.use("c-ctx"):
        inbox.accept("netsuite", "n1", "payment.received", {})
    assert inbox.get("netsuite", "n1").correlation_id == "c-ctx"
    inbox.accept("netsuite", "n2", "payment.received", {})
    assert inbox.get("netsuite", "n2").correlation_id.startswith("c-")
    assert [e.event_id for e in inbox.list(correlation_id="c-ctx")] == ["n1"]


def test_xref_is_one_to_one_per_system_and_type(db):
    x = CrossReference(db)
    x.link("salesforce", "Account", "001A", "client-1")
    assert x.link("salesforce", "Account", "001A", "client-1").canonical_id == "client-1"  # idempotent
    assert x.lookup("salesforce", "Account", "001A") == "client-1"
    assert x.reverse("salesforce", "Account", "client-1") == "001A"
    with pytest.raises(XrefConflict) as exc:
        x.link("salesforce", "Account", "001A", "client-2")  # external id already mapped elsewhere
    assert isinstance(exc.value, BusinessError) and exc.value.code == "XREF_CONFLICT"
    with pytest.raises(XrefConflict):
        x.link("salesforce", "Account", "001B", "client-1")  # canonical already mapped elsewhere
    # the same ids in another object type or system are independent
    x.link("salesforce", "Opportunity", "001A", "client-2")
    x.link("netsuite", "customer", "CUST-1", "client-1")
    assert {(l.system, l.object_type) for l in x.links_for("client-1")} == {
        ("salesforce", "Account"), ("netsuite", "customer")}
    assert x.lookup("salesforce", "Account", "nope") is None and x.reverse("psa", "x", "y") is None


def test_netsuite_external_ids_are_case_insensitive(db):
    x = CrossReference(db)
    x.link("netsuite", "customer", "ACME-1", "client-1")
    assert x.lookup("netsuite", "customer", "acme-1") == "client-1"
    assert x.link("netsuite", "customer", "Acme-1", "client-1").external_id == "ACME-1"
    with pytest.raises(XrefConflict):
        x.link("netsuite", "customer", "acme-1", "client-9")
    x.link("salesforce", "Account", "abc", "client-1")
    x.link("salesforce", "Account", "ABC", "client-2")  # Salesforce ids are case-sensitive
