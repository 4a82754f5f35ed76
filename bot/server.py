"""The composition root: one aiohttp application with the agent API and every channel adapter."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from aiohttp import web

from bot import shutdown
from bot.channels.api import create_app
from bot.channels.email.links import install as install_email
from bot.channels.humanlayer import install as install_humanlayer
from bot.channels.sms.inbound import install as install_sms
from bot.channels.web.app import install as install_web
from bot.connections import GuardedRunner
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.install import install as install_slack
from jobs.scheduling import install as install_jobs

log = logging.getLogger(__name__)

# Each channel adapter exposes `install(app, runtime)`: it adds routes, outbox handlers and start-up
# tasks. They are listed here, in one place; an adapter whose settings are missing says so and stays off.
Installer = Callable[[web.Application, Runtime], None]
# Outbox handlers run in this order for each change: Slack first, as posting is the latency people see.
INSTALLERS: list[Installer] = [
    install_slack,
    install_jobs,
    install_email,
    install_sms,
    install_web,
    install_humanlayer,
]


def build_application(runtime: Runtime) -> web.Application:
    app = create_app(runtime)
    shutdown.install(app, runtime)
    for install in INSTALLERS:
        install(app, runtime)
    return app


def guarded_runner(app: web.Application, settings: Settings, **options: Any) -> GuardedRunner:
    """The runner `countersign serve` uses: header deadline, connection cap and keep-alive from settings."""
    return GuardedRunner(
        app,
        header_timeout=settings.countersign_header_timeout_s,
        max_connections=settings.countersign_max_connections,
        keepalive_timeout=settings.countersign_keepalive_timeout_s,
        access_log=None,
        **options,
    )


async def serve(app: web.Application, settings: Settings, host: str, port: int, reuse_port: bool = False) -> None:
    """Serve until cancelled (or until a signal raises GracefulExit), then shut down cleanly."""
    runner = guarded_runner(app, settings, handle_signals=True, shutdown_timeout=shutdown.GRACE_S)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run(
    app: web.Application,
    settings: Settings,
    host: str,
    port: int,
    loop: asyncio.AbstractEventLoop,
    reuse_port: bool = False,
) -> None:
    """What `web.run_app` does, with our runner: SIGINT/SIGTERM end `serve`, and its clean-up runs."""
    asyncio.set_event_loop(loop)
    main = loop.create_task(serve(app, settings, host, port, reuse_port))
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        main.cancel()
        with suppress(asyncio.CancelledError, web.GracefulExit):
            loop.run_until_complete(main)
        leftover = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in leftover:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
