"""Tax service simulator modeled on AvaTax REST v2 (see docs/tax.md)."""

from .simulator import TaxSimulator

__all__ = ["TaxSimulator"]
