"""Probing /login: the answer takes as long for an approver's address as for a stranger's (so timing does
not tell who may sign in), and each client address may ask only so often."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlsplit

from bot.embedded import EmbeddedRedis
from tests.support.servers import RunningApp, make_settings, running_app
from tests.support.web import ADA, POLICY, csrf_of

DELAY_S = 0.03  # each hop to Redis: a Redis across a network, where one extra command shows in the timing


@asynccontextmanager
async def slow_link_to(redis_url: str) -> AsyncIterator[str]:
    """A TCP relay to the test Redis that holds every client-to-server chunk for DELAY_S."""
    target = urlsplit(redis_url)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        with suppress(ConnectionError, asyncio.CancelledError):
            while chunk := await reader.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                writer.write(chunk)
                await writer.drain()
        writer.close()

    tasks: set[asyncio.Task[None]] = set()

    async def accepted(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if target.scheme == "unix":  # the embedded test server listens on a private socket
            server_reader, server_writer = await asyncio.open_unix_connection(target.path)
        else:
            server_reader, server_writer = await asyncio.open_connection(target.hostname, target.port)
        for task in (relay(client_reader, server_writer, DELAY_S), relay(server_reader, client_writer, 0)):
            tasks.add(asyncio.create_task(task))

    server = await asyncio.start_server(accepted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        database = "" if target.scheme == "unix" else target.path or ""
        yield f"redis://127.0.0.1:{port}{database}"
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _post_login(running: RunningApp, token: str, email: str) -> float:
    started = time.perf_counter()
    response = await running.client.post("/login", data={"csrf": token, "email": email})
    assert response.status == 200
    assert "If that address may sign in" in await response.text()
    return time.perf_counter() - started


async def test_edge_login_timing_same_for_unknown_address(redis_server: EmbeddedRedis) -> None:
    async with slow_link_to(redis_server.url) as url:
        settings = make_settings(
            url, countersign_login_per_minute=1000, countersign_secret_key="login-timing-secret-0123456789abcdef"
        )
        async with running_app(settings, POLICY) as running:
            token = csrf_of(await (await running.client.get("/login")).text())
            await _post_login(running, token, ADA)  # warm up both paths once
            await _post_login(running, token, "eve@example.com")
            approver, stranger = [], []
            for round_ in range(9):
                approver.append(await _post_login(running, token, ADA))
                stranger.append(await _post_login(running, token, f"eve{round_}@example.com"))
    gap = abs(statistics.median(approver) - statistics.median(stranger))
    # One Redis round trip more for either kind of address would be DELAY_S.
    assert gap < DELAY_S / 2, (approver, stranger)


async def test_edge_login_rate_limited(redis_server: EmbeddedRedis) -> None:
    async with running_app(make_settings(redis_server.url), POLICY) as running:
        token = csrf_of(await (await running.client.get("/login")).text())
        for round_ in range(10):
            response = await running.client.post("/login", data={"csrf": token, "email": f"u{round_}@example.com"})
            assert response.status == 200
        refused = await running.client.post("/login", data={"csrf": token, "email": ADA})
        assert refused.status == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "Too many sign-in requests" in await refused.text()
        # Claiming to be someone else through X-Forwarded-For does not help: no proxy is trusted.
        spoofed = await running.client.post(
            "/login", data={"csrf": token, "email": ADA}, headers={"X-Forwarded-For": "198.51.100.23"}
        )
        assert spoofed.status == 429
