"""The simulator kernel: what every vendor simulator shares (see docs/simulators.md)."""

from .clock import VirtualClock
from .faults import FaultEngine, FaultProfile, FaultRule
from .journal import Journal, JournalEntry, JournalQuery
from .quotas import QuotaEngine, QuotaSpec
from .simulator import ConnectionReset, Simulator
from .store import Store, Tenants

__all__ = [
    "ConnectionReset", "FaultEngine", "FaultProfile", "FaultRule", "Journal", "JournalEntry", "JournalQuery",
    "QuotaEngine", "QuotaSpec", "Simulator", "Store", "Tenants", "VirtualClock",
]
