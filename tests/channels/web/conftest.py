"""Dashboard fixtures: the app with a policy naming approvers by email."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.embedded import EmbeddedRedis
from tests.support.servers import RunningApp, make_settings, running_app
from tests.support.web import BOB, POLICY


@pytest.fixture
async def web_app(redis_server: EmbeddedRedis) -> AsyncIterator[RunningApp]:
    settings = make_settings(redis_server.url, countersign_web_users=BOB)
    async with running_app(settings, POLICY) as running:
        yield running
