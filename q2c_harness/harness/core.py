"""The scenario runner's view of the integration core: a small driver interface, and its adapter onto the flows'
runtime (`q2c_harness.flows`), in-process (ASGI transports) or against real HTTPS servers.

`CoreDriver` is what steps call for the core's part (poll the vendors' feeds, drain queues, run billing, replay,
work the exception queue) and what the report asks for (audit trail per correlation id, exceptions, KPIs). A user
can pass their own driver (`run_scenario(..., core_factory=...)`) to run the same scenarios against another core.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from q2c_harness.usage import UsageError

from .invariants import Facts, InvariantResult

if TYPE_CHECKING:
    from .scenario import Scenario
    from .steps import EngagementRefs, RunContext


class CoreUnavailable(RuntimeError):
    """The flows runtime is not importable (or lacks what a step needs)."""


class CoreDriver:
    """Defaults: a core that does nothing (vendor-side steps still run; core steps say what is missing)."""

    name = "none"

    async def start(self, ctx: RunContext) -> None: ...
    async def provisioned(self, ctx: RunContext) -> None: ...
    async def clock_moved(self, instant: datetime) -> None: ...
    async def rate_cards_changed(self, ctx: RunContext) -> None: ...

    async def time_passes(self, ctx: RunContext) -> str:
        """Before the virtual clock moves on: what the core's poller would have done meanwhile ("" for nothing)."""
        return ""
    async def close(self) -> None: ...

    def _missing(self, what: str) -> CoreUnavailable:
        return CoreUnavailable(f"the core driver {self.name!r} cannot {what}")

    async def sync(self, ctx: RunContext, rounds: int) -> str:
        raise self._missing("poll the vendors (sync)")

    async def billing_run(self, ctx: RunContext, step: Any) -> str:
        raise self._missing("run billing")

    async def replay(self, ctx: RunContext, step: Any) -> str:
        raise self._missing("replay events")

    async def redeliver(self, ctx: RunContext, step: Any) -> str:
        raise self._missing("rewind its feed offsets")

    async def resolve_exception(self, ctx: RunContext, step: Any) -> str:
        raise self._missing("resolve exceptions")

    async def dispute_invoice(self, ctx: RunContext, step: Any, entry_ids: list[str]) -> str:
        raise self._missing("credit and re-invoice a disputed invoice")

    async def close_period(self, ctx: RunContext, step: Any) -> str:
        raise self._missing("close a period (revenue-recognition inputs)")

    async def revenue_schedule(self, ctx: RunContext) -> list[dict[str, str]]:
        """The revenue-recognition rows the core exported at each close (its documented export), oldest first."""
        return []

    async def sign_change_order(self, ctx: RunContext, refs: EngagementRefs, step: Any) -> str:
        raise self._missing("take a change order")

    async def receive_payment(self, ctx: RunContext, step: Any) -> str:
        raise self._missing("receive a payment")

    # -- reads for facts and reports ----------------------------------------------------------------------------
    def engagement_key(self, refs: EngagementRefs) -> str | None:
        """The core's own id for an engagement (how it names it in NetSuite and the PSA), when it has one."""
        return None

    async def crm_status(self, ctx: RunContext, refs: EngagementRefs) -> dict[str, Any]:
        rows = await ctx.vendors.sf_query(f"SELECT Id, StageName FROM Opportunity WHERE Id = '{refs.sf_opportunity}'")
        return rows[0] if rows else {}

    async def extend_facts(self, ctx: RunContext, facts: Facts) -> Facts:
        return facts

    async def exceptions(self) -> list[dict[str, Any]]:
        return []

    async def timeline(self) -> dict[str, list[dict[str, Any]]]:
        return {}

    async def kpis(self) -> dict[str, Any]:
        return {}

    async def integration_results(self, ctx: RunContext) -> list[InvariantResult]:
        """Invariant 14 as the core can show it (audit chain, cross-references, each business event once), each
        with what it checked. A core that shows nothing leaves them "not evaluated"."""
        return []


FLOWS_ADAPTER = "q2c_harness.harness.flows_core:FlowsCore"


def default_core_factory(*, scenario: Scenario, sims: dict[str, Any], vendors: Any, mode: str, endpoints: Any,
                         workdir: Path) -> CoreDriver:
    """The flows' runtime. A core that cannot be imported (a dependency missing from the environment) is an error
    named as such, never a stand-in core whose steps then fail for reasons that are not the core's."""
    module, cls = FLOWS_ADAPTER.split(":")
    try:
        adapter = getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        raise UsageError(f"the integration core cannot be imported: {exc}: the environment lacks a dependency "
                         f"(reinstall: pip install -e . in a checkout, or pip install -U q2c-harness)") from exc
    return adapter(scenario=scenario, sims=sims, vendors=vendors, mode=mode, endpoints=endpoints, workdir=workdir)
