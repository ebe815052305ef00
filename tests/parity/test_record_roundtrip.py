"""`q2c parity record` against a served simulator standing in for a sandbox (config file, token from a file), then
`q2c parity verify --snapshots` of what it wrote against a fresh in-process simulator: no differences."""

from __future__ import annotations

import json

import httpx
import pytest

from q2c_harness.cli import main
from q2c_harness.parity.catalogue import PROVIDERS
from q2c_harness.parity.targets import credentials
from q2c_simulators.kernel.serving import build_simulators, running_servers


@pytest.mark.parametrize("provider", PROVIDERS)
def test_record_then_verify_round_trips(provider, tmp_path, capsys):
    sims = build_simulators([provider], seed=3)
    with running_servers(sims, http=True) as endpoints:
        base = endpoints.base_urls[provider]
        tenant = {"salesforce": "sandbox-acme", "payments": "sandbox-acme", "tax": "2000000001"}.get(provider, "SANDBOX_ACME")
        with httpx.Client(base_url=base) as admin:  # what a sandbox admin sets up once: a token and our fields
            token = credentials(provider, admin, tenant)["Authorization"].split(" ", 1)[1]
        (tmp_path / "token").write_text(token + "\n")
        (tmp_path / "parity.toml").write_text(
            f'[vendors.{provider}]\nbase_url = "{base}"\n'
            f'credentials = {{ type = "bearer", token = {{ file = "{tmp_path / "token"}" }} }}\n')
        out = tmp_path / "snapshots"
        rc = main(["parity", "record", "--provider", provider, "--config", str(tmp_path / "parity.toml"),
                   "--out", str(out)])
        printed = capsys.readouterr().out
        assert rc == 0, printed
    written = sorted(p.name for p in out.glob("*.json"))
    assert len(written) >= 10, written
    assert any(n.startswith("pact-") for n in written) or provider in ("payments", "tax"), written  # no pact yet
    text = "".join(p.read_text() for p in out.glob("*.json"))
    assert token not in text and base not in text.replace(f'"target": "{base}"', "")  # volatile values normalised
    snap = json.loads(sorted(out.glob("*.json"))[0].read_text())
    assert snap["source"]["kind"] == "recorded" and snap["partial"] is False

    junit = tmp_path / "parity.xml"
    rc = main(["parity", "verify", "--provider", provider, "--snapshots", str(out), "--junit", str(junit)])
    report = capsys.readouterr().out
    assert rc == 0, report
    assert f"{len(written)} pass" in report.splitlines()[-1], report
    assert b"<testsuite" in junit.read_bytes()
