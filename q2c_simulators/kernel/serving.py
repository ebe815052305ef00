"""Serving the simulators: one ASGI app for in-process use, and real (HTTPS) servers, one port per simulator.

In-process: `httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://salesforce.sim")` — the
combined app dispatches on the host's first label (salesforce, netsuite, psa) or on a path prefix (/salesforce/...).
Real servers: `q2c sim serve` or `running_servers(...)` in tests; both write an endpoints file for clients.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import importlib.util
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.responses import JSONResponse
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from . import connections
from .admin import parse_profile
from .simulator import Simulator
from .tls import TlsFiles, make_tls_files

# name -> "module:Class"; a simulator joins the product by adding itself here.
REGISTRY: dict[str, str] = {
    "salesforce": "q2c_simulators.salesforce.simulator:SalesforceSimulator",
    "netsuite": "q2c_simulators.netsuite.simulator:NetSuiteSimulator",
    "psa": "q2c_simulators.psa.simulator:PsaSimulator",
    "tax": "q2c_simulators.tax.simulator:TaxSimulator",
    "payments": "q2c_simulators.payments.simulator:PaymentsSimulator",
}

# Real vendor host names route to their simulator too, for users who map them to 127.0.0.1.
_HOST_SUFFIXES = {"salesforce.com": "salesforce", "netsuite.com": "netsuite", "mavenlink.com": "psa",
                  "avatax.com": "tax", "api.stripe.com": "payments"}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def available() -> list[str]:
    """Registered simulators whose package is present."""
    return [name for name, target in REGISTRY.items() if _importable(target.split(":")[0])]


def simulator_class(name: str) -> type[Simulator]:
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def build_simulators(
    names: list[str] | None = None, *, seed: int = 0, faults_file: str | Path | None = None, **options: Any
) -> dict[str, Simulator]:
    """Build simulators by name (all available by default), each with the seed and the fault profile applied."""
    profile = parse_profile(Path(faults_file).read_text()) if faults_file else None
    sims: dict[str, Simulator] = {}
    for name in names or available():
        sim = simulator_class(name)(seed=seed, **options)
        if profile is not None:
            sim.faults.load_profile(profile)
        sims[name] = sim
    return sims


class CombinedApp:
    """Every simulator in one ASGI app: dispatch on the Host header's first label, or on a /{name} path prefix."""

    def __init__(self, sims: dict[str, Simulator]) -> None:
        self.sims = sims

    def _pick(self, scope: dict) -> tuple[Simulator | None, str]:
        host = ""
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1").split(":")[0].lower()
                break
        label = host.split(".")[0]
        if label in self.sims:
            return self.sims[label], ""
        for suffix, name in _HOST_SUFFIXES.items():
            if host.endswith(suffix) and name in self.sims:
                return self.sims[name], ""
        first = scope.get("path", "/").split("/")[1] if scope.get("path", "/").count("/") >= 1 else ""
        if first in self.sims:
            return self.sims[first], "/" + first
        return None, ""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        sim, prefix = self._pick(scope)
        if sim is None:
            response = JSONResponse(
                {"error": "no simulator for this host or path", "simulators": sorted(self.sims)}, status_code=404)
            await response(scope, receive, send)
            return
        if prefix:
            scope = {**scope, "root_path": scope.get("root_path", "") + prefix}
        await sim.asgi(scope, receive, send)


def combined_app(sims: dict[str, Simulator]) -> CombinedApp:
    return CombinedApp(sims)


@dataclass
class Endpoints:
    """What a client needs to reach running simulators: base URLs and the CA bundle to trust."""

    base_urls: dict[str, str]
    ca_bundle: str | None
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a client reads the file from any directory: the CA bundle path must not depend on where the servers ran
        if self.ca_bundle:
            self.ca_bundle = str(Path(self.ca_bundle).resolve())

    def to_json(self) -> str:
        return json.dumps({"simulators": self.base_urls, "ca_bundle": self.ca_bundle, "seed": self.seed, **self.extra},
                          indent=2, sort_keys=True)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n")
        return path


