"""The composition root: one aiohttp application with the agent API and every channel adapter."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from bot.api import create_app
from bot.runtime import Runtime

log = logging.getLogger(__name__)

# Each channel adapter exposes `install(app, runtime)`: it adds routes, outbox handlers and start-up
# tasks. They are listed here, in one place; an adapter whose settings are missing says so and stays off.
Installer = Callable[[web.Application, Runtime], None]
# Outbox handlers run in this order for each change: Slack first, as posting is the latency people see.
INSTALLERS: list[str] = [
    "handlers.install:install",
    "jobs.scheduling:install",
    "bot.inbound.email_links:install",
    "bot.inbound.sms:install",
    "bot.web.app:install",
    "bot.humanlayer:install",
]


def _load(path: str) -> Installer:
    module_name, _, attr = path.partition(":")
    module = __import__(module_name, fromlist=[attr])
    installer: Installer = getattr(module, attr)
    return installer


def build_application(runtime: Runtime) -> web.Application:
    app = create_app(runtime)
    for path in INSTALLERS:
        _load(path)(app, runtime)
    return app
