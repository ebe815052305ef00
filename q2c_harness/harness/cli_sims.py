"""The standalone simulators, as users of WireMock and LocalStack expect: `q2c sim serve` (optionally restored from a
snapshot file and seeded with data), `q2c sim faults load|clear` on every running simulator, and `q2c sim snapshot
save|restore` to and from any path. Everything goes through each simulator's own admin API (`/__admin`), so the same
commands work on simulators served by another process or machine (named in an endpoints file).

A snapshot file holds one simulator's snapshot (`GET /__admin/snapshot`) or a bundle of several::

    {"format": "q2c-snapshots/1", "simulators": {"salesforce": {...}, "netsuite": {...}, "psa": {...}}}

Seed data is a scenario (its master data is provisioned as in a scenario run: PSA roles, people and rate cards,
NetSuite exchange rates) or
a fixture of requests sent through the vendors' public APIs with credentials minted for the tenant::

    tenants: {psa: q2c}                      # optional; the scenario defaults otherwise
    requests:
      - {simulator: psa, method: POST, path: /api/v1/roles.json, json: {role: {name: Consultant}}}
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from q2c_harness.usage import UsageError

BUNDLE_FORMAT = "q2c-snapshots/1"


# ---- endpoints -----------------------------------------------------------------------------------------------------
def read_endpoints(path: str | Path) -> Any:
    from q2c_simulators.kernel.serving import Endpoints

    path = Path(path)
    try:
        spec = json.loads(path.read_text())
        return Endpoints(dict(spec["simulators"]), spec.get("ca_bundle"), int(spec.get("seed", 0)))
    except FileNotFoundError:
        raise UsageError(f"endpoints file {path}: no such file (written by `q2c sim serve --endpoints-file`)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"endpoints file {path}: not an endpoints file ({type(exc).__name__}: {exc})") from None


def _admin(endpoints: Any, name: str) -> httpx.Client:
    return httpx.Client(base_url=f"{endpoints.base_urls[name]}/__admin", verify=endpoints.ca_bundle or True,
                        timeout=60)


def _check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 300:
        detail = response.text[:300]
        try:
            detail = str(response.json().get("detail", detail))
        except ValueError:
            pass
        raise UsageError(f"{what}: {response.status_code} {detail}")
    return response.json() if response.content else None


def _reach(endpoints: Any, name: str, fn: Any) -> Any:
    try:
        with _admin(endpoints, name) as admin:
            return fn(admin)
    except httpx.TransportError as exc:
        raise UsageError(f"{name} at {endpoints.base_urls[name]} is not reachable: {exc}") from None


# ---- snapshots -----------------------------------------------------------------------------------------------------
def read_snapshots(path: str | Path) -> dict[str, Any]:
    """simulator -> snapshot, from a bundle or a single simulator's snapshot file."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"snapshot file {path}: no such file") from None
    except ValueError as exc:
        raise UsageError(f"snapshot file {path}: not JSON ({exc})") from None
    if isinstance(doc, dict) and doc.get("format") == BUNDLE_FORMAT and isinstance(doc.get("simulators"), dict):
        return doc["simulators"]
    if isinstance(doc, dict) and isinstance(doc.get("simulator"), str) and "tenants" in doc:
        return {doc["simulator"]: doc}
    raise UsageError(f"snapshot file {path}: neither a simulator snapshot nor a {BUNDLE_FORMAT} bundle")


def save_snapshots(endpoints: Any, path: str | Path) -> dict[str, int]:
    snapshots = {name: _reach(endpoints, name, lambda a: _check(a.get("/snapshot"), f"{name} snapshot"))
                 for name in endpoints.base_urls}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": BUNDLE_FORMAT, "simulators": snapshots}, indent=1, sort_keys=True) + "\n")
    return {name: len(s.get("tenants", {})) for name, s in snapshots.items()}


def restore_snapshots(endpoints: Any, path: str | Path) -> dict[str, int]:
    snapshots = read_snapshots(path)
    unknown = sorted(set(snapshots) - set(endpoints.base_urls))
    if unknown:
        raise UsageError(f"snapshot file {path} holds {', '.join(unknown)}, which is not served "
                         f"(serving: {', '.join(endpoints.base_urls)})")
    done = {}
    for name, snap in snapshots.items():
        body = _reach(endpoints, name, lambda a: _check(a.post("/restore", json={"snapshot": snap}),
                                                        f"restoring {name} from {path}"))
        done[name] = len(body.get("tenants", []))
    return done


