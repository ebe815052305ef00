"""Another firm's orgs, set up in the simulators the way Globex's admins would: its own custom field names in
Salesforce, a connected app for JWT bearer, a French and an Australian subsidiary in a NetSuite account with its own
service items, tax codes and dated exchange rates, an OAuth 2.0 client-credentials integration, and a EUR rate card
with two versions in the PSA. Nothing here uses the core's own provisioning or `demo_reference()`.

`build_globex` returns the configuration file that maps the core onto these orgs, and the in-process transports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from q2c_harness.connectors.mapping.salesforce import FIELD_SPECS

SF, NS, PSA = "https://salesforce.sim", "https://netsuite.sim", "https://psa.sim"
SF_TENANT, NS_ACCOUNT, PSA_ACCOUNT = "globex", "GLOBEX_SB1", "globex"
FIELDS = {  # Globex's API names for the core's fields: none is the package default
    "vat_id": "Globex_VAT__c", "engagement_id": "Globex_Engagement_Key__c", "netsuite_project_id": "Globex_ERP_Project__c",
    "psa_workspace_id": "Globex_PSA_Project__c", "invoice_status": "Globex_Billing_Status__c",
    "invoice_number": "Globex_Last_Invoice__c", "amount_invoiced": "Globex_Invoiced__c", "amount_paid": "Globex_Paid__c",
    "last_invoice_date": "Globex_Invoiced_On__c", "last_payment_date": "Globex_Paid_On__c",
    "retainer_amount": "Globex_Retainer__c", "rate_card": "Globex_Rate_Card__c", "fx_rate_type": "Globex_FX_Type__c",
    "fx_rate_date_rule": "Globex_FX_Date__c", "not_to_exceed": "Globex_Cap__c"}
SUBSIDIARIES = {"FR01": ("Globex Conseil SARL", "EUR", "FR"), "AU01": ("Globex Advisory Pty Ltd", "AUD", "AU")}
ITEMS = {"time": "GLX Consulting Hours", "expense": "GLX Reimbursables", "milestone": "GLX Fixed Fee",
         "adjustment": "GLX Retainer", "intercompany": "GLX Intercompany Services"}
TAX_CODES = {"FR": ("FR TVA 20", "20"), "AU": ("AU GST 10", "10")}
RATE_CARD = "Globex Conseil 2026"
# (transaction currency, base currency, effective date, units of base per 1 transaction currency)
RATES = [("EUR", "AUD", "2026-01-01", "1.6400"), ("EUR", "AUD", "2026-02-01", "1.6550"),
         ("AUD", "EUR", "2026-01-01", "0.6098"), ("AUD", "EUR", "2026-02-01", "0.6042"),
         ("USD", "EUR", "2026-01-01", "0.9200"), ("EUR", "USD", "2026-01-01", "1.0870")]
ROLES = {"Conseiller": ("EMEA", ["105.00", "112.00"]), "Directeur": ("EMEA", ["160.00", "170.00"]),
         "Advisor": ("APAC", ["98.00", "101.00"])}


@dataclass
class Globex:
    config_path: Path
    transports: dict[str, httpx.AsyncBaseTransport]
    sims: dict[str, Any]
    ns_admin_token: str
    roles: dict[str, int] = field(default_factory=dict)
    subsidiaries: dict[str, str] = field(default_factory=dict)
    currencies: dict[str, str] = field(default_factory=dict)


def _key_and_cert(common_name: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def config_text(tmp: Path, *, fields: dict[str, str] = FIELDS, urls: dict[str, str] | None = None) -> str:
    """The configuration file for Globex's orgs (``urls``: served simulators instead of the in-process hosts)."""
    u = {"salesforce": SF, "netsuite": NS, "psa": PSA, **(urls or {})}
    subs = {eid: name for eid, (name, _, _) in SUBSIDIARIES.items()}
    mapped = "\n".join(f'{k} = "{v}"' for k, v in fields.items())
    items = "\n".join(f'{k} = "{v}"' for k, v in ITEMS.items())
    return f'''
[vendors.salesforce]
base_url = "{u['salesforce']}"
[vendors.salesforce.credentials]
type = "jwt_bearer"
client_id = "3MVG9globex.q2c"
username = "q2c-integration@globex.example"
private_key = {{ file = "{tmp / 'sf-jwt.key'}" }}
login_url = "{u['salesforce']}"

[vendors.netsuite]
base_url = "{u['netsuite']}"
account = "{NS_ACCOUNT}"
concurrency = 4
[vendors.netsuite.credentials]
type = "oauth2_client_credentials"
client_id = "globex-q2c-m2m"
certificate_id = "globex-cert-1"
private_key = {{ file = "{tmp / 'ns-m2m.key'}" }}

[vendors.psa]
base_url = "{u['psa']}"
credentials = {{ type = "bearer", token = {{ file = "{tmp / 'psa.token'}" }} }}

[salesforce.fields]
{mapped}

[netsuite.items]
{items}

[entities.FR01]
subsidiary = "{subs['FR01']}"
contracts_for = ["FR", "BE"]
tax_regime = "EU_VAT"
vat_id = "FR40123456824"
intercompany_partners = ["AU01"]

[entities.AU01]
subsidiary = "{subs['AU01']}"
contracts_for = ["AU", "NZ"]
tax_regime = "AU_GST"
intercompany_partners = ["FR01"]

[tax]
source = "netsuite"
codes = {{ FR = "{TAX_CODES['FR'][0]}", AU = "{TAX_CODES['AU'][0]}" }}

[intercompany]
markup_percent = "8"

[reference]
default_rate_card = "{RATE_CARD}"
fx_rate_type = "corporate"
fx_rate_date_rule = "invoice_date"
'''


