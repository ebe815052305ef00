"""The open connections of the kernel's servers, so that a `reset` fault can abort the one a request came on.

ASGI gives an app no way to drop its connection. The servers (serving.py) run uvicorn's own httptools protocol,
subclassed only to note each connection's transport here when asyncio opens it (`connection_made`, a public
asyncio hook) and to forget it when it closes; a request names its connection by the addresses uvicorn puts in
its scope (`server` and `client`).
"""

from __future__ import annotations

import asyncio
from typing import Any

_open: dict[tuple[Any, ...], asyncio.Transport] = {}


def _key(server: Any, client: Any) -> tuple[Any, ...] | None:
    if not server or not client:
        return None
    return (server[0], server[1], client[0], client[1])


def opened(transport: asyncio.Transport) -> None:
    key = _key(transport.get_extra_info("sockname"), transport.get_extra_info("peername"))
    if key is not None:
        _open[key] = transport


def closed(transport: asyncio.Transport) -> None:
    key = _key(transport.get_extra_info("sockname"), transport.get_extra_info("peername"))
    if key is not None and _open.get(key) is transport:
        del _open[key]


def abort(scope: dict[str, Any]) -> bool:
    """Abort (TCP RST) the connection `scope` came on; False when there is none (in-process, no socket)."""
    key = _key(scope.get("server"), scope.get("client"))
    transport = _open.get(key) if key is not None else None
    if transport is None:
        return False
    transport.abort()
    return True
