"""Served simulators: the kernel's HTTP/1.1 protocol, byte for byte, and keep-alive connections carrying many
requests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import contextmanager
from types import SimpleNamespace

import httpx
import uvicorn

from q2c_simulators.kernel.http_server import SimHttpProtocol, standard_messages
from q2c_simulators.kernel.serving import _bind, running_servers

from .conftest import as_tenant
from .toy import ToySimulator


async def echo(scope: dict, receive, send) -> None:
    """Answers with what it read: the body's length and the number of body messages; `/fail` fails, `/inject`
    tries to smuggle a header, `/stream` answers without a length, `/late` stays busy after answering."""
    body, parts = b"", 0
    while True:
        message = await receive()
        body += message.get("body", b"")
        parts += 1
        if not message.get("more_body"):
            break
    if scope["path"] == "/fail":
        raise ValueError("boom")
    out = f"{scope['method']} {scope['path']}?{scope['query_string'].decode()} {len(body)} bytes {parts} parts".encode()
    headers = [(b"content-type", b"text/plain")]
    if scope["path"] == "/inject":
        headers.append((b"x-echo", b"ok\r\nset-cookie: evil=1"))
    if scope["path"] != "/stream":
        headers.append((b"content-length", str(len(out)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": out, "more_body": scope["path"] == "/stream"})
    if scope["path"] == "/stream":
        await send({"type": "http.response.body", "body": b"!"})
    if scope["path"] == "/late":  # still busy after answering (a background task): the next request waits
        await asyncio.sleep(0.05)


@contextmanager
def serving(app, **config):
    sock = _bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, http=SimHttpProtocol, lifespan="off", log_level="critical", **config))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(sockets=[sock]),), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(5)


def exchange(port: int, *chunks: bytes, pause: float = 0.0, until_closed: bool = False) -> bytes:
    """Send raw request bytes (pausing between chunks) and read what comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
        for chunk in chunks:
            conn.sendall(chunk)
            time.sleep(pause)
        out = b""
        conn.settimeout(3 if until_closed else 0.5)
        try:
            while data := conn.recv(65536):
                out += data
        except TimeoutError:
            assert not until_closed, f"the server kept the connection open: {out!r}"
        return out


def test_requests_and_bodies_arrive_whole_in_any_framing():
    with serving(echo) as port:
        out = exchange(port, b"GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
        assert out.count(b"HTTP/1.1 200 OK\r\n") == 2 and out.index(b"GET /a?x=1 0 bytes") < out.index(b"GET /b?")
        assert b"\r\ndate: " in out and b"\r\ncontent-length: 26\r\n" in out
        out = exchange(port, b"GET /late HTTP/1.1\r\nHost: t\r\n\r\nGET /c HTTP/1.1\r\nHost: t\r\n\r\n")
        assert out.count(b"HTTP/1.1 200 OK\r\n") == 2 and out.index(b"GET /late?") < out.index(b"GET /c?")
        # the body in a later packet than the headers (the app waits for it), then chunked
        out = exchange(port, b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n", b"hello", pause=0.05)
        assert out.endswith(b"POST /p? 5 bytes 1 parts")
        out = exchange(port, b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
                       b"3\r\nabc\r\n", b"2\r\nde\r\n0\r\n\r\n", pause=0.05)
        assert b"POST /c? 5 bytes" in out
        out = exchange(port, b"POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
                       b"ok", pause=0.1)
        assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK") and out.endswith(b"2 bytes 1 parts")


def test_responses_keep_http_framing():
    with serving(echo) as port:
        out = exchange(port, b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        assert b"transfer-encoding: chunked\r\n" in out and out.endswith(b"\r\n1\r\n!\r\n0\r\n\r\n")
        out = exchange(port, b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(b"\r\n\r\n") and b"content-length: 24" in out
        out = exchange(port, b"GET /old HTTP/1.0\r\n\r\n", until_closed=True)
        assert b"connection: close\r\n" in out and out.endswith(b"GET /old? 0 bytes 1 parts")


def test_bad_requests_and_failing_apps_get_an_answer_not_a_hang():
    with serving(echo) as port:
        assert exchange(port, b"NOT HTTP AT ALL\r\n\r\n", until_closed=True).startswith(b"HTTP/1.1 400 Bad Request")
        assert exchange(port, b"GET /fail HTTP/1.1\r\nHost: t\r\n\r\n", until_closed=True).startswith(
            b"HTTP/1.1 500 Internal Server Error")
        out = exchange(port, b"GET /inject HTTP/1.1\r\nHost: t\r\n\r\n", until_closed=True)
        assert out.startswith(b"HTTP/1.1 500") and b"evil" not in out


def test_an_idle_keep_alive_connection_is_closed():
    with serving(echo, timeout_keep_alive=0.2) as port:
        started = time.monotonic()
        out = exchange(port, b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n", until_closed=True)
        assert out.startswith(b"HTTP/1.1 200") and time.monotonic() - started < 2


def test_a_keep_alive_connection_serves_many_requests_whole(tmp_path):
    sim = ToySimulator(seed=1)
    with running_servers({"toy": sim}, http=True) as endpoints:
        with httpx.Client(base_url=endpoints.base_urls["toy"], headers=as_tenant("t1")) as c:
            ids = [c.post("/api/items", json={"sku": f"S-{i}"}).json()["id"] for i in range(50)]
            bodies = [c.get(f"/api/items/{rid}").json() for rid in ids]
            assert [b["sku"] for b in bodies] == [f"S-{i}" for i in range(50)]
            assert c.get("/api/slow").content == b"x" * 300
    assert sim.journal.total == 101


def test_middleware_in_front_of_a_simulator_sees_only_standard_messages():
    """A response-rewriting middleware knows http.response.start and .body only; `standard_messages` keeps the
    kernel's one-message response from it (without it the response would be lost and the client left hanging)."""
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

    wrapped = SimpleNamespace(asgi=standard_messages(upper_case(sim.asgi)), seed=sim.seed)
    with running_servers({"toy": wrapped}, http=True) as endpoints:  # type: ignore[dict-item]
        with httpx.Client(base_url=endpoints.base_urls["toy"], headers=as_tenant("t1"), timeout=5) as c:
            created = c.post("/api/items", json={"sku": "s-1"})
            assert (created.status_code, created.text) == (201, '{"ID":"1"}')  # rewritten: upper case
            assert c.get("/api/nowhere").status_code == 404  # a response the kernel holds itself
    assert set(seen) == {"http.response.start", "http.response.body"}
