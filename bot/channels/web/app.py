"""Installs the dashboard into the application: templates, static files, pages, sign-in, live events."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.channels.common.smtp import SmtpConfig
from bot.channels.web import history, live, login, pages, trust
from bot.channels.web.auth import WebAuth
from bot.channels.web.state import JINJA, WEB, WebState
from bot.errors import ConfigError
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def ago(moment: datetime, now: datetime) -> str:
    return span(now - moment)


def span(delta: timedelta | None) -> str:
    """A short human duration: 45s, 12m, 3h 5m, 2d 4h."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds}s"
    if seconds < 3600:
        return f"{sign}{seconds // 60}m"
    if seconds < 86400:
        return f"{sign}{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{sign}{seconds // 86400}d {seconds % 86400 // 3600}h"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def install(app: web.Application, runtime: Runtime) -> None:
    package = resources.files("bot.channels.web")
    environment = aiohttp_jinja2.setup(
        app,
        app_key=JINJA,
        loader=jinja2.PackageLoader("bot.channels.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        default_helpers=False,
    )
    environment.filters.update({"ago": ago, "span": span, "stamp": stamp})
    environment.globals["seconds"] = lambda value: "—" if value is None else span(timedelta(seconds=value))
    state = WebState(runtime, WebAuth(runtime.settings, runtime.redis, runtime.keys))
    app[WEB] = state
    for table in (login.routes, pages.routes, history.routes, live.routes, trust.routes):
        app.add_routes(table)
    app.router.add_static("/static/", Path(str(package.joinpath("static"))), name="web-static", append_version=False)

    async def end_streams(app: web.Application) -> None:
        state.closed.set()
        if state.tasks:  # mail being sent goes on through the shutdown grace; serve stops within 5 s
            await asyncio.wait(set(state.tasks), timeout=1)

    app.on_shutdown.append(end_streams)
    if not runtime.settings.smtp_url:
        log.info("dashboard: SMTP_URL is unset, so mail is off: sign in with `countersign web-login EMAIL`")
    else:
        try:
            SmtpConfig.parse(runtime.settings.smtp_url)
        except ConfigError as exc:
            log.warning("dashboard: sign-in mail will fail: %s", exc.message)
