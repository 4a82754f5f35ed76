"""Installs the Slack channel into the aiohttp app: Bolt at `POST /slack/events` (or Socket Mode),
the outbox handler that posts and updates messages, and the `@group` resolver for the service."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime
from handlers import register_listeners
from handlers.channel import CONTEXT_KEY, SlackChannel
from handlers.client import web_client
from handlers.delivery import outbox_handler, post_missed, poster
from handlers.directory import Directory
from handlers.membership import member_resolver
from handlers.messages import MessageLocations
from handlers.pacing import ChannelPacer
from handlers.signature import signature_ok

log = logging.getLogger(__name__)
SLACK = web.AppKey("slack", SlackChannel)
BOLT = web.AppKey("bolt", AsyncApp)
EVENTS_PATH = "/slack/events"


def build_bolt(slack: SlackChannel) -> AsyncApp:
    settings = slack.runtime.settings
    bolt = AsyncApp(
        client=slack.client,
        signing_secret=settings.slack_signing_secret or "",
        # HTTP requests are verified by `slack_events` before Bolt sees them; Socket Mode needs none.
        request_verification_enabled=False,
        logger=logging.getLogger("slack_bolt"),
    )

    async def share_channel(context: Any, next: Callable[[], Awaitable[None]]) -> None:  # noqa: A002
        context[CONTEXT_KEY] = slack
        await next()

    bolt.use(share_channel)
    register_listeners(bolt)
    return bolt


async def connect_socket_mode(handler: AsyncSocketModeHandler, max_delay_s: float = 60) -> None:
    """Connect out to Slack; an unreachable Slack never stops the service (other channels work)."""
    delay = 1.0
    while True:
        try:
            await handler.connect_async()
        except Exception as exc:  # slack_sdk, aiohttp and OS errors alike: log, wait, retry
            log.warning("Slack Socket Mode could not connect (%s); retrying in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
        else:
            log.info("Slack is on (Socket Mode)")
            return


def install(app: web.Application, runtime: Runtime) -> None:
    settings = runtime.settings
    if not settings.slack_enabled:
        log.info("Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN) to turn it on")
        return
    client = web_client(settings)
    directory = Directory(client)
    slack = SlackChannel(
        runtime,
        client,
        MessageLocations(runtime.redis, runtime.keys, settings.retention_seconds),
        ChannelPacer(runtime.redis, runtime.keys),
        directory,
    )
    slack.pacer.runner = poster(slack)
    resolver = runtime.service.resolver
    resolver.group_resolver = directory.group_members
    resolver.identity_resolver = directory.person
    resolver.member_resolver = member_resolver(slack)
    runtime.outbox.subscribe(outbox_handler(slack))
    socket_mode = bool(settings.slack_app_token)
    bolt = build_bolt(slack)
    app[SLACK] = slack
    app[BOLT] = bolt

    async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
        # Runs after the runtime's context (registered earlier) has started, and unwinds before it closes Redis.
        sweep = asyncio.create_task(sweep_missed(), name="slack-post-missed")
        yield
        sweep.cancel()
        with suppress(asyncio.CancelledError):
            await sweep
        await slack.pacer.stop()

    async def sweep_missed() -> None:
        try:
            await post_missed(slack)
        except Exception:  # a failed sweep must not take the service down; the next start tries again
            log.exception("could not look for pending requests missing from Slack")

    app.cleanup_ctx.append(delivery_ctx)
    if socket_mode:

        async def socket_mode_ctx(app: web.Application) -> AsyncIterator[None]:
            handler = AsyncSocketModeHandler(bolt, settings.slack_app_token)
            connecting = asyncio.create_task(connect_socket_mode(handler), name="slack-socket-mode")
            yield
            connecting.cancel()
            with suppress(asyncio.CancelledError):
                await connecting
            with suppress(Exception):
                await handler.close_async()

        app.cleanup_ctx.append(socket_mode_ctx)
        return

    async def slack_events(request: web.Request) -> web.StreamResponse:
        # Verified here, not by Bolt: Bolt logs a refused request with its body, and answers a timestamp
        # that is not a number with an error. Refused requests are counted in the log, never echoed.
        body = await request.read()
        if not signature_ok(
            settings.slack_signing_secret or "",
            request.headers.get("X-Slack-Request-Timestamp"),
            request.headers.get("X-Slack-Signature"),
            body,
            time.time(),
        ):
            log.info("refused a request to %s: missing or bad Slack signature", EVENTS_PATH)
            return web.json_response({"error": "invalid request"}, status=401)
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    app.router.add_post(EVENTS_PATH, slack_events)
    log.info("Slack is on: requests from Slack at POST %s", EVENTS_PATH)
