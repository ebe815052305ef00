"""The kernel's HTTP/1.1 protocol: uvicorn's job for the simulators, with less work per request.

Why our own: a simulator answers tens of thousands of small requests a second (the peer benchmark holds it to
WireMock's throughput), and uvicorn's httptools protocol spent ~7 us of a ~30 us GET on bookkeeping a simulator
does not need: a task, an asyncio.Event and a keep-alive timer per request, two regex searches per response
header, a send per response part. This one runs under `uvicorn.Server` unchanged (sockets, TLS, the Date header, graceful
shutdown) and speaks ASGI 3 to the app, keeping what clients rely on: keep-alive and pipelining, HTTP/1.0,
`Expect: 100-continue`, chunked bodies both ways, HEAD, flow control both ways, a 400 for what does not parse, a
500 when the app fails before answering, and the transport a reset fault aborts (`Exchange.transport`).
Left out, as the simulators need none of them: WebSocket upgrades, `limit_concurrency`, the access log.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httptools
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT, FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.protocols.utils import get_local_addr, get_remote_addr, is_ssl

logger = logging.getLogger("uvicorn.error")

# Header checks, as uvicorn makes them header by header, in fewer steps: a name is checked once per process (names
# are few), values in one pass over the block (no control character but each header's closing CR LF), so that no
# value can smuggle in a header or a response.
_BAD_NAME = re.compile(rb'[\x00-\x1f\x7f()<>@,;:\[\]={} \t\\"]')
_CONTROLS = bytes([*range(0x09), *range(0x0a, 0x20), 0x7f])  # all but TAB
_GOOD_NAMES: set[bytes] = set()
_DISCONNECT = {"type": "http.disconnect"}
_ASGI = {"version": "3.0", "spec_version": "2.3"}  # shared by every scope: apps read it, none writes it
# An ASGI extension (scope["extensions"]): a response whose body is known up front goes as one message, status,
# headers and body together, instead of two sends and a loop turn to learn whether the body follows at once.
WHOLE_RESPONSE = "q2c.http.response.whole"
_EXTENSIONS = {WHOLE_RESPONSE: {}}


def standard_messages(app: Callable) -> Callable:
    """`app` told nothing of `WHOLE_RESPONSE`, so it sends only http.response.start and .body: wrap ASGI middleware
    that reads or rewrites responses with this (the server advertises the extension to whatever it calls, and a
    middleware passing the scope on would get a message type it does not know)."""

    async def without_whole_response(scope: dict, receive: Callable, send: Callable) -> None:
        extensions = scope.get("extensions") or {}
        if WHOLE_RESPONSE in extensions:
            scope = {**scope, "extensions": {k: v for k, v in extensions.items() if k != WHOLE_RESPONSE}}
        await app(scope, receive, send)

    return without_whole_response


def _resolve(waiter: asyncio.Future | None) -> None:
    """Wake whoever waits on `waiter` (a receive() for body, an idle connection worker), if anyone does."""
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class Exchange:
    """One request and its response on a connection: the ASGI `receive` and `send` of that request."""

    __slots__ = ("protocol", "transport", "scope", "keep_alive", "expect_continue", "body", "more_body",
                 "final_sent", "waiter", "started", "complete", "disconnected", "chunked", "remaining", "head")

    def __init__(self, protocol: SimHttpProtocol, scope: dict, keep_alive: bool, expect_continue: bool) -> None:
        self.protocol = protocol
        self.transport = protocol.transport
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.body = b""  # arrived, not yet received by the app
        self.more_body = True
        self.final_sent = False
        self.waiter: asyncio.Future | None = None
        self.started = False
        self.complete = False
        self.disconnected = False
        self.chunked = False
        self.remaining = 0  # Content-Length still owed
        self.head: bytes | None = None  # status line and headers, written with the first body part

    async def run(self, app: Callable) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.started:
                await self._send_500()
            else:
                self.transport.close()
        else:
            if not self.started and not self.disconnected:
                logger.error("ASGI callable returned without starting response.")
                await self._send_500()
            elif not self.complete and not self.disconnected:
                logger.error("ASGI callable returned without completing response.")
                self.transport.close()

    def wake(self) -> None:
        _resolve(self.waiter)

    async def receive(self) -> dict:
        if self.expect_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.expect_continue = False
        # wait for a body part, the end of the body, or (after the last part) the client leaving
        while not (self.disconnected or self.complete) and not self.body and (self.more_body or self.final_sent):
            self.protocol.flow.resume_reading()
            self.waiter = self.protocol.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        if self.disconnected or self.complete:
            return _DISCONNECT
        body, self.body = self.body, b""
        self.final_sent = not self.more_body
        return {"type": "http.request", "body": body, "more_body": self.more_body}

    async def send(self, message: dict) -> None:
        flow = self.protocol.flow
        if flow.write_paused and not self.disconnected:
            await flow.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.started:
            if kind == WHOLE_RESPONSE:
                self._start(message["status"], message["headers"], whole=True)
                self._body(message["body"], False)
                return
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{kind}'.")
            self._start(message["status"], message.get("headers") or ())
        elif not self.complete:
            if kind != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{kind}'.")
            self._body(message.get("body", b""), message.get("more_body", False))
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}' sent, after response already completed.")

    def _start(self, status: int, headers: Any, whole: bool = False) -> None:
        chunked: bool | None = None
        close_sent = False
        parts: list[bytes] = []
        for name, value in headers:
            name = name.lower()
            if name == b"content-length" and chunked is None:
                self.remaining, chunked = int(value), False
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                self.remaining, chunked = 0, True
            elif name == b"connection" and b"close" in [t.strip().lower() for t in value.split(b",")]:
                self.keep_alive, close_sent = False, True
            if name not in _GOOD_NAMES:
                if not name or _BAD_NAME.search(name):
                    raise RuntimeError(f"Invalid HTTP header name {name!r}.")
                if len(_GOOD_NAMES) < 4096:
                    _GOOD_NAMES.add(name)
            parts += (name, b": ", value, b"\r\n")
        block = b"".join(parts)
        if len(block) - len(block.translate(None, _CONTROLS)) != len(parts) // 2:  # only each header's CR LF
            raise RuntimeError("Invalid HTTP header value.")
        self.started = True
        self.expect_continue = False
        extra = b"" if self.keep_alive or close_sent else b"connection: close\r\n"
        if chunked is None and self.scope["method"] != "HEAD" and status not in (204, 304):
            chunked = True  # neither a length nor an encoding: chunked, so the body can be any length
            extra += b"transfer-encoding: chunked\r\n"
        self.chunked = bool(chunked)
        self.head = b"".join((STATUS_LINE[status], self.protocol.default_head(), block, extra, b"\r\n"))
        if not whole:
            self.protocol.loop.call_soon(self._write_head)  # unless the body follows in this loop step

    def _write_head(self) -> None:
        if self.head is not None and not self.transport.is_closing():
            self.transport.write(self.head)
        self.head = None

    def _body(self, body: bytes, more_body: bool) -> None:
        if self.scope["method"] == "HEAD":
            data, self.remaining = b"", 0
        elif self.chunked:
            data = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + (b"" if more_body else b"0\r\n\r\n")
        else:
            if len(body) > self.remaining:
                raise RuntimeError("Response content longer than Content-Length")
            self.remaining -= len(body)
            data = body
        if self.head is not None:
            data, self.head = self.head + data, None
        if data:
            self.transport.write(data)
        if not more_body:
            if self.remaining:
                raise RuntimeError("Response content shorter than Content-Length")
            self.complete = True
            self.wake()
            if not self.keep_alive:
                self.transport.close()
            self.protocol.response_complete()

    async def _send_500(self) -> None:
        await self.send({"type": "http.response.start", "status": 500, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21"), (b"connection", b"close")]})
        await self.send({"type": "http.response.body", "body": b"Internal Server Error"})


class SimHttpProtocol(asyncio.Protocol):
    """HTTP/1.1 over one connection; `uvicorn.Config(http=SimHttpProtocol)` builds one per connection."""

    def __init__(self, config: Any, server_state: Any, app_state: dict, _loop: asyncio.AbstractEventLoop | None = None
                 ) -> None:
        if not config.loaded:
            config.load()
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state = server_state
        self.app_state = app_state
        self.root_path: str = config.root_path
        self.keep_alive_timeout: float = config.timeout_keep_alive
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.flow: FlowControl = None  # type: ignore[assignment]
        self.server: Any = None
        self.client: Any = None
        self.scheme = "http"
        self.exchange: Exchange | None = None  # the request being parsed (the newest)
        self.pending: deque[Exchange] = deque()  # parsed, not yet handed to the app
        self._worker: asyncio.Task | None = None
        self._wakeup: asyncio.Future | None = None
        self.served = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._idle_mark = -1
        self._default: tuple[Any, bytes] = (None, b"")
        # per request, while parsing
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.expect_continue = False

    # ---- connection --------------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.server_state.connections.add(self)
        self.transport = transport  # type: ignore[assignment]
        self.flow = FlowControl(self.transport)
        self.server = get_local_addr(self.transport)
        self.client = get_remote_addr(self.transport)
        self.scheme = "https" if is_ssl(self.transport) else "http"
        self._idle_timer = self.loop.call_later(self.keep_alive_timeout, self._idle_check)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        for exchange in (self.exchange, *self.pending):
            if exchange is not None and not exchange.complete:
                exchange.disconnected = True
                exchange.wake()
        self._wake_worker()
        self.flow.resume_writing()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if exc is None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # no protocol upgrades here: the request is answered as plain HTTP
        except httptools.HttpParserError:
            self._bad_request(b"Invalid HTTP request received.")

    def eof_received(self) -> None:
        pass

    def pause_writing(self) -> None:
        self.flow.pause_writing()

    def resume_writing(self) -> None:
        self.flow.resume_writing()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close when idle, else after the response in flight."""
        if self.exchange is None or self.exchange.complete:
            self.transport.close()
        else:
            self.exchange.keep_alive = False

    def _idle_check(self) -> None:
        """Close a connection that carried no request for a whole keep-alive period (one timer per connection,
        not one per request)."""
        if self.transport.is_closing():
            return
        busy = self.exchange is not None and not self.exchange.complete
        if not busy and self.served == self._idle_mark:
            self.transport.close()
            return
        self._idle_mark = self.served
        self._idle_timer = self.loop.call_later(self.keep_alive_timeout, self._idle_check)

    def _bad_request(self, message: bytes) -> None:
        self.transport.write(b"".join((STATUS_LINE[400], self.default_head(),
                                       b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                                       b"connection: close\r\n\r\n" % len(message), message)))
        self.transport.close()

    def default_head(self) -> bytes:
        """uvicorn's default headers (Date, refreshed every second by the server, and Server) as bytes."""
        headers = self.server_state.default_headers
        if self._default[0] is not headers:
            self._default = (headers, b"".join(b"%s: %s\r\n" % pair for pair in headers))
        return self._default[1]

    # ---- parser callbacks --------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.expect_continue = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        http_version = parser.get_http_version()
        url = httptools.parse_url(self.url)
        raw_path = url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        scope = {
            "type": "http", "asgi": _ASGI, "http_version": http_version,
            "server": self.server, "client": self.client, "scheme": self.scheme,
            "method": parser.get_method().decode("ascii"), "root_path": self.root_path,
            "path": self.root_path + path, "raw_path": self.root_path.encode("ascii") + raw_path,
            "query_string": url.query or b"", "headers": self.headers,
            "state": self.app_state.copy() if self.app_state else {}, "extensions": _EXTENSIONS,
        }
        previous = self.exchange
        self.exchange = Exchange(self, scope, http_version != "1.0" and parser.should_keep_alive(),
                                 self.expect_continue)
        if previous is not None and not previous.complete:  # pipelined: no more reading until it is answered
            self.flow.pause_reading()
        self.pending.append(self.exchange)
        if self._worker is None:
            self._worker = self.loop.create_task(self._work())
            self.server_state.tasks.add(self._worker)
            self._worker.add_done_callback(self.server_state.tasks.discard)
        else:
            self._wake_worker()

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        if exchange is None or exchange.complete:
            return
        exchange.body += body
        if len(exchange.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        exchange.wake()

    def on_message_complete(self) -> None:
        exchange = self.exchange
        if exchange is None or exchange.complete:
            return
        exchange.more_body = False
        exchange.wake()

    # ---- exchanges ---------------------------------------------------------------------------------------------
    async def _work(self) -> None:
        """The connection's one task: answers its requests in order. A task per request (uvicorn's way) cost
        more than the rest of the protocol's work on a small request; requests of one connection share a context,
        as none of the apps served here leaves a context variable set."""
        while True:
            while not self.pending:
                if self.transport.is_closing():
                    return
                self._wakeup = self.loop.create_future()
                try:
                    await self._wakeup
                finally:
                    self._wakeup = None
            if self.transport.is_closing():
                return
            await self.pending.popleft().run(self.app)

    def _wake_worker(self) -> None:
        _resolve(self._wakeup)

    def response_complete(self) -> None:
        self.server_state.total_requests += 1
        self.served += 1
        if not self.transport.is_closing():
            self.flow.resume_reading()
