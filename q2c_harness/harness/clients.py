"""Helpers for your own vendor clients against the simulators.

simple-salesforce logs in at a fixed host (``https://login.salesforce.com``, or ``test.`` with ``domain="test"``).
`salesforce_login_session` gives a `requests.Session` that sends those login calls to the simulator instead and
trusts its CA; everything after the login goes to the ``instance_url`` the simulator answered with::

    from simple_salesforce import Salesforce
    from q2c_harness.harness.clients import salesforce_login_session

    sf = Salesforce(username="ops@acme.example", password="pw", security_token="TOKEN",
                    session=salesforce_login_session(servers.base_urls["salesforce"], servers.ca_bundle))

Needs `requests` (which simple-salesforce brings).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

LOGIN_HOSTS = ("https://login.salesforce.com", "https://test.salesforce.com")


class SalesforceLoginRedirect(HTTPAdapter):
    """A transport adapter that sends requests for the Salesforce login hosts to `target` (the simulator)."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        for host in LOGIN_HOSTS:
            if request.url and request.url.startswith(host):
                request.url = self.target + request.url[len(host):]
                break
        return super().send(request, **kwargs)


def salesforce_login_session(base_url: str, ca_bundle: str | None = None) -> requests.Session:
    """A session for simple-salesforce (``Salesforce(..., session=...)``) that logs in at the simulator; given a CA
    bundle it trusts that bundle whatever the environment says (else REQUESTS_CA_BUNDLE applies)."""
    session = requests.Session()
    if ca_bundle:  # requests lets REQUESTS_CA_BUNDLE (and proxy variables) win over session.verify: not here
        session.trust_env = False
        session.verify = ca_bundle
    adapter = SalesforceLoginRedirect(base_url)
    for host in LOGIN_HOSTS:
        session.mount(host, adapter)
    return session
