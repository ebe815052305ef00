"""The simulator kernel: what every vendor simulator shares (see docs/simulators.md)."""

from .clock import VirtualClock
from .errors import VendorError
from .faults import FaultEngine, FaultProfile, FaultRule
from .journal import Journal, JournalEntry, JournalQuery
from .quotas import QuotaEngine, QuotaSpec
from .simulator import ConnectionReset, Simulator
from .store import Store, Tenants
from .template import Responses, Url, operation

__all__ = [
    "ConnectionReset", "FaultEngine", "FaultProfile", "FaultRule", "Journal", "JournalEntry", "JournalQuery",
    "QuotaEngine", "QuotaSpec", "Responses", "Simulator", "Store", "Tenants", "Url", "VendorError", "VirtualClock",
    "operation",
]
