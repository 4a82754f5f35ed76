"""The whole app wired to a local Slack emulator, with a player for Slack's signed requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.embedded import EmbeddedRedis
from handlers.channel import SlackChannel
from handlers.install import SLACK
from tests.support.servers import AGENT_KEY, RunningApp, auth, make_settings, running_app
from tests.support.slack_emulator import BOT_TOKEN, SIGNING_SECRET, SlackEmulator, SlackPlayer, slack_emulator

SLACK_POLICY = """
default_level: medium
levels:
  low: {channels: [{slack: "#approvals"}], timeout: 1h}
  medium: {channels: [{slack: "#approvals"}], timeout: 1h}
  high: {channels: [{slack: "#approvals"}], approvers: [U0ADA, "@oncall"], timeout: 1h}
  critical: {channels: [{slack: "#approvals"}], approvers: [U0ADA, U0GRACE], quorum: 2, timeout: 1h}
"""


# The same, with digests off (every level's `digest_after` above any burst a test makes): for tests of how
# individual posts are paced and ordered.
NO_DIGEST_POLICY = SLACK_POLICY.replace("timeout: 1h}", "timeout: 1h, digest_after: 1000}")


@dataclass
class SlackHarness:
    running: RunningApp
    emulator: SlackEmulator
    player: SlackPlayer

    @property
    def slack(self) -> SlackChannel:
        return self.running.client.app[SLACK]

    async def submit(self, **request: Any) -> dict[str, Any]:
        """File a request as the agent; returns the approval JSON."""
        body = {"action": "deploy", "args": {"service": "billing"}, **request}
        response = await self.running.client.post("/v1/approvals", json=body, headers=auth(AGENT_KEY))
        assert response.status == 201, await response.text()
        result: dict[str, Any] = await response.json()
        return result

    async def submit_and_wait_posted(self, **request: Any) -> tuple[dict[str, Any], Any]:
        approval = await self.submit(**request)
        await self.emulator.wait_for("chat.postMessage", where=lambda c: approval["id"] in str(c.args.get("blocks")))
        await self.slack.pacer.idle()  # the message's location is stored once the post returns
        return approval, self.emulator.message_for(approval["id"])

    async def approval(self, approval_id: str, wait: int = 0, key: str = AGENT_KEY) -> dict[str, Any]:
        """As the agent sees it; with an approver key, the full record (who decided, by Slack ID)."""
        response = await self.running.client.get(f"/v1/approvals/{approval_id}?wait={wait}", headers=auth(key))
        result: dict[str, Any] = await response.json()
        return result


@asynccontextmanager
async def slack_harness(
    redis: EmbeddedRedis,
    policy: str = SLACK_POLICY,
    clock: Clock | None = None,
    prefix: str | None = None,
    **emulator_options: Any,
) -> AsyncIterator[SlackHarness]:
    async with slack_emulator(**emulator_options) as emulator:
        settings = make_settings(
            redis.url,
            prefix,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=emulator.api_url,
        )
        async with running_app(settings, policy, clock) as running:
            yield SlackHarness(running, emulator, SlackPlayer(running.client, emulator))
