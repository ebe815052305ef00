"""pytest plugin (entry point ``q2c``), as users of moto and pytest-httpserver expect.

Your YAML scenarios are tests: every scenario file in a directory named ``scenarios`` (not its ``faults/``) under
what pytest collects, and in ``--q2c-scenarios-dir DIR``, is one test item; a failure shows the scenario's
explanation (the failing invariant, expected vs actual, the correlation trail), not a traceback. A scenario marked
``pending`` that fails is an expected failure.

Fixtures:

- ``q2c_servers``: every simulator behind a real HTTPS server for your own client, fresh for each test: base URLs,
  the CA bundle (``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``), an endpoints file, and credentials minted through the
  admin APIs (``q2c_servers.credentials["netsuite"]["consumer_key"]`` ...). With simple-salesforce use
  ``q2c_servers.salesforce_session()`` (or `q2c_harness.harness.clients.salesforce_login_session`).
- ``q2c_stack``: runs scenarios (a Scenario object, a name, or a YAML path): ``result = q2c_stack.run("x")``; a
  result's repr is its explanation, so ``assert result.ok`` says why; ``q2c_stack.check("x")`` raises with it.
- ``run_scenario``: ``q2c_stack.run``. ``q2c_sims``: fresh in-process simulators.

Options: ``--q2c-seed N``, ``--q2c-servers`` (scenarios against real HTTPS servers), ``--q2c-scenarios-dir DIR``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from .catalog import SUFFIXES

ScenarioCatalog = Any  # q2c_harness.harness.catalog.Catalog (imported when used: the plugin loads with pytest)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("q2c", "q2c-harness scenarios")
    group.addoption("--q2c-seed", type=int, default=None, help="override scenario seeds")
    group.addoption("--q2c-servers", action="store_true", help="run scenarios against real HTTPS servers")
    group.addoption("--q2c-scenarios-dir", metavar="DIR", default=None,
                    help="your scenarios (and faults/): collected as tests and found by name before the built-in "
                         "ones")


def _scenarios_dir(config: pytest.Config) -> Path | None:
    value = config.getoption("--q2c-scenarios-dir")
    return (Path(config.invocation_params.dir) / value).resolve() if value else None


def pytest_configure(config: pytest.Config) -> None:
    directory = _scenarios_dir(config)
    if directory is None:
        return
    if not directory.is_dir():
        raise pytest.UsageError(f"--q2c-scenarios-dir {config.getoption('--q2c-scenarios-dir')}: no such directory")
    roots = [(Path(config.invocation_params.dir) / a.split("::")[0]).resolve() for a in config.args]
    if not any(directory == r or r in directory.parents for r in roots):
        config.args.append(str(directory))  # collected besides the tests asked for


def _catalog(config: pytest.Config) -> ScenarioCatalog:
    from .catalog import discover

    return discover(_scenarios_dir(config), cwd=Path(config.invocation_params.dir))


def _is_scenario_file(file_path: Path, config: pytest.Config) -> bool:
    if file_path.suffix not in SUFFIXES or file_path.parent.name == "faults":
        return False
    directory = _scenarios_dir(config)
    return file_path.parent.name == "scenarios" or (directory is not None and directory in file_path.parents)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_scenario_file(file_path, parent.config):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from .catalog import YamlProblem, read_yaml

        try:
            data = read_yaml(self.path.read_text(encoding="utf-8"), str(self.path))
        except YamlProblem:
            data = {"steps": True}  # not YAML: the item reports why
        if isinstance(data, dict) and "steps" in data:  # other YAML in a scenarios directory is not ours
            name = data.get("name") if isinstance(data.get("name"), str) else self.path.stem
            yield ScenarioItem.from_parent(self, name=name)


class ScenarioFailed(Exception):
    """A scenario that failed; the message is its explanation."""


class ScenarioItem(pytest.Item):
    def runtest(self) -> None:
        from .runner import run_scenario
        from .scenario import ScenarioError, load_scenario

        config = self.config
        try:
            scenario = load_scenario(self.path, _catalog(config)).with_overrides(
                seed=config.getoption("--q2c-seed"))
        except ScenarioError as exc:
            raise ScenarioFailed(str(exc)) from None
        result = run_scenario(scenario, mode="servers" if config.getoption("--q2c-servers") else "in-process")
        self.user_properties.append(("q2c_seconds", round(result.seconds, 3)))
        if result.ok:
            return
        if scenario.pending:
            pytest.xfail(f"pending: {scenario.pending.strip()}")
        raise ScenarioFailed(result.explain())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)  # type: ignore[arg-type]

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.name}"


# ---- fixtures ---------------------------------------------------------------------------------------------------
@pytest.fixture
def q2c_sims(request: pytest.FixtureRequest) -> dict[str, Any]:
    from q2c_simulators.kernel.serving import build_simulators

    return build_simulators(seed=request.config.getoption("--q2c-seed") or 0)


@dataclass
class Q2CStack:
    """Simulators and a runner: ``run(scenario)`` -> ScenarioResult; ``check(scenario)`` fails with the explanation."""

    mode: str
    seed: int | None
    tmp: Path
    core_factory: Callable[..., Any] | None = None
    catalog: ScenarioCatalog = None

    def load(self, scenario: Any) -> Any:
        from .scenario import Scenario, load_scenario, resolve_fault_profiles

        sc = resolve_fault_profiles(scenario, self.catalog) if isinstance(scenario, Scenario) \
            else load_scenario(scenario, self.catalog)
        return sc.with_overrides(seed=self.seed)

    def run(self, scenario: Any, **kwargs: Any) -> Any:
        from .runner import run_scenario

        kwargs.setdefault("mode", self.mode)
        kwargs.setdefault("core_factory", self.core_factory)
        kwargs.setdefault("tls_dir", self.tmp / "tls")
        return run_scenario(self.load(scenario), **kwargs)

    def check(self, scenario: Any, **kwargs: Any) -> Any:
        """Run and fail the test with the explanation unless the scenario passes; returns the result."""
        result = self.run(scenario, **kwargs)
        if not result.ok:
            pytest.fail(result.explain(), pytrace=False)
        return result


@pytest.fixture
def q2c_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Q2CStack:
    mode = "servers" if request.config.getoption("--q2c-servers") else "in-process"
    return Q2CStack(mode, request.config.getoption("--q2c-seed"), tmp_path, catalog=_catalog(request.config))


@pytest.fixture
def run_scenario(q2c_stack: Q2CStack) -> Callable[..., Any]:
    return q2c_stack.run


@dataclass
class Q2CServers:
    """Running simulators for your own client: where they are, what to trust, and credentials to use."""

    base_urls: dict[str, str]
    ca_bundle: str
    endpoints_file: Path
    credentials: dict[str, dict[str, str]]
    tenants: dict[str, str]
    sims: dict[str, Any] = field(repr=False, default_factory=dict)

    def env(self) -> dict[str, str]:
        """Environment variables that make requests/simple-salesforce and httpx/netsuite trust the simulators."""
        return {"REQUESTS_CA_BUNDLE": self.ca_bundle, "SSL_CERT_FILE": self.ca_bundle}

    def salesforce_session(self) -> Any:
        """A requests.Session for ``simple_salesforce.Salesforce(username=..., session=...)``: logs in here."""
        from .clients import salesforce_login_session

        return salesforce_login_session(self.base_urls["salesforce"], self.ca_bundle)

    def admin(self, name: str) -> Any:
        """The simulator's admin API (clock, faults, journal, snapshots) as a `SimAdmin`."""
        import httpx

        from .sim_admin import SimAdmin

        return SimAdmin(httpx.Client(base_url=self.base_urls[name], verify=self.ca_bundle, timeout=30))


