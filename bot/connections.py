"""The HTTP server's own limits, below the application: a deadline for request headers and a cap on
how many connections are open at once (slowloris and connection floods never reach a handler)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

# Written to a connection over the cap before it is closed: a client learns to come back, not that it hung.
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 12\r\nConnection: close\r\n\r\nserver busy\n"
)


class GuardedHandler(RequestHandler):
    """aiohttp's protocol, plus: the head of every request must arrive within `header_timeout` of the
    connection opening or of its first byte (aiohttp alone waits its keep-alive timeout, an hour)."""

    def __init__(self, manager: GuardedServer, *, header_timeout: float, max_connections: int, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._max_connections = max_connections
        self._header_deadline: asyncio.TimerHandle | None = None
        self._heads_seen = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        manager = self._manager
        if manager is not None and len(manager.connections) > self._max_connections:
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(BUSY)
            self.force_close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        heads = self._request_count
        super().data_received(data)
        if self._request_count > heads:
            self._disarm()  # a whole request head arrived
        elif data and self._header_deadline is None and self._waiting_for_head():
            self._arm()  # the first bytes of the next request on a kept-alive connection

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        # Between requests (not while a handler runs or a body streams): aiohttp's own idle test.
        waiter = self._waiter
        return waiter is not None and not waiter.done()

    def _arm(self) -> None:
        self._disarm()
        self._heads_seen = self._request_count
        self._header_deadline = self._loop.call_later(self._header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _expire(self) -> None:
        self._header_deadline = None
        if self._request_count == self._heads_seen and not self._messages and self._current_request is None:
            self.force_close()


class GuardedServer(Server):
    def __init__(self, *args: Any, header_timeout: float, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout, self.max_connections = header_timeout, max_connections

    def __call__(self) -> RequestHandler:
        return GuardedHandler(
            self,
            loop=self._loop,
            header_timeout=self.header_timeout,
            max_connections=self.max_connections,
            **self._kwargs,
        )


class GuardedRunner(web.AppRunner):
    """`web.AppRunner` serving through `GuardedServer`; every other option passes through unchanged."""

    def __init__(self, app: web.Application, *, header_timeout: float, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout, self.max_connections = header_timeout, max_connections

    async def _make_server(self) -> Server:
        plain = await super()._make_server()  # runs the app's start-up and freezes it
        return GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            header_timeout=self.header_timeout,
            max_connections=self.max_connections,
            **plain._kwargs,
        )
