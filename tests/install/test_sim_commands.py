"""Standalone simulators, as users of WireMock and LocalStack expect: `q2c sim serve --seed-data` (a fixture of API
requests or a scenario's master data) and `--restore`, `q2c sim faults load|clear` on every running simulator, and
`q2c sim snapshot save|restore` to and from any path. Each served by a real `q2c sim serve` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from q2c_harness.harness.catalog import builtin_root

FIXTURE = """tenants: {psa: q2c}
requests:
  - {simulator: psa, method: POST, path: /api/v1/roles.json, json: {role: {name: Seeded Architect}}}
  - {simulator: psa, path: /api/v1/users.json,
     json: {user: {full_name: Ada Seed, email_address: ada@example.com, region: NA}}}
"""


def q2c(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "q2c_harness.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@contextmanager
def served(cwd: Path, *args: str) -> Iterator[dict]:
    ep = cwd / f"endpoints-{time.monotonic_ns()}.json"
    log = (cwd / f"{ep.stem}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "q2c_harness.cli", "sim", "serve", "--port-base", "0",
                             "--endpoints-file", ep.name, "--tls-dir", "tls", *args], cwd=cwd, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not ep.exists():
            assert proc.poll() is None, (cwd / f"{ep.stem}.log").read_text()
            assert time.monotonic() < deadline, "the simulators did not start"
            time.sleep(0.1)
        spec = json.loads(ep.read_text())
        yield {**spec, "file": str(ep)}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


def psa(spec: dict, method: str, path: str, **kw) -> httpx.Response:  # noqa: ANN003
    base, ca = spec["simulators"]["psa"], spec["ca_bundle"]
    token = httpx.post(f"{base}/__admin/psa/tokens", json={"account": "q2c"}, verify=ca).json()["access_token"]
    return httpx.request(method, f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, verify=ca, **kw)


def role_names(spec: dict) -> set[str]:
    body = psa(spec, "GET", "/api/v1/roles.json").json()
    return {body["roles"][r["id"]]["name"] for r in body["results"]}


def test_seed_data_snapshot_save_and_restore_from_any_path(tmp_path: Path) -> None:
    (tmp_path / "fixture.yaml").write_text(FIXTURE)
    elsewhere = tmp_path / "other" / "dir"
    elsewhere.mkdir(parents=True)
    with served(tmp_path, "--seed-data", "fixture.yaml") as spec:
        assert Path(spec["ca_bundle"]).is_absolute()  # written relative (--tls-dir tls), stored absolute
        assert "Seeded Architect" in role_names(spec)
        saved = q2c("sim", "snapshot", "save", str(elsewhere / "state.json"), "--endpoints-file", spec["file"],
                    cwd=elsewhere)  # run from another directory: the endpoints file is enough
        assert saved.returncode == 0, saved.stderr
        bundle = json.loads((elsewhere / "state.json").read_text())
        assert bundle["format"] == "q2c-snapshots/1" and set(bundle["simulators"]) >= {"salesforce", "netsuite", "psa"}
    with served(tmp_path, "--restore", str(elsewhere / "state.json")) as spec:
        assert "Seeded Architect" in role_names(spec)
    with served(tmp_path) as spec:
        assert "Seeded Architect" not in role_names(spec)
        restored = q2c("sim", "snapshot", "restore", str(elsewhere / "state.json"), "--endpoints-file", spec["file"],
                       cwd=tmp_path)
        assert restored.returncode == 0, restored.stderr
        assert "Seeded Architect" in role_names(spec)


def test_seed_data_from_a_scenarios_master_data(tmp_path: Path) -> None:
    scenario = tmp_path / "multi.yaml"
    scenario.write_text(builtin_root().joinpath("multi_entity_tm.yaml").read_text())
    done = q2c("sim", "serve", "--port-base", "0", "--only", "psa", "--seed-data", str(scenario), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().endswith("PSA: salesforce, netsuite not served")
    with served(tmp_path, "--seed-data", str(scenario)) as spec:
        users = psa(spec, "GET", "/api/v1/users.json").json()
        assert users["count"] > 3  # the project manager and the scenario's people
        assert "Consultant" in role_names(spec)


def test_fault_profile_load_and_clear_on_every_running_simulator(tmp_path: Path) -> None:
    with served(tmp_path) as spec:
        done = q2c("sim", "faults", "load", "flaky", "--endpoints-file", spec["file"], cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        counts = {}
        for name, url in spec["simulators"].items():
            rules = httpx.get(f"{url}/__admin/faults", verify=spec["ca_bundle"]).json()["faults"]
            counts[name] = sorted(r["id"] for r in rules)
        assert counts.pop("netsuite") == ["all-5xx", "ns-first"]  # the rule meant for NetSuite stays there
        assert counts and all(rules == ["all-5xx"] for rules in counts.values())
        cleared = q2c("sim", "faults", "clear", "--endpoints-file", spec["file"], cwd=tmp_path)
        assert cleared.returncode == 0
        for url in spec["simulators"].values():
            assert httpx.get(f"{url}/__admin/faults", verify=spec["ca_bundle"]).json()["faults"] == []


@pytest.mark.parametrize(("args", "message"), [
    (("--restore", "nope.json"), "q2c: error: --restore nope.json: no such file"),
    (("--faults", "no_such_profile"), "q2c: error: --faults: unknown fault profile 'no_such_profile'"),
    (("--only", "sap"), "q2c: error: --only sap: unknown simulator"),
])
def test_bad_serve_options_are_one_line_with_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = q2c("sim", "serve", "--port-base", "0", *args, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith(message) and len(done.stderr.splitlines()) == 1


def test_a_seed_fixture_that_fails_stops_the_servers_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("requests:\n  - {simulator: psa, path: /api/v1/nothing_here.json}\n")
    done = q2c("sim", "serve", "--port-base", "0", "--seed-data", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("q2c: error: bad.yaml: requests[0]: psa POST")
