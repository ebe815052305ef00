"""Salesforce record ids: 15-character case-sensitive ids, their 18-character checksummed form, and key prefixes.

An id is the object's 3-character key prefix, a 2-character pod, a reserved `0` and a 9-character base-62 counter.
The 18-character form appends one checksum character per 5-character chunk: a 5-bit mask of which characters are
upper-case letters, indexed into A-Z0-5. Both forms are accepted on input; the simulator stores and answers with 18.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_CHECKSUM = string.ascii_uppercase + "012345"
_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Z0-5]{3})?$", re.IGNORECASE)
POD = "8W"

# Standard key prefixes (the Salesforce values).
STANDARD_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Lead": "00Q",
    "Organization": "00D",
    "OpportunityLineItem": "00k",
    "Product2": "01t",
    "Pricebook2": "01s",
    "PricebookEntry": "01u",
    "Contract": "800",
    "Order": "801",
    "OrderItem": "802",
    "Case": "500",
    "AsyncApexJob": "707",
    "QueryLocator": "01g",
    "BulkJob": "750",
}


def checksum(id15: str) -> str:
    out = []
    for chunk in range(3):
        mask = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                mask |= 1 << i
        out.append(_CHECKSUM[mask])
    return "".join(out)


def to18(id15: str) -> str:
    return id15 + checksum(id15)


def base62(n: int, width: int) -> str:
    chars = []
    while n:
        n, r = divmod(n, 62)
        chars.append(_BASE62[r])
    return "".join(reversed(chars)).rjust(width, "0")


def make_id(prefix: str, n: int) -> str:
    """The 18-character id of the n-th record with this key prefix."""
    return to18(f"{prefix}{POD}0{base62(n, 9)}")


def normalize(value: str) -> str | None:
    """The canonical 18-character form of a 15- or 18-character id, or None when it is not an id."""
    return _normalize(value) if isinstance(value, str) else None


@lru_cache(maxsize=65536)  # every read by id normalizes, and ids repeat
def _normalize(value: str) -> str | None:
    return to18(value[:15]) if _ID_RE.match(value) else None


def custom_prefix(n: int) -> str:
    """Per-org key prefix of the n-th custom object: a0X, a0Y, ... (as an org's custom objects get a0-something)."""
    return "a" + base62(n + 33, 2)  # n=0 -> "a0X"
