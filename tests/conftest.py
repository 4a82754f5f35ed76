"""Fixtures shared by every test: one real Redis-protocol server per session, an app per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.embedded import EmbeddedRedis
from bot.settings import Settings
from tests.support.servers import RunningApp, make_settings, running_app, start_redis

# The fast tier (`./scripts/test --fast`, or `pytest -m unit`): pure logic (policy, SQL, Block Kit, redaction,
# the network policy, the SDK's protocol) and service rules against the real Redis, without the HTTP app or
# emulators. A module listed here must keep each test well under a second: the tier runs in under 20 s.
UNIT_TIER = (
    "tests/bot/test_policy.py",
    "tests/bot/test_redaction.py",
    "tests/bot/test_service_rules.py",
    "tests/bot/test_sql.py",
    "tests/bot/test_service_reads.py",
    "tests/blocks/",
    "tests/security/test_callbacks_netpolicy.py",
    "tests/security/test_risk_sql_oracle.py",
    "tests/sdk/test_protocol.py",
    "tests/sdk/test_signature.py",
    "tests/test_architecture.py",
    "tests/handlers/test_manifest.py",
    "tests/channels/test_signed_tokens.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(UNIT_TIER):
            item.add_marker(pytest.mark.unit)


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
