"""The core's configuration file: a complete file reads into typed settings; every problem is named by its path;
secrets come only from environment variables or files."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from q2c_harness.config import BillingCalendar, ConfigError, load_config, parse_config

GLOBEX = '''
[vendors.salesforce]
base_url = "https://globex--uat.sandbox.my.salesforce.com/"
api_version = "60.0"
concurrency = 20
[vendors.salesforce.credentials]
type = "jwt_bearer"
client_id = "3MVG9globex"
username = "q2c@globex.example.uat"
private_key = { file = "KEYFILE" }
login_url = "https://test.salesforce.com"

[vendors.netsuite]
base_url = "https://7654321-sb2.suitetalk.api.netsuite.com"
account = "7654321_SB2"
concurrency = 15
[vendors.netsuite.credentials]
type = "tba"
consumer_key = { env = "NS_CK" }
consumer_secret = { env = "NS_CS" }
token_id = { env = "NS_TID" }
token_secret = { env = "NS_TS" }

[vendors.psa]
base_url = "https://api.mavenlink.com"
credentials = { type = "bearer", token = { env = "PSA_TOKEN" } }
webhook_secret = { env = "PSA_HOOK" }

[salesforce.fields]
engagement_id = "Globex_Engagement_Key__c"
rate_card = "Globex_Rate_Card__c"
not_to_exceed = "Globex_Cap__c"

[salesforce.contract]
activated_status = "Activated"

[salesforce.intake]
overlap_seconds = 600

[netsuite.items]
time = "Consulting Hours"

[entities.FR01]
subsidiary = "Globex Conseil SARL"
contracts_for = ["FR", "BE"]
tax_regime = "EU_VAT"
vat_id = "FR12345678901"
intercompany_partners = ["AU01"]

[entities.AU01]
subsidiary = "Globex Advisory Pty Ltd"
contracts_for = ["AU", "NZ"]
tax_regime = "AU_GST"
intercompany_partners = ["FR01"]

[tax]
rates = { FR = "20", AU = "10" }

[intercompany]
markup_percent = "7.5"

[billing]
run_day = 3
timezone = "Australia/Sydney"

[reference]
default_rate_card = "Globex Standard 2026"
refresh_minutes = 30
'''


def write(tmp_path, text):
    path = tmp_path / "q2c.toml"
    path.write_text(text.replace("KEYFILE", str(tmp_path / "sf.key")))
    return path


def test_a_complete_file_reads_into_typed_settings(tmp_path):
    cfg = load_config(write(tmp_path, GLOBEX))
    sf, ns, psa = cfg.vendor("salesforce"), cfg.vendor("netsuite"), cfg.vendor("psa")
    assert sf.base_url == "https://globex--uat.sandbox.my.salesforce.com" and sf.api_version == "60.0"
    assert sf.credentials.type == "jwt_bearer" and sf.credentials.values["client_id"] == "3MVG9globex"
    assert ns.account == "7654321_SB2" and ns.concurrency == 15 and ns.credentials.type == "tba"
    assert psa.webhook_secret is not None and psa.webhook_secret.env == "PSA_HOOK"
    f = cfg.salesforce.fields
    assert (f.engagement_id, f.rate_card, f.not_to_exceed) == ("Globex_Engagement_Key__c", "Globex_Rate_Card__c",
                                                             "Globex_Cap__c")
    assert f.invoice_status == "Invoice_Status__c"  # what the file does not name keeps the package's name
    assert cfg.salesforce.intake.overlap_seconds == 600 and cfg.salesforce.intake.mode == "polling"
    assert cfg.netsuite.items == {"time": "Consulting Hours"}
    assert cfg.country_entity() == {"FR": "FR01", "BE": "FR01", "AU": "AU01", "NZ": "AU01"}
    assert cfg.entities["AU01"].subsidiary == "Globex Advisory Pty Ltd"
    assert cfg.tax.rates == {"FR": Decimal("20"), "AU": Decimal("10")}
    assert cfg.intercompany_markup_percent == Decimal("7.5")
    assert cfg.billing == BillingCalendar(run_day=3, timezone="Australia/Sydney")
    assert cfg.reference.default_rate_card == "Globex Standard 2026" and cfg.reference.refresh_minutes == 30


def test_every_problem_is_reported_with_its_path(tmp_path):
    bad = (GLOBEX.replace('token_id = { env = "NS_TID" }\n', '')
           .replace('token = { env = "PSA_TOKEN" }', 'token = "pasted-secret"')
           .replace('refresh_minutes = 30', 'refresh_minutes = 30\nrefresh_minute = 5')
           .replace('markup_percent = "7.5"', 'markup_percent = 7.5')
           .replace('contracts_for = ["AU", "NZ"]', 'contracts_for = ["AU", "nz"]')
           .replace('intercompany_partners = ["FR01"]', 'intercompany_partners = ["US01"]')
           .replace('rate_card = "Globex_Rate_Card__c"', 'rate_card = "Globex_Engagement_Key__c"')
           .replace('timezone = "Australia/Sydney"', 'timezone = "Mars/Olympus"'))
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, bad))
    problems = info.value.problems
    expected = [
        "vendors.netsuite.credentials.token_id: missing",
        "vendors.psa.credentials.token: a secret is { env = \"NAME\" } or { file = \"PATH\" }, never a literal value",
        "reference.refresh_minute: unknown setting (did you mean 'refresh_minutes'?)",
        "intercompany.markup_percent: must be a decimal written as a string",
        "entities.AU01.contracts_for[1]: 'nz' is not an ISO 3166 alpha-2 country code",
        "entities.AU01.intercompany_partners[0]: 'US01' is not an entity here",
        "salesforce.fields.rate_card: 'Globex_Engagement_Key__c' is already salesforce.fields.engagement_id",
        "billing.timezone: 'Mars/Olympus' is not an IANA time zone",
    ]
    for want in expected:
        assert any(p.startswith(want) for p in problems), (want, problems)
    assert len(problems) == len(expected), problems


def test_the_core_needs_its_three_vendors_entities_and_tax():
    with pytest.raises(ConfigError) as info:
        parse_config({"vendors": {"psa": {"base_url": "https://x", "credentials": {"token": {"env": "T"}}}}})
    problems = info.value.problems
    assert "vendors.salesforce: missing (the core reads and writes Salesforce, NetSuite and the PSA)" in problems
    assert "vendors.netsuite: missing (the core reads and writes Salesforce, NetSuite and the PSA)" in problems
    assert any(p.startswith("entities: missing") for p in problems)
    assert any(p.startswith("tax.rates: missing") for p in problems)
    # parity and contracts read only the vendor tables they use
    parity = parse_config({"vendors": {"psa": {"base_url": "https://x", "credentials": {"token": {"env": "T"}}}}},
                          core=False)
    assert list(parity.vendors) == ["psa"]


def test_secrets_are_read_from_env_or_files_when_used(tmp_path):
    path = write(tmp_path, GLOBEX)
    cfg = load_config(path)
    missing = cfg.check_secrets({})
    assert "vendors.netsuite.credentials.consumer_key: environment variable NS_CK is not set" in missing
    assert any(m.startswith("vendors.salesforce.credentials.private_key: cannot read secret file") for m in missing)
    assert "vendors.psa.webhook_secret: environment variable PSA_HOOK is not set" in missing
    (tmp_path / "sf.key").write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n\n")
    env = {k: "x" for k in ("NS_CK", "NS_CS", "NS_TID", "NS_TS", "PSA_TOKEN", "PSA_HOOK")}
    assert cfg.check_secrets(env) == []
    assert cfg.vendor("salesforce").credentials.get("private_key", env).endswith("-----END PRIVATE KEY-----")
    assert cfg.vendor("psa").credentials.headers({"PSA_TOKEN": "t0k"}) == {"Authorization": "Bearer t0k"}
    assert "pasted" not in path.read_text()  # the file itself names no secret


def test_unreadable_or_invalid_files_are_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[vendors\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(tmp_path / "bad.toml")


@pytest.mark.parametrize("run_day,period,today,due", [
    (0, "2026-03", date(2026, 3, 10), True),   # continuous: as soon as the month has started
    (0, "2026-04", date(2026, 3, 31), False),
    (3, "2026-03", date(2026, 4, 2), False),   # closes on the 3rd of the next month
    (3, "2026-03", date(2026, 4, 3), True),
    (5, "2026-12", date(2027, 1, 4), False),
    (5, "2026-12", date(2027, 1, 5), True),
])
def test_the_billing_calendar_says_when_a_month_is_due(run_day, period, today, due):
    assert BillingCalendar(run_day=run_day).is_due(period, today) is due


def test_the_tax_service_is_a_vendor_with_basic_credentials_and_a_company(tmp_path):
    text = GLOBEX.replace("[vendors.psa]", '''[vendors.tax]
base_url = "https://sandbox-rest.avatax.com"
company = "GLOBEX-AU"
credentials = { type = "basic", account_id = "2001234567", license_key = { env = "AVA_KEY" } }

[vendors.psa]''')
    text = text.replace("[tax]", '[tax]\nsource = "service"', 1)
    cfg = load_config(write(tmp_path, text))
    tax = cfg.vendor("tax")
    assert (tax.company, tax.credentials.type, tax.credentials.values["account_id"]) == (
        "GLOBEX-AU", "basic", "2001234567")
    assert cfg.tax.source == "service"
    from q2c_harness.connectors.configured import tax_client

    client = tax_client(tax, {"AVA_KEY": "k3y"})
    assert client.company == "GLOBEX-AU" and client.base_url == "https://sandbox-rest.avatax.com"
    # the service named as the tax source but not configured
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GLOBEX.replace("[tax]", '[tax]\nsource = "service"', 1)))
    assert any(p.startswith("vendors.tax: missing") for p in info.value.problems)
