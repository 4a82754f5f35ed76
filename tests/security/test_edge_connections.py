"""Holding the server's connections: a client that sends its request head slowly (slowloris) or never is
cut off after the header deadline, and connections past the cap are turned away — while /healthz answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from bot.bootstrap import build_runtime
from bot.embedded import EmbeddedRedis
from bot.server import build_application, guarded_runner
from tests.support.servers import make_settings

HEADER_TIMEOUT_S = 0.6


@asynccontextmanager
async def serving(redis_server: EmbeddedRedis, **overrides: Any) -> AsyncIterator[tuple[str, int]]:
    """The application as `countersign serve` runs it (same runner, limits from settings), on a free port."""
    settings = make_settings(redis_server.url, **{"countersign_header_timeout_s": HEADER_TIMEOUT_S, **overrides})
    runner = guarded_runner(build_application(build_runtime(settings, redis_server.url)), settings)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield "127.0.0.1", port
    finally:
        await runner.cleanup()


async def _healthz(host: str, port: int) -> float:
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session, session.get(f"http://{host}:{port}/healthz") as response:
        assert response.status == 200
    return time.perf_counter() - started


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True once the server closed the connection (reading to the end finished) within `seconds`."""
    try:
        await asyncio.wait_for(reader.read(), seconds)
    except TimeoutError:
        return False
    return reader.at_eof()


async def test_edge_slowloris_headers_closed(redis_server: EmbeddedRedis) -> None:
    async with serving(redis_server) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.perf_counter()

        async def trickle() -> None:
            for n in range(100):  # one more header line every 0.1 s: never a finished head
                await asyncio.sleep(0.1)
                writer.write(f"X-Slow-{n}: y\r\n".encode())

        dripping = asyncio.create_task(trickle())
        assert await _healthz(host, port) < 0.5  # others are served meanwhile
        assert await _closed_within(reader, HEADER_TIMEOUT_S + 2)
        assert time.perf_counter() - started < HEADER_TIMEOUT_S + 1.5
        dripping.cancel()
        writer.close()
        # A connection that opens and says nothing is cut off too.
        reader, writer = await asyncio.open_connection(host, port)
        assert await _closed_within(reader, HEADER_TIMEOUT_S + 2)
        writer.close()
        # A kept-alive connection that starts a second request head and stalls: cut off as well.
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 200")
        await asyncio.sleep(HEADER_TIMEOUT_S * 1.5)  # idle between requests is keep-alive, not a slow head
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert await _closed_within(reader, HEADER_TIMEOUT_S + 2)
        writer.close()
        assert await _healthz(host, port) < 0.5


async def test_edge_connection_limit(redis_server: EmbeddedRedis) -> None:
    async with serving(redis_server, countersign_max_connections=4, countersign_header_timeout_s=30) as (host, port):
        held = [await asyncio.open_connection(host, port) for _ in range(4)]
        await asyncio.sleep(0.1)  # let the server register them
        reader, writer = await asyncio.open_connection(host, port)
        answer = await asyncio.wait_for(reader.read(), 2)  # turned away at once, and told so
        assert answer.startswith(b"HTTP/1.1 503")
        writer.close()
        for _, held_writer in held[:2]:
            held_writer.close()
        await asyncio.sleep(0.2)
        assert await _healthz(host, port) < 0.5  # room again once connections close
        for _, held_writer in held[2:]:
            held_writer.close()
