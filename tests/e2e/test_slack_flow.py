"""End to end through Slack: agent files → message at the emulator → signed click → agent's wait returns."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from blocks.approval import APPROVE, MODIFY, REJECT
from blocks.modals import ARGS_BLOCK, ARGS_INPUT, REASON_BLOCK, REASON_INPUT
from bot.clock import FrozenClock
from tests.support.servers import APPROVER_KEY, auth
from tests.support.slack_app import slack_harness


async def test_approve_from_slack_releases_the_waiting_agent(slack):
    approval, message = await slack.submit_and_wait_posted(context={"why": "ship it"})
    waiting = asyncio.create_task(slack.approval(approval["id"], wait=20))
    status, _ = await slack.player.click("U0ADA", APPROVE, approval["id"], message=message, name="ada")
    assert status == 200
    decided = await asyncio.wait_for(waiting, 10)
    assert decided["status"] == "approved"
    # The agent sees its approver by channel and name, not by Slack user ID (docs/security.md).
    assert decided["decision"]["by"] == {"channel": "slack", "id": "ada", "name": "ada"}
    assert decided["decision"]["args"] == {"service": "billing"}


async def test_reject_with_reason_from_slack(slack):
    approval, message = await slack.submit_and_wait_posted(risk={"level": "critical"})
    waiting = asyncio.create_task(slack.approval(approval["id"], wait=20))
    await slack.player.click("U0GRACE", REJECT, approval["id"], message=message)
    [call] = await slack.emulator.wait_for("views.open")
    await slack.player.submit_view("U0GRACE", call.args["view"], {REASON_BLOCK: {REASON_INPUT: "too risky"}})
    decided = await asyncio.wait_for(waiting, 10)
    assert decided["status"] == "rejected"
    assert decided["decision"]["comment"] == "too risky"
    full = await slack.approval(approval["id"], key=APPROVER_KEY)
    assert full["decision"]["by"]["id"] == "U0GRACE"


async def test_modify_from_slack_returns_new_args(slack):
    approval, message = await slack.submit_and_wait_posted(args={"amount": 500, "currency": "EUR"})
    waiting = asyncio.create_task(slack.approval(approval["id"], wait=20))
    await slack.player.click("U0ADA", MODIFY, approval["id"], message=message)
    [call] = await slack.emulator.wait_for("views.open")
    await slack.player.submit_view(
        "U0ADA", call.args["view"], {ARGS_BLOCK: {ARGS_INPUT: '{"amount": 50, "currency": "EUR"}'}}
    )
    decided = await asyncio.wait_for(waiting, 10)
    assert decided["status"] == "approved" and decided["decision"]["outcome"] == "modify"
    assert decided["decision"]["args"] == {"amount": 50, "currency": "EUR"}


async def test_decision_via_api_updates_the_slack_message(slack):
    approval, message = await slack.submit_and_wait_posted()
    response = await slack.running.client.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"outcome": "reject", "comment": "not today"},
        headers=auth(APPROVER_KEY),
    )
    assert response.status == 200
    [update] = await slack.emulator.wait_for("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (message.channel, message.ts)
    assert message.action_ids == [] and "Rejected" in message.all_text and "not today" in message.all_text


async def test_cancel_by_the_agent_updates_the_slack_message(slack):
    approval, message = await slack.submit_and_wait_posted()
    response = await slack.running.client.post(f"/v1/approvals/{approval['id']}/cancel", headers=auth())
    assert response.status == 200
    await slack.emulator.wait_for("chat.update")
    assert message.action_ids == [] and "Cancelled" in message.all_text


async def test_twenty_concurrent_clicks_make_one_decision(slack):
    approval, message = await slack.submit_and_wait_posted()
    clickers = [f"U0P{i:02d}" for i in range(20)]
    results = await asyncio.gather(*[slack.player.click(u, APPROVE, approval["id"], message=message) for u in clickers])
    assert {status for status, _ in results} == {200}
    decided = await slack.approval(approval["id"], wait=5, key=APPROVER_KEY)
    assert decided["status"] == "approved" and decided["decision"]["by"]["id"] in clickers
    # Everyone else is told who was first.
    await slack.emulator.wait_for("chat.postEphemeral", count=19, seconds=10)
    texts = [c.args["text"] for c in slack.emulator.calls_to("chat.postEphemeral")]
    assert all(t.startswith("This request was already approved by") for t in texts)
    events = await slack.running.runtime.audit.for_approval(approval["id"])
    assert len([e for e in events if e.type == "decision"]) == 1
    assert len([e for e in events if e.type == "refused" and e.detail.get("reason") == "stale"]) == 19


async def test_expiry_updates_the_slack_message(redis_server):
    clock = FrozenClock()
    async with slack_harness(redis_server, clock=clock) as slack:
        approval, message = await slack.submit_and_wait_posted()
        clock.advance(timedelta(hours=2))
        [expired] = await slack.running.runtime.service.expire_due()
        assert expired.id == approval["id"]
        await slack.emulator.wait_for("chat.update")
        assert message.action_ids == [] and "Expired" in message.all_text
        assert "nobody decided in time, so it is *rejected*" in message.all_text
