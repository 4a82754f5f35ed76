"""A clean stop for `countersign serve`: on SIGTERM/SIGINT the port closes, every held long-poll is answered
at once with the request as it stands (the client re-issues it, to another process), live streams end, and
what is still running gets a short grace period before it is cancelled: the process is gone within 5 s."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.runtime import Runtime

log = logging.getLogger(__name__)

# aiohttp's grace for in-flight handlers after the port closes (its default is 60 s). Long-polls and streams
# end at once, so this bounds only ordinary requests. Within 5 s in all: the shutdown hooks (<= 1 s, the
# dashboard's mail), this grace, then the runtime's own stop (outbox, sweeper: <= 2 s).
GRACE_S = 2.0


def install(app: web.Application, runtime: Runtime) -> None:
    """First of the shutdown hooks: runs after the listening sockets are closed, before the grace period."""

    async def release_waiters(_app: web.Application) -> None:
        held = runtime.feed.drain()
        log.info("shutting down: answered %d held long-poll(s) with their current state", held)

    app.on_shutdown.insert(0, release_waiters)