class PortInUse(OSError):
    """A port a simulator was asked to serve on is taken (by another `q2c sim serve`, or anything else)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(errno.EADDRINUSE, f"port {port} on {host} is already in use")
        self.host, self.port = host, port

    def __str__(self) -> str:
        return str(self.strerror)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then (else 40 ms delayed ACKs)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port) from None
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


class NotedConnections(HttpToolsProtocol):
    """uvicorn's own httptools protocol, unchanged, its connections noted (asyncio's connection_made and
    connection_lost) so that a `reset` fault can abort the one its request came on (kernel/connections.py)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._noted = transport
        connections.opened(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        connections.closed(self._noted)
        super().connection_lost(exc)


class SimServers:
    """Real uvicorn servers, one port per simulator, optionally over HTTPS; run in the current event loop."""

    def __init__(self, sims: dict[str, Simulator], *, host: str = "127.0.0.1", port_base: int = 0,
                 tls_dir: str | Path | None = ".q2c/tls", http: bool = False, log_level: str = "warning") -> None:
        self.sims = sims
        self.host = host
        self.tls: TlsFiles | None = None if http else make_tls_files(tls_dir or ".q2c/tls")
        self.sockets: dict[str, socket.socket] = {}
        try:
            for i, name in enumerate(sims):
                self.sockets[name] = _bind(host, port_base + i if port_base else 0)
        except OSError:
            for sock in self.sockets.values():
                sock.close()
            raise
        self.servers = {
            name: uvicorn.Server(uvicorn.Config(
                sim.asgi, interface="asgi3", http=NotedConnections, log_level=log_level, lifespan="off", access_log=False,
                ssl_certfile=str(self.tls.cert) if self.tls else None,
                ssl_keyfile=str(self.tls.key) if self.tls else None,
                timeout_keep_alive=30, timeout_graceful_shutdown=2,
                proxy_headers=False,  # clients reach a simulator directly; no X-Forwarded-* to honour
            ))
            for name, sim in sims.items()
        }

    def endpoints(self) -> Endpoints:
        scheme = "http" if self.tls is None else "https"
        host = f"[{self.host}]" if ":" in self.host else self.host
        urls = {name: f"{scheme}://{host}:{sock.getsockname()[1]}" for name, sock in self.sockets.items()}
        seed = next(iter(self.sims.values())).seed if self.sims else 0
        return Endpoints(urls, str(self.tls.ca_bundle) if self.tls else None, seed)

    async def serve(self) -> None:
        await asyncio.gather(*(self.servers[n].serve(sockets=[self.sockets[n]]) for n in self.sims))

    def run(self) -> None:
        """Serve until stopped, on uvloop when it is installed (uvicorn[standard] brings it): ~1.3x the requests."""
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(self.serve())

    def stop(self, *, force: bool = False) -> None:
        for server in self.servers.values():
            server.should_exit = True
            server.force_exit = force


@contextmanager
def running_servers(sims: dict[str, Simulator], **options: Any) -> Iterator[Endpoints]:
    """Serve `sims` on real sockets in a background thread for the duration of the block (tests, scenarios)."""
    servers = SimServers(sims, **options)
    loop = event_loop_factory()()
    thread = threading.Thread(target=loop.run_until_complete, args=(servers.serve(),), daemon=True, name="sim-servers")
    thread.start()
    try:
        deadline = 200
        while not all(s.started for s in servers.servers.values()):
            if not thread.is_alive() or deadline == 0:
                raise RuntimeError("simulator servers did not start")
            deadline -= 1
            threading.Event().wait(0.05)
        yield servers.endpoints()
    finally:
        servers.stop()
        thread.join(timeout=5)
        if thread.is_alive():  # a long poll or hung client still holds a connection: stop without waiting for it
            servers.stop(force=True)
            thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()
