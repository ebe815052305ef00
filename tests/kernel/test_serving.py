"""Served simulators: a response leaves in one write; keep-alive connections carry many requests."""

from __future__ import annotations

import asyncio

import httpx

from simulators.kernel.serving import CoalescingTransport, running_servers

from .conftest import as_tenant
from .toy import ToySimulator


class RecordingTransport:
    def __init__(self) -> None:
        self.calls: list[object] = []

    def write(self, data: bytes) -> None:
        self.calls.append(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        self.calls.append("close")

    def abort(self) -> None:
        self.calls.append("abort")

    def get_write_buffer_size(self) -> int:
        return 0


async def test_writes_in_one_loop_step_leave_in_one_send():
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n")
    transport.write(b"body")
    assert inner.calls == [] and transport.get_write_buffer_size() == 42
    await asyncio.sleep(0)
    assert inner.calls == [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody"]
    transport.write(b"last words")
    transport.close()  # what is pending goes first
    assert inner.calls[1:] == [b"last words", "close"]
    transport.write(b"never sent")
    transport.abort()  # a reset fault: nothing more reaches the wire
    await asyncio.sleep(0)
    assert inner.calls[3:] == ["abort"]


def test_a_keep_alive_connection_serves_many_requests_whole(tmp_path):
    sim = ToySimulator(seed=1)
    with running_servers({"toy": sim}, http=True) as endpoints:
        with httpx.Client(base_url=endpoints.base_urls["toy"], headers=as_tenant("t1")) as c:
            ids = [c.post("/api/items", json={"sku": f"S-{i}"}).json()["id"] for i in range(50)]
            bodies = [c.get(f"/api/items/{rid}").json() for rid in ids]
            assert [b["sku"] for b in bodies] == [f"S-{i}" for i in range(50)]
            assert c.get("/api/slow").content == b"x" * 300
    assert sim.journal.total == 101
