"""7: one agent's burst of requests to a Slack channel cannot hold back another agent's request there: posts
go out most urgent level first, round-robin across agents within a level, still paced per channel."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.embedded import EmbeddedRedis
from tests.escalation.conftest import OutboxProbe
from tests.support.servers import AGENT_KEY, OTHER_AGENT_KEY, auth
from tests.support.slack_app import NO_DIGEST_POLICY, SlackHarness, slack_harness

SPAM = 60


async def _file(slack: SlackHarness, probe: OutboxProbe, key: str, **request: Any) -> str:
    response = await slack.running.client.post("/v1/approvals", headers=auth(key), json={"action": "deploy", **request})
    assert response.status == 201, await response.text()
    approval_id = str((await response.json())["id"])
    await probe.wait("created", approval_id)
    return approval_id


async def _position_after_spam(redis: EmbeddedRedis, **urgent: Any) -> int:
    """Agent A files SPAM requests while Slack holds the first post; then agent B files one. Returns the
    position (0-based) of B's message among the posts to the channel."""
    gate = asyncio.Event()
    async with slack_harness(redis, NO_DIGEST_POLICY, hold_posts=gate) as slack:  # individual posts
        slack.slack.pacer.interval_s = 0.005  # Slack's 1 s, scaled down: the order is what is tested
        probe = OutboxProbe()
        slack.running.runtime.outbox.subscribe(probe)
        await asyncio.gather(*[_file(slack, probe, AGENT_KEY, args={"n": n}) for n in range(SPAM)])
        await slack.slack.pacer.queued()
        assert await slack.slack.pacer.backlog("#approvals") >= SPAM - 1  # one is held in flight
        urgent_id = await _file(slack, probe, OTHER_AGENT_KEY, **urgent)
        await slack.slack.pacer.queued()
        gate.set()
        posts = await slack.emulator.wait_for("chat.postMessage", count=SPAM + 1, seconds=60)
        await slack.slack.pacer.idle()
        assert len(slack.emulator.calls_to("chat.postMessage")) == SPAM + 1  # each request posted once
        return next(i for i, call in enumerate(posts) if urgent_id in str(call.args.get("blocks")))


async def test_posting_spam_does_not_delay_urgent_request(redis_server: EmbeddedRedis) -> None:
    assert await _position_after_spam(redis_server, risk={"level": "critical"}) <= 1


async def test_posting_spam_does_not_delay_another_agents_request_of_the_same_level(
    redis_server: EmbeddedRedis,
) -> None:
    assert await _position_after_spam(redis_server) <= 2
