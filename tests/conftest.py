"""Fixtures shared by every test: one real Redis-protocol server per session, an app per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.embedded import EmbeddedRedis
from bot.settings import Settings
from tests.support.servers import RunningApp, make_settings, running_app, start_redis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def settings(redis_server: EmbeddedRedis) -> Settings:
    return make_settings(redis_server.url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    async with running_app(settings) as running:
        yield running

