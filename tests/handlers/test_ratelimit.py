"""Slack's rate limits: Retry-After is honoured, and a burst to one channel is paced, not stormed."""

from __future__ import annotations

import asyncio

from tests.support.servers import AGENT_KEY, auth
from tests.support.slack_app import NO_DIGEST_POLICY, slack_harness


async def test_429_is_retried_after_retry_after(slack):
    slack.emulator.ratelimit_next("chat.postMessage", retry_after=1)
    approval, message = await slack.submit_and_wait_posted()
    calls = slack.emulator.calls_to("chat.postMessage", ok_only=False)
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0
    assert await slack.slack.messages.all(approval["id"]) == {message.channel: message.ts}


async def test_burst_to_one_channel_is_paced(redis_server):
    # Digests off: this is about individual posts (tests/handlers/test_digest.py covers bursts as digests).
    async with slack_harness(redis_server, NO_DIGEST_POLICY, min_post_interval=0.1) as slack:
        slack.slack.pacer.interval_s = 0.25  # Slack's 1 s, scaled down; the margin absorbs network jitter
        responses = await asyncio.gather(
            *[
                slack.running.client.post("/v1/approvals", json={"action": f"job-{i}"}, headers=auth(AGENT_KEY))
                for i in range(12)
            ]
        )
        assert {r.status for r in responses} == {201}
        await slack.emulator.wait_for("chat.postMessage", count=12, seconds=30)
        await slack.slack.pacer.idle()
        calls = slack.emulator.calls_to("chat.postMessage", ok_only=False)
        assert [c.status for c in calls] == [200] * 12  # not one 429
        gaps = [b.at - a.at for a, b in zip(calls, calls[1:], strict=False)]
        assert min(gaps) >= 0.1


async def test_a_429_in_a_burst_does_not_cascade(redis_server):
    async with slack_harness(redis_server, min_post_interval=0.1) as slack:
        slack.slack.pacer.interval_s = 0.25
        slack.emulator.ratelimit_next("chat.postMessage", retry_after=1)
        await asyncio.gather(
            *[
                slack.running.client.post("/v1/approvals", json={"action": f"job-{i}"}, headers=auth(AGENT_KEY))
                for i in range(3)
            ]
        )
        await slack.emulator.wait_for("chat.postMessage", count=3, seconds=30)
        await slack.slack.pacer.idle()
        # The retried post lands late; the next one still waits its interval after it, so no second 429.
        assert [c.status for c in slack.emulator.calls_to("chat.postMessage", ok_only=False)] == [429, 200, 200, 200]
