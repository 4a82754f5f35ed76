"""Fixtures for the Slack listeners: the app against a Slack emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.embedded import EmbeddedRedis
from tests.support.slack_app import SlackHarness, slack_harness


@pytest.fixture
async def slack(redis_server: EmbeddedRedis) -> AsyncIterator[SlackHarness]:
    async with slack_harness(redis_server) as harness:
        yield harness
