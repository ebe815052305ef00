"""Served simulators: stock uvicorn (httptools) carrying many requests on a keep-alive connection, and middleware
in front of a simulator (the reset fault over a real socket: test_faults.py)."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import uvicorn

from q2c_simulators.kernel.serving import NotedConnections, SimServers, running_servers

from .conftest import as_tenant
from .toy import ToySimulator


def test_a_keep_alive_connection_serves_many_requests_whole(tmp_path):
    sim = ToySimulator(seed=1)
    with running_servers({"toy": sim}, http=True) as endpoints:
        with httpx.Client(base_url=endpoints.base_urls["toy"], headers=as_tenant("t1")) as c:
            ids = [c.post("/api/items", json={"sku": f"S-{i}"}).json()["id"] for i in range(50)]
            bodies = [c.get(f"/api/items/{rid}").json() for rid in ids]
            assert [b["sku"] for b in bodies] == [f"S-{i}" for i in range(50)]
            assert c.get("/api/slow").content == b"x" * 300
    assert sim.journal.total == 101


def test_middleware_in_front_of_a_simulator_rewrites_its_responses():
    """ASGI middleware that reads or rewrites responses sees the standard messages, whoever built the response."""
    sim = ToySimulator(seed=1)
    seen: list[str] = []

    def upper_case(app):
        async def middleware(scope, receive, send):
            async def rewrite(message):
                seen.append(message["type"])
                if message["type"] == "http.response.body":
                    message = {**message, "body": message.get("body", b"").upper()}
                await send(message)
            await app(scope, receive, rewrite)
        return middleware

    wrapped = SimpleNamespace(asgi=upper_case(sim.asgi), seed=sim.seed)
    with running_servers({"toy": wrapped}, http=True) as endpoints:  # type: ignore[dict-item]
        with httpx.Client(base_url=endpoints.base_urls["toy"], headers=as_tenant("t1"), timeout=5) as c:
            created = c.post("/api/items", json={"sku": "s-1"})
            assert (created.status_code, created.text) == (201, '{"ID":"1"}')  # rewritten: upper case
            assert c.get("/api/nowhere").status_code == 404  # a response the kernel holds itself
    assert set(seen) == {"http.response.start", "http.response.body"}


def test_servers_run_uvicorns_own_httptools_protocol():
    servers = SimServers({"toy": ToySimulator(seed=1)}, http=True)
    config = servers.servers["toy"].config
    config.load()
    assert issubclass(config.http_protocol_class, uvicorn.protocols.http.httptools_impl.HttpToolsProtocol)
    assert config.http_protocol_class is NotedConnections and config.limit_concurrency is None
    for sock in servers.sockets.values():
        sock.close()