def _mint(base_urls: dict[str, str], ca: str, tenants: dict[str, str]) -> dict[str, dict[str, str]]:
    """What an integration administrator sets up once: a Salesforce user and session, NetSuite TBA credentials and
    a bearer token, a PSA token (each simulator's admin API)."""
    import httpx

    out: dict[str, dict[str, str]] = {}
    with httpx.Client(verify=ca, timeout=30) as http:
        def post(url: str, body: Any = None) -> dict[str, Any]:
            r = http.post(url, json=body)
            r.raise_for_status()
            return r.json()

        if "salesforce" in base_urls:
            sf, org = base_urls["salesforce"], tenants["salesforce"]
            user = {"username": f"integration@{org.lower().replace('_', '-')}.example", "password": "q2c-password",
                    "security_token": "Q2CTOKEN"}
            post(f"{sf}/__admin/salesforce/users", {"tenant": org, **user})
            out["salesforce"] = {"instance_url": sf, "access_token": post(f"{sf}/__admin/salesforce/tokens",
                                                                         {"tenant": org})["access_token"], **user}
        if "netsuite" in base_urls:
            ns, account = base_urls["netsuite"], tenants["netsuite"]
            app = post(f"{ns}/__admin/netsuite/accounts/{account}/integrations", {"name": "my-client"})
            token = post(f"{ns}/__admin/netsuite/accounts/{account}/tokens", {"consumer_key": app["consumer_key"]})
            bearer = post(f"{ns}/__admin/netsuite/accounts/{account}/access-tokens")
            out["netsuite"] = {"account": account, "hostname": ns.split("://", 1)[1],
                               "consumer_key": app["consumer_key"], "consumer_secret": app["consumer_secret"],
                               "token_id": token["token_id"], "token_secret": token["token_secret"],
                               "access_token": bearer["access_token"]}
        if "psa" in base_urls:
            out["psa"] = {"account": tenants["psa"], "access_token": post(
                f"{base_urls['psa']}/__admin/psa/tokens", {"account": tenants["psa"]})["access_token"]}
    return out


@pytest.fixture
def q2c_servers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Q2CServers]:
    from q2c_simulators.kernel.serving import build_simulators, running_servers

    from .scenario import Tenants

    sims = build_simulators(seed=request.config.getoption("--q2c-seed") or 0)
    tls = tmp_path_factory.getbasetemp() / "q2c-tls"
    with running_servers(sims, tls_dir=tls) as endpoints:
        tenants = Tenants().model_dump()
        path = endpoints.write(tmp_path_factory.mktemp("q2c") / "endpoints.json")
        yield Q2CServers(dict(endpoints.base_urls), str(endpoints.ca_bundle), path,
                         _mint(endpoints.base_urls, str(endpoints.ca_bundle), tenants), tenants, sims)
