"""Ops API (FastAPI), Prometheus metrics and KPIs over the engine. See docs/engine.md."""

from .app import create_ops_app
from .kpis import compute_kpis

__all__ = ["compute_kpis", "create_ops_app"]
