"""Normalising an answer so a sandbox's and a simulator's can be compared: volatile values (ids, timestamps, tokens,
hosts) become typed placeholders such as `<sf-id18>` or `<datetime:dddd-dd-ddTdd:dd:dd.ddd+dddd>`, and only the
headers clients read are kept. The placeholder keeps what a client depends on (an 18-character id, a timestamp's
exact format) and drops what differs between two accounts. Normalising twice changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile(r"^<[a-z0-9-]+(:[^<>]*)?>$")

# The headers a client reads (simple-salesforce, the netsuite package, the core's connectors).
KEPT_HEADERS = ("content-type", "location", "retry-after", "www-authenticate", "allow", "preference-applied",
                "sforce-limit-info", "sforce-locator", "sforce-numberofrecords", "idempotent-replayed",
                "stripe-should-retry")

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_URL = re.compile(r"^(https?://[^/?#\s\"]+)(.*)$")
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class Rules:
    """One provider's volatile values."""
    hosts: re.Pattern[str]                          # hosts whose scheme+host become <base>
    patterns: tuple[tuple[re.Pattern[str], Any], ...] = ()   # (regex, placeholder or re.sub function)
    keys: dict[str, str] = field(default_factory=dict)       # a key's value is volatile whatever it looks like
    digit_id_keys: re.Pattern[str] | None = None    # keys whose digit-string value is a record id
    digit_id_kind: str = "id"
    id_keyed_maps: bool = False                     # objects keyed by digit ids (Kantata's side-loaded maps)
    id_keys: re.Pattern[str] | None = None          # keys that are record ids, normalised like values


_SF_ID = re.compile(r"\b(?=[0-9A-Za-z]*\d[0-9A-Za-z]*\d)(?:[0-9][0-9A-Za-z]{2}|a[0-9][0-9A-Za-z])"
                    r"[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?\b")
_ANY_VENDOR_HOST = r"|localhost|127\.0\.0\.1|\[::1\]|[a-z0-9-]+\.sim"

RULES: dict[str, Rules] = {
    "salesforce": Rules(
        hosts=re.compile(r"^https?://(?:[^/]*\.(?:salesforce|force|my\.salesforce|sfdc)\.com|[a-z0-9-]+\.salesforce"
                         r"\.com" + _ANY_VENDOR_HOST + r")(:\d+)?$", re.I),
        patterns=(
            (re.compile(r"\b00D[0-9A-Za-z]{12,15}![0-9A-Za-z._-]+"), "<token>"),
            (re.compile(r"\b01g[0-9A-Za-z]{12,15}-\d+\b"), "<query-locator>"),
            (_SF_ID, lambda m: f"<sf-id{len(m.group(0))}>"),
            (re.compile(r"services/data/v\d+\.\d"), "services/data/<version>"),
            (re.compile(r"/services/Soap/u/\d+\.\d"), "/services/Soap/u/<version>"),
        ),
        id_keys=_SF_ID,
        keys={"access_token": "<token>", "refresh_token": "<token>", "signature": "<signature>",
              "issued_at": "<epoch-ms>", "sessionId": "<token>", "transactionKey": "<uuid>",
              "commitTimestamp": "<epoch-ms>", "commitNumber": "<commit-number>", "replayId": "<replay-id>",
              "latestReplayId": "<replay-id>"},
    ),
    "netsuite": Rules(
        hosts=re.compile(r"^https?://(?:[^/]*\.netsuite\.com" + _ANY_VENDOR_HOST + r")(:\d+)?$", re.I),
        patterns=((re.compile(r"(?<=/)\d+(?=/|$|\?)"), "<ns-id>"),),
        keys={"access_token": "<token>"},
        digit_id_keys=re.compile(r"^id$"), digit_id_kind="ns-id",
    ),
    "psa": Rules(
        hosts=re.compile(r"^https?://(?:[^/]*\.(?:mavenlink|kantata)\.com" + _ANY_VENDOR_HOST + r")(:\d+)?$", re.I),
        patterns=((re.compile(r"(?<=/)\d+(?=/|\.json|$|\?)"), "<psa-id>"),),
        digit_id_keys=re.compile(r"^(id|.+_id)$"), digit_id_kind="psa-id",
        id_keyed_maps=True,
    ),
    "payments": Rules(
        hosts=re.compile(r"^https?://(?:[^/]*\.stripe\.com" + _ANY_VENDOR_HOST + r")(:\d+)?$", re.I),
        patterns=((re.compile(r"\b(?:pi|seti)_[0-9A-Za-z]{8,}_secret_[0-9A-Za-z]+"), "<client-secret>"),
                  (re.compile(r"\b(cus|pm|pi|ch|py|re|evt|we|seti|txn|card|tok|src|req|in|sub|prod|price|acct)"
                              r"_(?=[0-9A-Za-z]*\d)[0-9A-Za-z]{8,}\b"), lambda m: f"<stripe-id:{m.group(1)}>")),  # card_declined is no id
        keys={"created": "<epoch-s>", "secret": "<secret>", "invoice_prefix": "<invoice-prefix>"},
    ),
    # AvaTax: ids are JSON integers (compared by type); assigned document codes are UUIDs (<uuid>)
    "tax": Rules(
        hosts=re.compile(r"^https?://(?:[^/]*\.avatax\.com" + _ANY_VENDOR_HOST + r")(:\d+)?$", re.I),
    ),
}


