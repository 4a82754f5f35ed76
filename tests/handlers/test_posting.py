"""Posting: what the approval message carries, where it goes, and that intake never waits for Slack."""

from __future__ import annotations

import asyncio

from blocks.approval import APPROVE, MODIFY, REJECT, TRUST, VIEW
from handlers import keys as slack_keys
from handlers.delivery import post_missed
from tests.support.servers import AGENT_KEY, auth, make_settings, running_app, unique_prefix
from tests.support.slack_app import SLACK_POLICY, slack_harness


async def test_message_carries_the_context_and_buttons(slack):
    approval, message = await slack.submit_and_wait_posted(
        action="delete_customer",
        args={"customer_id": "cus_42", "hard": True},
        context={
            "why": "GDPR erasure request",
            "affected": "1 customer record",
            "reversible": False,
            "alternatives": "anonymise instead",
            "ticket": "SUP-9",
        },
        risk={"level": "high"},
        requested_by="U0BOB",
    )
    text = message.all_text
    assert message.channel == "C0APPROVALS"
    assert "HIGH RISK" in text and "delete_customer" in text and "billing-agent" in text
    for piece in (
        "GDPR erasure request",
        "1 customer record",
        "anonymise instead",
        "SUP-9",
        "*no*",
        "cus_42",
        "agent risk.level: high",
        "<!date^",
        "U0BOB",
    ):
        assert piece in text, piece
    assert message.action_ids == [APPROVE, REJECT, MODIFY, TRUST, VIEW]
    assert f"<http://127.0.0.1:3000/requests/{approval['id']}|Open in the dashboard>" in text
    assert "needs approval" in message.text
    # The contract other adapters rely on: slack:msg:<id> maps channel ID → ts.
    stored = await slack.running.runtime.redis.hgetall(slack_keys.messages(slack.running.runtime.keys, approval["id"]))
    assert stored == {"C0APPROVALS": message.ts}
    events = await slack.running.runtime.audit.for_approval(approval["id"])
    notified = [e for e in events if e.type == "notified"]
    assert notified and notified[0].detail["slack_channel"] == "C0APPROVALS"


async def test_user_target_gets_a_dm(redis_server):
    policy = 'levels:\n  medium: {channels: [{slack: U0ADA}, {slack: "#ops"}]}\n'
    async with slack_harness(redis_server, policy) as slack:
        approval = await slack.submit()
        await slack.emulator.wait_for("chat.postMessage", count=2)
        await slack.slack.pacer.idle()
        targets = sorted(c.args["channel"] for c in slack.emulator.calls_to("chat.postMessage"))
        assert targets == ["#ops", "U0ADA"]
        assert sorted(await slack.slack.messages.all(approval["id"])) == ["C0OPS", "D0ADA"]


async def test_intake_returns_before_slack_is_called(redis_server):
    gate = asyncio.Event()
    async with slack_harness(redis_server, hold_posts=gate) as slack:
        response = await slack.running.client.post("/v1/approvals", json={"action": "deploy"}, headers=auth(AGENT_KEY))
        assert response.status == 201  # while Slack has not answered the post
        assert slack.emulator.calls_to("chat.postMessage") == []
        gate.set()
        await slack.emulator.wait_for("chat.postMessage")


async def test_unknown_channel_is_audited_not_fatal(redis_server):
    policy = 'levels:\n  medium: {channels: [{slack: "#nowhere"}, {slack: "#approvals"}]}\n'
    async with slack_harness(redis_server, policy) as slack:
        approval = await slack.submit()
        await slack.emulator.wait_for("chat.postMessage")
        await slack.slack.pacer.idle()
        events = await slack.running.runtime.audit.for_approval(approval["id"])
        failed = [e for e in events if e.type == "notify_failed"]
        assert failed and failed[0].detail["error"] == "channel_not_found"
        assert list(await slack.slack.messages.all(approval["id"])) == ["C0APPROVALS"]


async def test_auto_decided_requests_are_not_posted(redis_server):
    policy = (
        'default_level: low\nlevels:\n  low: {auto_approve: true, channels: [{slack: "#approvals"}]}\n'
        '  medium: {channels: [{slack: "#approvals"}]}\n'
    )
    async with slack_harness(redis_server, policy) as slack:
        first = await slack.submit()
        assert first["status"] == "approved"
        second, _ = await slack.submit_and_wait_posted(risk={"level": "medium"})
        posted = slack.emulator.calls_to("chat.postMessage")
        assert len(posted) == 1 and second["id"] in str(posted[0].args["blocks"])


async def test_requests_missing_from_slack_are_posted_at_start(redis_server):
    prefix = unique_prefix()
    # Filed while Slack was off (or by a process that stopped with the post still queued).
    async with running_app(make_settings(redis_server.url, prefix=prefix), SLACK_POLICY) as running:
        response = await running.client.post("/v1/approvals", json={"action": "missed"}, headers=auth(AGENT_KEY))
        missed = (await response.json())["id"]
    async with slack_harness(redis_server, prefix=prefix) as slack:
        await slack.emulator.wait_for("chat.postMessage")
        await slack.slack.pacer.idle()
        assert list(await slack.slack.messages.all(missed)) == ["C0APPROVALS"]
        # A second start finds nothing missing, and a live event racing the sweep posts once.
        fresh, _ = await slack.submit_and_wait_posted()
        assert await post_missed(slack.slack) == 0
        assert len(slack.emulator.calls_to("chat.postMessage")) == 2


async def test_a_post_that_still_fails_after_retries_is_queued_again(redis_server, monkeypatch):
    import handlers.delivery

    monkeypatch.setattr(handlers.delivery, "REPOST_DELAYS_S", (0.1,))
    async with slack_harness(redis_server) as slack:
        # More 429s than the client's own retry handler absorbs: the first attempt gives up.
        slack.emulator.ratelimit_next("chat.postMessage", retry_after=0, times=8)
        approval = await slack.submit()
        await slack.emulator.wait_for("chat.postMessage", seconds=10)
        events = await slack.running.runtime.audit.for_approval(approval["id"])
        failed = [e for e in events if e.type == "notify_failed"]
        assert failed and failed[0].detail["retrying"] is True and failed[0].detail["error"] == "ratelimited"
        assert list(await slack.slack.messages.all(approval["id"])) == ["C0APPROVALS"]
