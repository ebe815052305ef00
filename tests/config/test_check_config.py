"""`q2c core check-config` against the simulators set up as Globex's orgs: everything present passes (exit 0); a
missing custom field, a missing subsidiary and a field of the wrong type are each named, with the setting that
names them (exit 1)."""

from __future__ import annotations

from q2c_harness.check_config import MISSING, MISTYPED, check, render
from q2c_harness.cli import main
from q2c_harness.config import load_config, parse_config
from q2c_simulators.kernel.serving import build_simulators, running_servers

from .globex import FIELDS, build_globex, config_text


async def findings(tmp_path, **skip):
    g = await build_globex(build_simulators(["salesforce", "netsuite", "psa"], seed=5), tmp_path, **skip)
    return g, await check(load_config(g.config_path), transports=g.transports)


def bad(found):
    return [f for f in found if not f.ok]


async def test_globex_as_configured_passes_every_check(tmp_path):
    _, found = await findings(tmp_path)
    assert bad(found) == [], render(found)
    kinds = {f.kind for f in found}
    assert {"object", "field", "picklist value", "record type", "subsidiary", "item", "tax code", "rate card"} <= kinds
    sub = next(f for f in found if f.kind == "subsidiary" and f.name == "Globex Advisory Pty Ltd")
    assert "AUD" in sub.found and "AU" in sub.found
    assert any(f.name == "Opportunity.Globex_Cap__c" and f.found == "currency" for f in found)


async def test_a_missing_field_and_a_missing_subsidiary_are_named(tmp_path):
    _, found = await findings(tmp_path, skip_fields=("not_to_exceed",), skip_subsidiaries=("AU01",))
    wrong = {(f.kind, f.name, f.status, f.setting) for f in bad(found)}
    assert wrong == {("field", "Opportunity.Globex_Cap__c", MISSING, "salesforce.fields.not_to_exceed"),
                     ("subsidiary", "Globex Advisory Pty Ltd", MISSING, "entities.AU01.subsidiary")}, render(found)
    table = render(found)
    assert "Opportunity.Globex_Cap__c" in table and "MISSING" in table
    assert table.splitlines()[-1].endswith("2 missing, 0 mistyped, 0 errors")


async def test_a_field_of_the_wrong_type_is_mistyped(tmp_path):
    g = await build_globex(build_simulators(["salesforce", "netsuite", "psa"], seed=5), tmp_path)
    fields = {**FIELDS, "invoice_status": "CloseDate"}  # a date field where the core writes a status text
    g.config_path.write_text(config_text(tmp_path, fields=fields))
    found = bad(await check(load_config(g.config_path), transports=g.transports))
    assert [(f.name, f.expected, f.found, f.status) for f in found] == [
        ("Opportunity.CloseDate", "picklist/string/textarea", "date", MISTYPED)]


async def test_unreadable_secrets_and_unknown_hosts_are_errors_not_tracebacks(tmp_path):
    cfg = parse_config({"vendors": {"psa": {"base_url": "https://psa.sim",
                                            "credentials": {"token": {"env": "Q2C_TEST_NO_SUCH_TOKEN"}}}}}, core=False)
    found = await check(cfg, environ={})
    assert [(f.system, f.kind, f.status) for f in found] == [("psa", "credentials", "ERROR")]
    assert "Q2C_TEST_NO_SUCH_TOKEN is not set" in found[0].found


def test_the_command_against_served_simulators(tmp_path, capsys):
    import asyncio

    sims = build_simulators(["salesforce", "netsuite", "psa"], seed=5)
    g = asyncio.run(build_globex(sims, tmp_path, skip_subsidiaries=("FR01",)))
    with running_servers({k: sims[k] for k in ("salesforce", "netsuite", "psa")}, http=True) as endpoints:
        g.config_path.write_text(config_text(tmp_path, urls=endpoints.base_urls))
        assert main(["core", "check-config", str(g.config_path)]) == 1
        out = capsys.readouterr().out
        assert "Globex Conseil SARL" in out and "MISSING" in out and "entities.FR01.subsidiary" in out
        g.config_path.write_text(config_text(tmp_path, urls=endpoints.base_urls).replace(
            'subsidiary = "Globex Conseil SARL"', 'subsidiary = "Parent Company"'))
        assert main(["core", "check-config", str(g.config_path), "--json"]) == 0, capsys.readouterr().out