def rules_for(provider: str) -> Rules:
    return RULES.get(provider, Rules(hosts=re.compile(r"^https?://(?:localhost|127\.0\.0\.1)(:\d+)?$")))


def datetime_placeholder(value: str) -> str:
    return f"<datetime:{re.sub(r'[0-9]', 'd', value)}>"


class Normaliser:
    def __init__(self, provider: str, extra_hosts: tuple[str, ...] = ()) -> None:
        self.rules = rules_for(provider)
        self.extra_hosts = tuple(h.rstrip("/").lower() for h in extra_hosts)

    # ---- strings -------------------------------------------------------------------------------------------------
    def string(self, value: str, key: str | None = None) -> str:
        if PLACEHOLDER.match(value):
            return value
        if key is not None and key in self.rules.keys:
            return self.rules.keys[key]
        if key is not None and self.rules.digit_id_keys is not None and _DIGITS.match(value) \
                and self.rules.digit_id_keys.match(key):
            return f"<{self.rules.digit_id_kind}>"
        if _DATETIME.match(value):
            return datetime_placeholder(value)
        if _DATE.match(value):
            return "<date>"
        m = _URL.match(value)
        if m and (self.rules.hosts.match(m.group(1)) or m.group(1).lower() in self.extra_hosts):
            value = "<base>" + m.group(2)
        value = _UUID.sub("<uuid>", value)
        for pattern, placeholder in self.rules.patterns:
            value = pattern.sub(placeholder, value)
        return value

    # ---- JSON ----------------------------------------------------------------------------------------------------
    def body(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                nk = self._key(k)
                if nk not in out:  # id-keyed maps keep their first entry as the exemplar of the shape
                    out[nk] = self.body(v, k)
            return out
        if isinstance(value, list):
            return [self.body(v, key) for v in value]
        if isinstance(value, str):
            return self.string(value, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key in self.rules.keys:
            return self.rules.keys[key]
        return value

    def _key(self, key: str) -> str:
        if self.rules.id_keyed_maps and _DIGITS.match(key):
            return f"<{self.rules.digit_id_kind}>"
        if self.rules.id_keys is not None and self.rules.id_keys.fullmatch(key):  # a map keyed by record id
            return self.string(key)
        return key

    # ---- headers -------------------------------------------------------------------------------------------------
    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        out = {}
        for name, value in headers.items():
            n = name.lower()
            if n in KEPT_HEADERS:
                out[n] = self.header(n, value)
        return dict(sorted(out.items()))

    def header(self, name: str, value: str) -> str:
        if PLACEHOLDER.match(value):
            return value
        if name == "content-type":
            return value.replace(" ", "").lower()
        if name == "retry-after":
            return "<seconds>" if _DIGITS.match(value.strip()) else value
        if name == "sforce-limit-info":
            return re.sub(r"\d+", "<n>", value)
        if name == "sforce-numberofrecords":
            return "<n>" if _DIGITS.match(value.strip()) else value
        if name == "sforce-locator":
            return value if value == "null" else "<locator>"
        if name == "www-authenticate":
            return re.sub(r'realm="[^"]*"', 'realm="<realm>"', value)
        if name == "allow":
            return ", ".join(sorted(m.strip().upper() for m in value.split(",") if m.strip()))
        if name == "location":
            return self.string(value)
        return value
