"""`/approvals` (paged queue, stats, help) and the App Home tab."""

from __future__ import annotations

import asyncio
import json

from blocks.approval import APPROVE
from blocks.queue import PAGE_ACTION
from tests.support.servers import AGENT_KEY, auth


async def file_many(slack, count, **request):
    bodies = [{"action": f"job-{i}", **request} for i in range(count)]
    responses = await asyncio.gather(
        *[slack.running.client.post("/v1/approvals", json=body, headers=auth(AGENT_KEY)) for body in bodies]
    )
    return [(await r.json())["id"] for r in responses]


def buttons(blocks):
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def test_queue_pages_beyond_the_block_limit(slack):
    slack.slack.pacer.interval_s = 0  # this test is about the queue, not posting
    ids = await file_many(slack, 35)
    await file_many(slack, 3, risk={"level": "high"})  # U0BOB may not decide these
    # Who is in #approvals (and so may decide) is known once something was posted there (one post, or a digest).
    await slack.emulator.wait_for("chat.postMessage")
    await slack.slack.pacer.idle()
    status, body = await slack.player.command("U0BOB")
    assert (status, body) == (200, "")
    [call] = await slack.emulator.wait_for("response_url")
    first = call.args
    assert first["response_type"] == "ephemeral" and len(first["blocks"]) <= 50
    assert "Page 1 of 3 · 35 pending" in json.dumps(first["blocks"], ensure_ascii=False)
    listed = {e["value"] for e in buttons(first["blocks"]) if e["action_id"] == APPROVE}
    assert len(listed) == 15 and listed <= set(ids)
    [next_button] = [e for e in buttons(first["blocks"]) if e["action_id"] == f"{PAGE_ACTION}_next"]
    status, _ = await slack.player.click("U0BOB", next_button["action_id"], next_button["value"], ephemeral=True)
    assert status == 200
    calls = await slack.emulator.wait_for("response_url", count=2)
    second = calls[-1].args
    assert second["replace_original"] is True and "Page 2 of 3" in json.dumps(second["blocks"], ensure_ascii=False)
    listed_two = {e["value"] for e in buttons(second["blocks"]) if e["action_id"] == APPROVE}
    assert len(listed_two) == 15 and not listed & listed_two


async def test_approving_from_the_queue_refreshes_it(slack):
    [approval_id] = await file_many(slack, 1)
    await slack.player.command("U0ADA")
    await slack.emulator.wait_for("response_url")
    await slack.player.click("U0ADA", APPROVE, approval_id, ephemeral=True)
    assert (await slack.approval(approval_id, wait=5))["status"] == "approved"
    calls = await slack.emulator.wait_for("response_url", count=2)
    assert "Nothing is waiting" in json.dumps(calls[-1].args["blocks"])


async def test_stats_and_help(slack):
    approval, message = await slack.submit_and_wait_posted()
    await slack.submit()
    await slack.player.click("U0ADA", APPROVE, approval["id"], message=message)
    await slack.approval(approval["id"], wait=5)
    await slack.player.command("U0ADA", "stats")
    [call] = await slack.emulator.wait_for("response_url")
    text = json.dumps(call.args["blocks"])
    assert "*Pending*\\n1" in text and "*Decisions today (UTC)*\\n1" in text and "Median" in text
    status, body = await slack.player.command("U0ADA", "help")
    assert status == 200 and "/approvals stats" in body and json.loads(body)["response_type"] == "ephemeral"
    status, body = await slack.player.command("U0ADA", "frobnicate")
    assert "Unknown option" in json.loads(body)["text"]


async def test_stats_show_per_approver_figures(slack):
    approval, message = await slack.submit_and_wait_posted()
    await slack.player.click("U0ADA", APPROVE, approval["id"], message=message)
    await slack.approval(approval["id"], wait=5)
    await slack.player.command("U0ADA", "stats")
    [call] = await slack.emulator.wait_for("response_url")
    text = json.dumps(call.args["blocks"])
    assert "*Approved by a grant instead*\\n0" in text and "Per approver (today)" in text
    # One row for U0ADA: one decision, all approvals, with its median and the quick high/critical share.
    [row] = [b["text"]["text"] for b in call.args["blocks"] if "decisions ·" in b.get("text", {}).get("text", "")]
    assert "U0ADA" in row and "1 decisions" in row and "approves 100%" in row and "median " in row
    assert "high/critical approved under 10 s: none approved" in row


async def test_app_home_shows_queue_and_recent_decisions(slack):
    approval, message = await slack.submit_and_wait_posted(action="rotate_keys")
    decided, decided_message = await slack.submit_and_wait_posted(action="drop_table")
    await slack.player.click("U0ADA", APPROVE, decided["id"], message=decided_message, name="ada")
    await slack.approval(decided["id"], wait=5)
    status, _ = await slack.player.event(
        {"type": "app_home_opened", "user": "U0BOB", "channel": "D0BOB", "tab": "home", "event_ts": "1.2"}
    )
    assert status == 200
    [call] = await slack.emulator.wait_for("views.publish")
    assert call.args["user_id"] == "U0BOB" and call.args["view"]["type"] == "home"
    text = json.dumps(call.args["view"]["blocks"])
    assert "rotate_keys" in text and "drop_table" in text and "Approved" in text
    # A click from the Home tab (no channel) is answered by DM.
    await slack.player.click("U0BOB", APPROVE, decided["id"], home=True)
    [dm] = await slack.emulator.wait_for("chat.postMessage", where=lambda c: c.args["channel"] == "U0BOB")
    assert "already approved by ada" in dm.args["text"]


async def test_approving_from_the_queue_before_the_message_is_posted(slack):
    # A burst can keep a request's post waiting behind the channel's pace; someone reading /approvals meanwhile
    # is still recognised as a member of the level's channel (looked up by name, not learnt from the post).
    slack.emulator.hold_posts = asyncio.Event()
    try:
        [approval_id] = await file_many(slack, 1)
        await slack.player.command("U0ADA")
        await slack.emulator.wait_for("response_url")
        await slack.player.click("U0ADA", APPROVE, approval_id, ephemeral=True)
        assert (await slack.approval(approval_id, wait=5))["status"] == "approved"
        assert slack.emulator.calls_to("conversations.list")
    finally:
        slack.emulator.hold_posts.set()
