"""Crash safety with the flows (issue 7's "done when"): a billing run over several engagements (PSA intake, time
bills in chunks, client invoice, intercompany invoice, status to Salesforce) in a SUBPROCESS worker on the durable
runner (DBOS), against simulators served on real sockets by this test process (they outlive every worker). The
worker is SIGKILLed at seeded random points (by itself right after its k-th NetSuite upsert, before the ledger
records it, or from outside after a random delay), restarted, and finally runs to the end. Afterwards every
NetSuite time bill and invoice exists exactly once by external id, totals are hours x rate, the PSA references
are not duplicated, and the core's books (billed once, runs posted, ledger complete, audit chain) hold."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from q2c_simulators.kernel.serving import build_simulators, running_servers
from tests.engine.pg import create_database, drop_database, pg_unreachable_reason
from tests.flows.served import check_core_state, check_vendor_state, setup_world
from tests.crash import kill_round

ROOT = Path(__file__).resolve().parents[2]
SEED = 20260107
KILL_ROUNDS = 4
ENGAGEMENTS = 4
ENTRIES = 60  # 3 time-bill chunks per engagement


def _worker(url: str, endpoints: str, crash_at: int = 0) -> subprocess.Popen:
    env = {**os.environ, "Q2C_CRASH_AT_WRITE": str(crash_at)}
    return subprocess.Popen([sys.executable, "-m", "tests.flows.crash_worker", url, endpoints], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_crash_scenario(url: str, tmp_path: Path) -> dict:
    rng = random.Random(SEED)
    sims = build_simulators(seed=7)
    with running_servers(sims, http=True) as ep:
        endpoints = str(ep.write(tmp_path / "endpoints.json"))
        # NetSuite answers in ~25 ms: the billing work lasts long enough for kills to land inside it
        sims["netsuite"].faults.add(_latency(25))
        world = setup_world(endpoints, url, engagements=ENGAGEMENTS, entries=ENTRIES)
        kills = []
        for round_ in range(KILL_ROUNDS):
            crash_at = rng.randint(5, 60) if round_ % 2 == 0 else 0
            delay = 30.0 if crash_at else rng.uniform(0.3, 1.2)
            kills.append(kill_round(_worker(url, endpoints, crash_at), crash_at, delay))
        final = _worker(url, endpoints)
        out, err = final.communicate(timeout=60)
        assert final.returncode == 0, f"final worker failed ({final.returncode}):\n{out}\n{err[-3000:]}\n{kills}"
        vendor = check_vendor_state(endpoints, world)
    core = check_core_state(url, world)
    return {"kills": kills, "vendor": vendor, "core": core}


def _latency(ms: float):
    from q2c_simulators.kernel.faults import LatencyFault

    return LatencyFault(kind="latency", id="crash-latency", distribution="fixed", ms=ms)


def _assert_kills(info: dict) -> None:
    assert {k["kill"] for k in info["kills"]} == {"self", "external"}, info  # both kinds of SIGKILL happened
    assert all(k["rc"] == -9 for k in info["kills"]), info


def test_flows_crash_safety_sqlite(tmp_path):
    info = run_crash_scenario(f"sqlite:///{tmp_path / 'core.sqlite'}", tmp_path)
    _assert_kills(info)
    assert info["vendor"]["timebills"] == ENGAGEMENTS * ENTRIES


@pytest.mark.postgres
def test_flows_crash_safety_postgres(tmp_path):
    reason = pg_unreachable_reason()
    if reason:
        pytest.skip(reason)
    url = create_database("q2c_flows_crash")
    try:
        info = run_crash_scenario(url, tmp_path)
        _assert_kills(info)
        assert info["vendor"]["timebills"] == ENGAGEMENTS * ENTRIES
    finally:
        drop_database(url)
