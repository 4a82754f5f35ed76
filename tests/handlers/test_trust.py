"""Approve & trust similar… in Slack, `/approvals grants` with Revoke, App Home, the "ran:" line, and the
rubber-stamp guard counting from the message's posting."""

from __future__ import annotations

import json
from datetime import timedelta

from blocks.approval import APPROVE, TRUST
from blocks.grants import COND_BLOCK, COND_INPUT, COVERAGE_BLOCK, REVOKE_GRANT, USES_BLOCK, USES_INPUT
from bot.clock import FrozenClock, SystemClock
from tests.support.servers import APPROVER_KEY, auth
from tests.support.slack_app import SLACK_POLICY, slack_harness


async def test_trust_modal_prefills_approves_and_creates_the_grant(slack):
    for _ in range(2):  # history: two earlier requests like it
        await slack.submit(args={"service": "billing", "replicas": 2})
    approval, message = await slack.submit_and_wait_posted(args={"service": "billing", "replicas": 2})
    status, _ = await slack.player.click("U0ADA", TRUST, approval["id"], message=message)
    assert status == 200
    [opened] = await slack.emulator.wait_for("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "trust_modal" and len(view["title"]["text"]) <= 24
    conditions = {
        b["label"]["text"]: json.loads(b["element"]["initial_value"])
        for b in view["blocks"]
        if b.get("block_id", "").startswith("cond:")
    }
    assert conditions == {"args.service": {"eq": "billing"}, "args.replicas": {"eq": 2}}
    [update] = await slack.emulator.wait_for("views.update")
    coverage = next(b for b in update.args["view"]["blocks"] if b.get("block_id") == COVERAGE_BLOCK)
    assert "*3* of the last 30 days" in json.dumps(coverage)
    # Loosen replicas to a range, cap the uses, submit.
    block_of = {b["label"]["text"]: b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith("cond:")}
    values = {
        block_of["args.service"]: {COND_INPUT: '{"eq": "billing"}'},
        block_of["args.replicas"]: {COND_INPUT: '{"lte": 5}'},
        USES_BLOCK: {USES_INPUT: "2"},
    }
    status, body = await slack.player.submit_view("U0ADA", view, values)
    assert (status, body) == (200, "")
    decided = await slack.approval(approval["id"], wait=5, key=APPROVER_KEY)
    assert decided["status"] == "approved" and decided["decision"]["by"]["id"] == "U0ADA"
    grants = await (await slack.running.client.get("/v1/grants", headers=auth(APPROVER_KEY))).json()
    [grant] = grants
    assert grant["args"] == {"service": {"eq": "billing"}, "replicas": {"lte": 5.0}}
    assert grant["max_uses"] == 2 and grant["from_approval"] == approval["id"]
    assert grant["created_by"]["id"] == "U0ADA" and grant["max_level"] == "medium"
    similar = await slack.submit(args={"service": "billing", "replicas": 4})
    assert similar["status"] == "approved" and similar["decision"]["by"]["id"] == grant["id"]


async def test_bad_condition_is_shown_under_its_field(slack):
    approval, message = await slack.submit_and_wait_posted(args={"service": "billing"})
    await slack.player.click("U0ADA", TRUST, approval["id"], message=message)
    [opened] = await slack.emulator.wait_for("views.open")
    status, body = await slack.player.submit_view(
        "U0ADA", opened.args["view"], {COND_BLOCK.format(0): {COND_INPUT: '{"regex": "("}'}}
    )
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and COND_BLOCK.format(0) in answer["errors"]
    assert (await slack.approval(approval["id"]))["status"] == "pending"


async def test_grants_command_lists_and_revokes(slack):
    approval, message = await slack.submit_and_wait_posted(args={"service": "billing"})
    await slack.player.click("U0ADA", TRUST, approval["id"], message=message)
    [opened] = await slack.emulator.wait_for("views.open")
    await slack.player.submit_view("U0ADA", opened.args["view"], {})
    await slack.approval(approval["id"], wait=5)
    status, _ = await slack.player.command("U0ADA", "grants")
    assert status == 200
    [listing] = await slack.emulator.wait_for("response_url")
    [grant] = await (await slack.running.client.get("/v1/grants", headers=auth(APPROVER_KEY))).json()
    assert grant["id"] in json.dumps(listing.args) and REVOKE_GRANT in json.dumps(listing.args)
    # Someone else cannot revoke it; its creator can.
    await slack.player.click("U0BOB", REVOKE_GRANT, grant["id"])
    [granted, refusal] = await slack.emulator.wait_for("chat.postEphemeral", count=2)
    assert "granted" in granted.args["text"] and "creator" in refusal.args["text"]
    await slack.player.click("U0ADA", REVOKE_GRANT, grant["id"])
    await slack.emulator.wait_for("chat.postEphemeral", count=3)
    shown = await (await slack.running.client.get(f"/v1/grants/{grant['id']}", headers=auth(APPROVER_KEY))).json()
    assert shown["revoked_by"]["id"] == "U0ADA"


async def test_app_home_shows_grants_and_suggestions(slack):
    for _ in range(5):
        approval = await slack.submit(args={"service": "billing"})
        await slack.running.client.post(
            f"/v1/approvals/{approval['id']}/decision", headers=auth(APPROVER_KEY), json={"outcome": "approve"}
        )
    await slack.player.event({"type": "app_home_opened", "user": "U0ADA", "tab": "home"})
    [published] = await slack.emulator.wait_for("views.publish")
    text = json.dumps(published.args["view"])
    assert "Standing grants" in text and "Suggested grants" in text and "approved 5 times" in text
    assert len(published.args["view"]["blocks"]) <= 100


async def test_outcome_shows_in_the_message(slack):
    approval, message = await slack.submit_and_wait_posted()
    await slack.running.client.post(
        f"/v1/approvals/{approval['id']}/decision", headers=auth(APPROVER_KEY), json={"outcome": "approve"}
    )
    await slack.emulator.wait_for("chat.update")
    await slack.running.client.post(
        f"/v1/approvals/{approval['id']}/outcome",
        headers=auth(),
        json={"status": "succeeded", "detail": "<!channel> done"},
    )
    await slack.emulator.wait_for("chat.update", count=2)
    assert "ran: succeeded" in message.all_text
    assert "<!channel>" not in message.all_text.replace("`<!channel>", "")  # agent text stays in code


async def test_min_review_counts_from_the_slack_post(redis_server):
    clock = FrozenClock(SystemClock().now())
    policy = SLACK_POLICY.replace("medium: {channels", "medium: {min_review_s: 5, channels")
    async with slack_harness(redis_server, policy, clock) as slack:
        approval, message = await slack.submit_and_wait_posted()
        clock.advance(timedelta(seconds=1))
        await slack.player.click("U0ADA", APPROVE, approval["id"], message=message)
        [refusal] = await slack.emulator.wait_for("chat.postEphemeral")
        assert "posted 1 s ago — take a moment" in refusal.args["text"]
        assert (await slack.approval(approval["id"]))["status"] == "pending"
        clock.advance(timedelta(seconds=5))
        await slack.player.click("U0ADA", APPROVE, approval["id"], message=message)
        assert (await slack.approval(approval["id"], wait=5))["status"] == "approved"
