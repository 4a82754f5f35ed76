"""Serve an aiohttp application on a free loopback port: the one way every emulator starts."""

from __future__ import annotations

from aiohttp import web


async def start_on_loopback(app: web.Application, shutdown_timeout: float = 60.0) -> tuple[web.AppRunner, str]:
    """Start `app` on 127.0.0.1 and a free port; returns its runner (cleanup() stops it) and base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"
