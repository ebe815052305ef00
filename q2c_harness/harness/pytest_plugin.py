"""pytest plugin (entry point ``q2c``): fixtures for the simulators, the core and scenario runs.

    def test_my_flow(q2c_stack):
        result = q2c_stack.run(my_scenario)          # a Scenario object, a name, or a YAML path
        assert result.ok, result.explain()

    def test_named(run_scenario):
        assert run_scenario("multi_entity_tm").ok

Fixtures: ``q2c_sims`` (fresh in-process simulators, seed from ``--q2c-seed``), ``q2c_stack`` (simulators + the
core's driver factory + a runner bound to them), ``run_scenario`` (load and run a scenario by name or object; a
failed run's explanation is attached to the assertion). ``--q2c-servers`` runs against real HTTPS servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("q2c", "q2c-harness scenarios")
    group.addoption("--q2c-seed", type=int, default=None, help="override scenario seeds")
    group.addoption("--q2c-servers", action="store_true", help="run scenarios against real HTTPS servers")


@pytest.fixture
def q2c_sims(request: pytest.FixtureRequest) -> dict[str, Any]:
    from q2c_simulators.kernel.serving import build_simulators

    return build_simulators(seed=request.config.getoption("--q2c-seed") or 0)


@dataclass
class Q2CStack:
    """Simulators and a runner: ``run(scenario)`` -> ScenarioResult."""

    mode: str
    seed: int | None
    tmp: Path
    core_factory: Callable[..., Any] | None = None

    def load(self, scenario: Any) -> Any:
        from q2c_harness.harness.scenario import Scenario, load_scenario

        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        return sc.with_overrides(seed=self.seed)

    def run(self, scenario: Any, **kwargs: Any) -> Any:
        from q2c_harness.harness.runner import run_scenario

        kwargs.setdefault("mode", self.mode)
        kwargs.setdefault("core_factory", self.core_factory)
        kwargs.setdefault("tls_dir", self.tmp / "tls")
        return run_scenario(self.load(scenario), **kwargs)


@pytest.fixture
def q2c_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Q2CStack:
    mode = "servers" if request.config.getoption("--q2c-servers") else "in-process"
    return Q2CStack(mode, request.config.getoption("--q2c-seed"), tmp_path)


@pytest.fixture
def run_scenario(q2c_stack: Q2CStack) -> Callable[..., Any]:
    return q2c_stack.run