# ---- faults --------------------------------------------------------------------------------------------------------
def load_faults(endpoints: Any, profile: str) -> dict[str, int]:
    """A fault profile (by name from the catalog, or a path) on every simulator; each keeps the rules meant for it."""
    from .scenario import fault_profile_path

    path = fault_profile_path(profile)
    text = Path(path).read_text(encoding="utf-8")
    loaded = {}
    for name in endpoints.base_urls:
        body = _reach(endpoints, name, lambda a: _check(
            a.post("/faults/profile", content=text.encode(), headers={"content-type": "application/yaml"}),
            f"loading fault profile {profile} into {name}"))
        loaded[name] = len(body["faults"])
    return loaded


def clear_faults(endpoints: Any) -> list[str]:
    for name in endpoints.base_urls:
        _reach(endpoints, name, lambda a: _check(a.delete("/faults"), f"clearing the faults of {name}"))
    return list(endpoints.base_urls)


# ---- seed data -----------------------------------------------------------------------------------------------------
def seed_data(endpoints: Any, path: str | Path) -> str:
    """Load a scenario's master data or a fixture of requests into running simulators; what was done, in words."""
    from .catalog import YamlProblem, read_yaml

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"seed data {path}: no such file")
    try:
        doc = read_yaml(path.read_text(encoding="utf-8"), str(path))
    except YamlProblem as exc:
        raise UsageError(str(exc)) from None
    if isinstance(doc, dict) and "requests" in doc and "steps" not in doc:
        return asyncio.run(_send_fixture(endpoints, doc, str(path)))
    if isinstance(doc, dict) and "master_data" in doc:
        from .scenario import load_scenario

        return asyncio.run(_provision_scenario(endpoints, load_scenario(path)))
    raise UsageError(f"seed data {path}: neither a scenario (with master_data) nor a fixture (with requests)")


async def _login(vendors: Any) -> None:
    """Credentials for each simulator served (any subset), minted through its admin API as a scenario run does."""
    t = vendors.tenants
    mint = {"salesforce": ("/__admin/salesforce/tokens", {"tenant": t["salesforce"]}),
            "netsuite": (f"/__admin/netsuite/accounts/{t['netsuite']}/access-tokens", None),
            "psa": ("/__admin/psa/tokens", {"account": t["psa"]})}
    for system, client in vendors.clients.items():
        path, body = mint[system]
        vendors.tokens[system] = _check(await client.post(path, json=body), f"credentials for {system}")[
            "access_token"]


def _session(endpoints: Any, tenants: dict[str, str]) -> Any:
    from .scenario import Tenants
    from .vendors import VendorSession

    served = {k: v for k, v in endpoints.base_urls.items() if k in ("salesforce", "netsuite", "psa")}
    return VendorSession.over_network(served, endpoints.ca_bundle, Tenants(**tenants).model_dump())


async def _send_fixture(endpoints: Any, doc: dict[str, Any], source: str) -> str:
    from .vendors import VendorCallFailed

    requests = doc.get("requests")
    if not isinstance(requests, list):
        raise UsageError(f"{source}: requests: a list of {{simulator, method, path, json}} is expected")
    vendors = _session(endpoints, doc.get("tenants") or {})
    try:
        await _login(vendors)
        for i, req in enumerate(requests):
            where = f"{source}: requests[{i}]"
            if not isinstance(req, dict) or not {"simulator", "path"} <= set(req):
                raise UsageError(f"{where}: needs simulator and path (method POST by default)")
            if req["simulator"] not in vendors.clients:
                raise UsageError(f"{where}.simulator: {req['simulator']!r} is not served")
            try:
                await vendors.call(req["simulator"], str(req.get("method", "POST")).upper(), req["path"],
                                   json=req.get("json"), attempts=3)
            except VendorCallFailed as exc:
                raise UsageError(f"{where}: {exc}") from None
    finally:
        await vendors.aclose()
    return f"{len(requests)} request(s) from {source}"


