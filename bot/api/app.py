"""Builds the aiohttp application: API routes, health, metrics, OpenAPI; adapters add their own."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.exceptions import RedisError

from bot import metrics
from bot.api.approvals import KEYRING, SERVICE, routes
from bot.api.auth import KeyRing
from bot.api.errors import error_middleware
from bot.api.openapi import build_openapi
from bot.runtime import Runtime

log = logging.getLogger(__name__)
RUNTIME = web.AppKey("runtime", Runtime)
MAX_BODY = 256 * 1024
OPENAPI = web.AppKey("openapi", dict)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[RUNTIME].redis.ping()
    except (RedisError, OSError) as exc:
        return web.json_response({"status": "unavailable", "redis": str(exc)}, status=503)
    return web.json_response({"status": "ok"})


async def metrics_view(request: web.Request) -> web.Response:
    pending = await request.app[RUNTIME].store.pending_by_level()
    return web.Response(body=metrics.render(pending), content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def openapi_view(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


def create_app(runtime: Runtime, manage_runtime: bool = True) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[error_middleware])
    app[RUNTIME] = runtime
    app[SERVICE] = runtime.service
    app[KEYRING] = KeyRing(runtime.agent_keys, runtime.approver_keys)
    app[OPENAPI] = build_openapi()
    app.add_routes(routes)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/v1/openapi.json", openapi_view)
    if manage_runtime:
        async def lifecycle(app: web.Application) -> AsyncIterator[None]:
            await runtime.start()
            yield
            await runtime.stop()

        app.cleanup_ctx.append(lifecycle)
    return app
