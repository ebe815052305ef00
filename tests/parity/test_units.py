"""Normaliser, comparison, config and CLI edges."""

from __future__ import annotations

import pytest

from q2c_harness.cli import main
from q2c_harness.parity.compare import compare_response
from q2c_harness.parity.config import ConfigError, load_config
from q2c_harness.parity.normalise import Normaliser


def test_salesforce_volatile_values_become_typed_placeholders():
    n = Normaliser("salesforce")
    body = n.body({"id": "001D000000IqhSLIAZ", "attributes": {"url": "/services/data/v52.0/sobjects/Account/001D000000IRFma"},
                   "nextRecordsUrl": "/services/data/v56.0/query/01gRO0000016PIAYA2-500",
                   "CreatedDate": "2013-05-07T22:07:19.000+0000", "CloseDate": "2026-01-31",
                   "instance_url": "https://na1.salesforce.com", "access_token": "00Dx0000000BV7z!AR8AQP0jITN80ESEsj",
                   "Name": "Express Logistics and Transport"})
    assert body == {"id": "<sf-id18>", "attributes": {"url": "/services/data/<version>/sobjects/Account/<sf-id15>"},
                    "nextRecordsUrl": "/services/data/<version>/query/<query-locator>",
                    "CreatedDate": "<datetime:dddd-dd-ddTdd:dd:dd.ddd+dddd>", "CloseDate": "<date>",
                    "instance_url": "<base>", "access_token": "<token>", "Name": "Express Logistics and Transport"}
    assert n.body(body) == body  # idempotent
    assert n.headers({"Content-Type": "application/json; charset=UTF-8", "Sforce-Limit-Info": "api-usage=18/5000",
                      "Date": "Mon, 20 May 2013 22:21:46 GMT"}) == {
        "content-type": "application/json;charset=utf-8", "sforce-limit-info": "api-usage=<n>/<n>"}


def test_psa_id_keyed_maps_and_netsuite_ids():
    psa = Normaliser("psa").body({"results": [{"key": "workspaces", "id": "10"}],
                                 "workspaces": {"10": {"id": "10", "creator_id": "2", "title": "x"},
                                                "11": {"id": "11", "creator_id": "8", "title": "y"}}})
    assert psa == {"results": [{"key": "workspaces", "id": "<psa-id>"}],
                   "workspaces": {"<psa-id>": {"id": "<psa-id>", "creator_id": "<psa-id>", "title": "x"}}}
    ns = Normaliser("netsuite", extra_hosts=("https://127.0.0.1:9999",))
    assert ns.header("location", "https://127.0.0.1:9999/services/rest/record/v1/customer/647") == \
        "<base>/services/rest/record/v1/customer/<ns-id>"


def test_compare_reports_each_kind_of_difference():
    exp = {"status": 201, "headers": {"content-type": "application/json"},
           "body": {"id": "<sf-id18>", "success": True, "errors": [], "n": 1}}
    act = {"status": 200, "headers": {"content-type": "text/plain", "location": "/x"},
           "body": {"id": "<sf-id15>", "success": False, "errors": [{"a": 1}], "extra": "x"}}
    kinds = {(d.kind, d.path) for d in compare_response(exp, act, exact_keys=frozenset({"success"}), partial=False)}
    assert kinds == {("status", "status"), ("header-value", "headers.content-type"),
                     ("header-unexpected", "headers.location"), ("type", "body.id"), ("value", "body.success"),
                     ("array-empty", "body.errors"), ("missing-key", "body.n"), ("unexpected-key", "body.extra")}
    partial = compare_response(exp, act, exact_keys=frozenset(), partial=True)
    assert {d.kind for d in partial} == {"status", "header-value", "type", "array-empty", "missing-key"}


def test_config_takes_secrets_only_from_env_or_files(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[vendors.psa]\nbase_url = "https://api.mavenlink.com/"\n'
                   'credentials = { type = "bearer", token = { env = "PARITY_TEST_TOKEN" } }\n')
    vendor = load_config(cfg).vendor("psa")
    assert vendor.base_url == "https://api.mavenlink.com"
    with pytest.raises(ConfigError, match="PARITY_TEST_TOKEN is not set"):
        vendor.credentials.headers({})
    assert vendor.credentials.headers({"PARITY_TEST_TOKEN": "t0k"}) == {"Authorization": "Bearer t0k"}
    cfg.write_text('[vendors.psa]\nbase_url = "https://x"\ncredentials = { token = "literal-secret" }\n')
    with pytest.raises(ConfigError, match="never a literal"):
        load_config(cfg)
    cfg.write_text('[vendors.psa]\nbase_url = "https://x"\ncredentials = { token = { file = "f" } }\n')
    with pytest.raises(ConfigError, match="no \\[vendors.netsuite\\]"):
        load_config(cfg).vendor("netsuite")


def test_cli_errors_are_clear_not_tracebacks(tmp_path, capsys):
    assert main(["parity", "record", "--provider", "psa", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["parity", "verify", "--provider", "psa", "--snapshots", str(empty)]) == 1
    assert "NOTHING checked" in capsys.readouterr().out
