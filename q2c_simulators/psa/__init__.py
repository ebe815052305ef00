"""PSA simulator modeled on the Kantata OX (Mavenlink) API v1. See docs/psa.md."""

from .events import verify_signature
from .simulator import PsaSimulator, mint_token

__all__ = ["PsaSimulator", "mint_token", "verify_signature"]