async def _provision_scenario(endpoints: Any, scenario: Any) -> str:
    from datetime import timezone

    from . import steps as st
    from .core import CoreDriver
    from .masterdata import build_world

    missing = [n for n in ("salesforce", "netsuite", "psa") if n not in endpoints.base_urls]
    if missing:
        raise UsageError(f"a scenario's master data goes into Salesforce, NetSuite and the PSA: {', '.join(missing)} "
                         f"not served")
    vendors = _session(endpoints, scenario.tenants.model_dump())
    try:
        await _login(vendors)
        start = scenario.start if scenario.start.tzinfo else scenario.start.replace(tzinfo=timezone.utc)
        ctx = st.RunContext(scenario, build_world(scenario), vendors, CoreDriver(), start)
        await st.provision(ctx)
    finally:
        await vendors.aclose()
    return (f"master data of scenario {scenario.name}: {len(ctx.psa_roles)} role(s), {len(ctx.psa_users)} "
            f"person(s), {len(ctx.psa_rate_cards)} rate card(s) in the PSA")


# ---- serve ---------------------------------------------------------------------------------------------------------
def serve(*, only: list[str] | None, seed: int, faults: str | None, host: str, port_base: int, http: bool,
          tls_dir: str, log_level: str, endpoints_file: str | None, restore: str | None,
          seed_file: str | None) -> int:
    """Serve until Ctrl-C / SIGTERM. The endpoints file is written once the servers answer and the snapshot and seed
    data are in: a client waiting for the file finds the simulators ready."""
    from q2c_simulators.kernel.serving import REGISTRY, SimServers, available, build_simulators

    from .scenario import fault_profile_path

    unknown = [n for n in only or [] if n not in REGISTRY]
    if unknown:
        raise UsageError(f"--only {', '.join(unknown)}: unknown simulator; known: {', '.join(available())}")
    profile = fault_profile_path(faults, where="--faults") if faults else None
    for option, value in (("--restore", restore), ("--seed-data", seed_file)):
        if value and not Path(value).is_file():
            raise UsageError(f"{option} {value}: no such file")
    sims = build_simulators(only or None, seed=seed, faults_file=profile)
    servers = SimServers(sims, host=host, port_base=port_base, http=http, tls_dir=tls_dir, log_level=log_level)
    endpoints = servers.endpoints()
    failure: list[BaseException] = []

    def prepare() -> None:
        deadline = time.monotonic() + 30
        while not all(s.started for s in servers.servers.values()):
            if time.monotonic() > deadline:
                failure.append(UsageError("the simulators did not start within 30 s"))
                servers.stop()
                return
            time.sleep(0.02)
        try:
            notes = []
            if restore:
                counts = restore_snapshots(endpoints, restore)
                notes.append(f"restored from {restore}: " + ", ".join(f"{k} {n} tenant(s)" for k, n in counts.items()))
            if seed_file:
                notes.append("seeded: " + seed_data(endpoints, seed_file))
            if endpoints_file:
                endpoints.write(endpoints_file)
            _banner(endpoints, seed, faults, endpoints_file, notes)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread once the servers stopped
            failure.append(exc)
            servers.stop()

    threading.Thread(target=prepare, name="sim-prepare", daemon=True).start()
    try:
        servers.run()
    except KeyboardInterrupt:
        pass
    if failure:
        raise failure[0]
    return 0


def _banner(endpoints: Any, seed: int, faults: str | None, endpoints_file: str | None, notes: list[str]) -> None:
    print(f"q2c simulators (seed {seed}{', faults from ' + faults if faults else ''})")
    for name, url in endpoints.base_urls.items():
        print(f"  {name:<11} {url}    admin: {url}/__admin/docs    openapi: {url}/openapi.json")
    if endpoints.ca_bundle:
        print(f"  CA bundle   {endpoints.ca_bundle}  (REQUESTS_CA_BUNDLE / SSL_CERT_FILE for clients)")
    if endpoints_file:
        print(f"  endpoints   {Path(endpoints_file).resolve()}")
    for note in notes:
        print(f"  {note}")
    print("Ctrl-C stops them.", flush=True)
