"""A generic recording HTTP server on loopback: agent callback receiver, minimal Slack Web API stand-in."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.loopback import start_on_loopback


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpRecorder:
    """Answers every request with the next queued status (default 200) and records it."""

    requests: list[Recorded] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    url: str = ""
    user_groups: list[dict[str, str]] = field(default_factory=list)  # for usergroups.list
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = self.statuses.pop(0) if self.statuses else 200
        async with self._arrived:
            self.requests.append(Recorded(request.method, request.path, dict(request.headers), body))
            self._arrived.notify_all()
        if request.path.startswith("/api/"):  # Slack Web API shape
            method = request.path.removeprefix("/api/")
            payload: dict[str, Any] = {"ok": True}
            if method == "chat.postMessage":
                payload["ts"] = f"1700000000.{next(self._ts):06d}"
            if method == "usergroups.list":
                payload["usergroups"] = self.user_groups
            if method == "auth.test":
                payload.update(user_id="UBOT", team_id="T1", bot_id="B1")
            return web.json_response(payload, status=status)
        return web.json_response({"received": True}, status=status)

    async def wait_for(self, count: int, seconds: float = 15) -> list[Recorded]:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.requests) >= count), seconds)
        return list(self.requests)

    def to(self, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]


@asynccontextmanager
async def running_recorder() -> AsyncIterator[HttpRecorder]:
    recorder = HttpRecorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    runner, recorder.url = await start_on_loopback(app)
    try:
        yield recorder
    finally:
        await runner.cleanup()