async def build_globex(sims: dict[str, Any], tmp: Path, *, skip_fields: tuple[str, ...] = (),
                       skip_subsidiaries: tuple[str, ...] = ()) -> Globex:
    """Globex's orgs in ``sims`` (Salesforce, NetSuite, PSA), less what ``skip_*`` leaves out; the config file."""
    transports = {name: httpx.ASGITransport(sims[name].asgi) for name in ("salesforce", "netsuite", "psa")}
    sf_key, sf_cert = _key_and_cert("globex-sf")
    ns_key, ns_cert = _key_and_cert("globex-ns")
    (tmp / "sf-jwt.key").write_text(sf_key)
    (tmp / "ns-m2m.key").write_text(ns_key)
    async with httpx.AsyncClient(transport=transports["salesforce"], base_url=SF) as a:
        r = await a.post("/__admin/salesforce/users", json={"tenant": SF_TENANT, "username":
                                                            "q2c-integration@globex.example", "password": "x-Globex1"})
        assert r.status_code in (200, 201), r.text
        r = await a.post(f"/__admin/salesforce/orgs/{SF_TENANT}/connected-apps",
                         json={"client_id": "3MVG9globex.q2c", "cert_pem": sf_cert})
        assert r.status_code in (200, 201), r.text
        for key, name in FIELDS.items():
            if key in skip_fields:
                continue
            spec = FIELD_SPECS[key]
            r = await a.post(f"/__admin/salesforce/orgs/{SF_TENANT}/fields",
                             json={"object": spec.sobject, "name": name, "type": spec.type, **spec.create})
            assert r.status_code in (200, 201), r.text
    async with httpx.AsyncClient(transport=transports["netsuite"], base_url=NS) as a:
        r = await a.post(f"/__admin/netsuite/accounts/{NS_ACCOUNT}/oauth2/clients", json={
            "client_id": "globex-q2c-m2m", "certificate_id": "globex-cert-1", "public_key_pem": ns_cert})
        assert r.status_code == 201, r.text
        ns_token = (await a.post(f"/__admin/netsuite/accounts/{NS_ACCOUNT}/access-tokens")).json()["access_token"]
    async with httpx.AsyncClient(transport=transports["psa"], base_url=PSA) as a:
        psa_token = (await a.post("/__admin/psa/tokens", json={"account": PSA_ACCOUNT})).json()["access_token"]
    (tmp / "psa.token").write_text(psa_token + "\n")
    g = Globex(tmp / "q2c.toml", transports, sims, ns_token)
    await _netsuite_master_data(g, skip_subsidiaries)
    await _psa_master_data(g, psa_token)
    g.config_path.write_text(config_text(tmp))
    return g


async def _netsuite_master_data(g: Globex, skip: tuple[str, ...]) -> None:
    """What Globex's finance team keeps in NetSuite (through the REST record service, as any admin tool would)."""
    from q2c_harness.connectors.http import BearerToken
    from q2c_harness.connectors.netsuite import NetSuiteClient

    async with NetSuiteClient(NS_ACCOUNT, auth=BearerToken(g.ns_admin_token), base_url=f"{NS}/services/rest",
                              transport=g.transports["netsuite"]) as ns:
        g.currencies["USD"] = "1"
        for code in ("EUR", "AUD"):
            g.currencies[code] = await ns.create("currency", {"name": code, "symbol": code})
        for txn, base, day, rate in RATES:
            await ns.create("currencyRate", {"baseCurrency": {"id": g.currencies[base]},
                                             "transactionCurrency": {"id": g.currencies[txn]},
                                             "exchangeRate": Decimal(rate), "effectiveDate": day})
        for eid, (name, cur, country) in SUBSIDIARIES.items():
            if eid in skip:
                continue
            g.subsidiaries[eid] = await ns.create("subsidiary", {"name": name, "currency": {"id": g.currencies[cur]},
                                                                 "country": country})
        for kind, item in ITEMS.items():
            await ns.create("serviceSaleItem", {"itemId": item, "displayName": kind.title()})
        for code, rate in TAX_CODES.values():
            await ns.create("salesTaxItem", {"name": code, "rate": Decimal(rate), "description": code})


async def _psa_master_data(g: Globex, token: str) -> None:
    from q2c_harness.connectors.psa import PsaClient

    async with PsaClient(f"{PSA}/api/v1", token=token, transport=g.transports["psa"]) as psa:
        for role in ROLES:
            g.roles[role] = int((await psa.create("roles", {"name": role}))["id"])
        card = await psa.create("rate_cards", {"title": RATE_CARD, "currency": "EUR"})
        for n, day in enumerate(("2026-01-01", "2026-04-01")):
            await psa.create("rate_card_versions", {
                "rate_card_id": int(card["id"]), "effective_date": day,
                "rates": [{"role_id": g.roles[role], "region": region, "rate_in_cents": int(Decimal(rates[n]) * 100)}
                          for role, (region, rates) in ROLES.items()]})
