"""Builds the aiohttp application: API routes, health, metrics, OpenAPI; adapters add their own."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.exceptions import RedisError

from bot import metrics
from bot.channels.api.approvals import SERVICE, routes
from bot.channels.api.grants import RUNTIME as GRANTS_RUNTIME
from bot.channels.api.grants import routes as grant_routes
from bot.channels.api.openapi import build_openapi
from bot.channels.common.auth import KEYRING, KeyRing, bearer_matches
from bot.channels.common.errors import error_middleware, error_response
from bot.channels.common.guard import auth_failure_limit, install_guard
from bot.ratelimit import WindowLimit
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
    token = request.app[RUNTIME].settings.countersign_metrics_token
    if token and not bearer_matches(request, token):
        return error_response(
            401,
            "unauthenticated",
            "send Authorization: Bearer <COUNTERSIGN_METRICS_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    pending = await request.app[RUNTIME].store.pending_by_level()
    grants_active = len(await request.app[RUNTIME].trust.grants())
    return web.Response(
        body=metrics.render(pending, grants_active),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


async def openapi_view(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


def create_app(runtime: Runtime, manage_runtime: bool = True) -> web.Application:
    # The failed-authentication limit sits outside the error mapping, so it sees every 401 as a response.
    app = web.Application(client_max_size=MAX_BODY, middlewares=[auth_failure_limit, error_middleware])
    app[RUNTIME] = runtime
    settings = runtime.settings
    install_guard(
        app,
        WindowLimit(runtime.redis, runtime.keys, "auth-failures", settings.countersign_auth_failures_per_minute, 60),
        settings.trusted_proxies,
    )
    app[SERVICE] = runtime.service
    app[KEYRING] = KeyRing(runtime.agent_keys, runtime.approver_keys)
    app[OPENAPI] = build_openapi()
    app.add_routes(routes)
    app[GRANTS_RUNTIME] = runtime
    app.add_routes(grant_routes)
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
