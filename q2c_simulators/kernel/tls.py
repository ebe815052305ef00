"""A local certificate authority for serving the simulators over HTTPS.

Real vendor clients only speak https (simple-salesforce and the `netsuite` package hard-code it), so the servers use
a certificate from a CA made here with trustme. Point clients at the CA bundle: REQUESTS_CA_BUNDLE for requests,
SSL_CERT_FILE or `verify=` for httpx.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

# Names a user may map to 127.0.0.1 in /etc/hosts to keep the vendors' own host names in client config.
SERVER_NAMES = (
    "localhost", "127.0.0.1", "::1",
    "login.salesforce.com", "test.salesforce.com", "*.my.salesforce.com",
    "*.suitetalk.api.netsuite.com", "*.restlets.api.netsuite.com",
    "api.mavenlink.com", "*.sim",
)


@dataclass(frozen=True)
class TlsFiles:
    ca_bundle: Path
    cert: Path
    key: Path


def make_tls_files(directory: str | Path) -> TlsFiles:
    """A fresh CA and a server certificate for SERVER_NAMES, written as PEM files into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="q2c-harness local CA")
    server = ca.issue_cert(*SERVER_NAMES)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    ca.cert_pem.write_to_path(str(files.ca_bundle))
    server.cert_chain_pems[0].write_to_path(str(files.cert))
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(str(files.cert), append=True)
    server.private_key_pem.write_to_path(str(files.key))
    return files
