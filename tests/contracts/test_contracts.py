"""Consumer pacts regenerate without an unexplained diff; every pact verifies against its simulator; zero checked
interactions fail; the NetSuite 2026.2 break is named; a seeded renamed field fails readably; the CLI fuzzes."""

from __future__ import annotations

import json
import random
import threading

import pytest

from q2c_harness.contracts.common import PACT_DIR, normalise, pact_files
from q2c_harness.contracts.consumer import build_pacts
from q2c_harness.contracts.messages import build_message_pacts, verify_events_provider
from q2c_harness.contracts.upgrade import upgrade_check
from q2c_harness.contracts.verify import verify_provider


def test_pacts_regenerate_identically(tmp_path):
    build_pacts(tmp_path)
    build_message_pacts(tmp_path)
    fresh = {p.name: normalise(json.loads(p.read_text())) for p in pact_files(tmp_path)}
    committed = {p.name: normalise(json.loads(p.read_text())) for p in pact_files(PACT_DIR)}
    assert sorted(fresh) == sorted(committed), "pact files added or removed: run `q2c contracts generate`"
    for name in fresh:
        assert fresh[name] == committed[name], f"{name} differs from the committed pact: run `q2c contracts generate`"


@pytest.mark.parametrize("provider", ["salesforce", "netsuite", "psa"])
def test_provider_verifies_against_simulator(provider):
    report = verify_provider(provider)
    assert report.ok, report.render()
    assert report.checked >= 7


def test_zero_interactions_checked_fails():
    report = verify_provider("psa", provider_name="psa-misspelt")
    assert report.checked == 0
    assert not report.ok
    assert "ZERO interactions" in report.render()


def test_event_messages_verify_against_the_events_the_flows_published():
    report = verify_events_provider()  # runs built-in scenarios and reads the core's event log
    assert report.ok, report.render()
    assert report.checked == 8


def test_event_messages_fail_when_the_flows_drop_a_field_or_an_event():
    from types import SimpleNamespace as Event

    from q2c_harness.contracts.messages import flow_events

    real = [e for e in flow_events(("multi_entity_tm",))]
    dropped = [Event(type=e.type, payload={k: v for k, v in e.payload.items() if k != "gross_total"})
               if e.type == "invoice.posted" else e for e in real]
    report = verify_events_provider(events=dropped)
    assert not report.ok
    failed = {i.description for i in report.failed}
    assert "a invoice.posted event" in " ".join(failed)
    assert "a milestone.approved event" in " ".join(failed)  # multi_entity_tm bills no milestone


def test_upgrade_check_names_the_breaking_interaction():
    up = upgrade_check("netsuite", "2026.1", "2026.2")
    text = up.render()
    assert up.before.ok and not up.ok
    assert [i.description for i in up.after.failed] == [
        "read open invoice INV-1 with its amount remaining (given an open invoice INV-1 of 1,995.00 exists)"]
    assert "field 'amountRemaining' removed" in text
    assert "field 'externalId' is newly required" in text
    assert "BREAKS: read open invoice INV-1" in text


def rename_key_middleware(old: str, new: str):
    """ASGI middleware renaming a JSON key in every response body."""
    def wrap(app):
        async def mutated(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            start, chunks = {}, []

            async def capture(message):
                if message["type"] == "http.response.start":
                    start.update(message)
                elif message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body"):
                        body = b"".join(chunks).replace(f'"{old}":'.encode(), f'"{new}":'.encode())
                        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                        headers.append((b"content-length", str(len(body)).encode()))
                        await send({**start, "headers": headers})
                        await send({"type": "http.response.body", "body": body})
            await app(scope, receive, capture)
        return mutated
    return wrap


def test_seeded_renamed_field_fails_readably():
    candidates = ["companyName", "amountRemaining", "hasMore", "externalId"]
    field = random.Random(9).choice(candidates)
    report = verify_provider("netsuite", middleware=rename_key_middleware(field, field + "_renamed"))
    assert not report.ok
    text = report.render()
    assert f"missing the following keys: {field}" in text, text


def test_fuzz_cli_against_a_served_simulator(tmp_path):
    from q2c_simulators.kernel.serving import build_simulators, running_servers
    from q2c_simulators.psa import mint_token

    from q2c_harness.cli import main

    sims = build_simulators(["psa"], seed=3)
    with running_servers(sims, http=True) as endpoints:
        rc = main(["contracts", "fuzz", "--target", endpoints.base_urls["psa"], "--max-examples", "2",
                   "--header", f"Authorization: Bearer {mint_token('fuzz')}", "--reports", str(tmp_path)])
    assert rc == 0
    assert list(tmp_path.glob("*.xml"))
