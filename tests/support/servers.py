"""Real servers for tests: the valkey-server binary on a free port, and the full aiohttp app."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.bootstrap import build_runtime
from bot.clock import Clock, FrozenClock, SystemClock
from bot.embedded import EmbeddedRedis
from bot.policy import Policy, parse_policy
from bot.runtime import Runtime
from bot.server import build_application
from bot.settings import Settings, load_settings

AGENT_KEY = "agent-secret-0123456789abcdef"
OTHER_AGENT_KEY = "other-agent-secret-0123456789"
APPROVER_KEY = "approver-secret-0123456789abcdef"
APPROVER2_KEY = "approver2-secret-0123456789abcd"
# The master key every test app and CLI subprocess shares (the audit chain's HMAC is derived from it).
SECRET_KEY = "test-secret-key-0123456789abcdef0123456789"
_prefixes = itertools.count(1)
EXAMPLE_POLICY = (Path(__file__).resolve().parents[2] / "docs" / "policy.example.yaml").read_text()


def start_redis() -> EmbeddedRedis:
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="cs-test-redis-")), persist=False)
    server.start()
    return server


def unique_prefix() -> str:
    """Each test gets its own key prefix on the shared test server: isolation without FLUSHALL."""
    return f"t{next(_prefixes)}:"


def make_settings(redis_url: str, prefix: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "countersign_redis_prefix": prefix or unique_prefix(),
        "countersign_callback_allow": "",
        "countersign_api_keys": f"billing-agent:{AGENT_KEY},other-agent:{OTHER_AGENT_KEY}",
        "countersign_approver_keys": f"ada:{APPROVER_KEY},grace:{APPROVER2_KEY}",
        "slack_bot_token": None,
        "slack_signing_secret": None,
        "slack_app_token": None,
        "smtp_url": None,
        "twilio_account_sid": None,
        "twilio_auth_token": None,
        "countersign_secret_key": SECRET_KEY,
        "_env_file": None,
        # Tests file many requests quickly; tests/security/test_limits_* turn the limits on.
        "countersign_agent_rate": "0",
        "countersign_agent_max_pending": 0,
    }
    values.update(overrides)
    return load_settings(**values)


def delivery_settings(redis_url: str, smtp_url: str, twilio_url: str, public_url: str, **overrides: Any) -> Settings:
    """Settings that deliver by email (to a local SMTP server) and SMS (to the Twilio emulator)."""
    from tests.support.twilio_emulator import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

    return make_settings(
        redis_url,
        smtp_url=smtp_url,
        email_from="countersign@example.com",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from=FROM_NUMBER,
        twilio_api_url=twilio_url,
        countersign_public_url=public_url,
        **overrides,
    )


def auth(key: str = AGENT_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class RunningApp:
    runtime: Runtime
    client: TestClient  # type: ignore[type-arg]
    server: TestServer

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")


@asynccontextmanager
async def running_app(
    settings: Settings, policy: Policy | str | None = None, clock: Clock | None = None
) -> AsyncIterator[RunningApp]:
    if isinstance(policy, str):
        policy = parse_policy(policy, "<test policy>")
    runtime = build_runtime(settings, settings.redis_url or "", clock=clock or SystemClock(), policy=policy)
    app = build_application(runtime)
    server = TestServer(app, host="127.0.0.1")
    client = TestClient(server)
    await client.start_server()
    try:
        yield RunningApp(runtime, client, server)
    finally:
        await client.close()


__all__ = ["FrozenClock", "RunningApp", "make_settings", "running_app", "start_redis"]
