"""Digests instead of floods: a burst to one channel becomes one message (plus at most a couple of
individual posts), new requests update it, and its group approval goes through the service."""

from __future__ import annotations

import asyncio
import json

from blocks.digest import DIGEST_APPROVE_GROUP, DIGEST_POST_INDIVIDUALLY, GROUP_REASON_BLOCK, GROUP_REASON_INPUT
from tests.support.servers import AGENT_KEY, APPROVER_KEY, OTHER_AGENT_KEY, auth
from tests.support.slack_app import SLACK_POLICY, slack_harness


async def burst(slack, count: int, key: str = AGENT_KEY, **request) -> list[dict]:
    responses = await asyncio.gather(
        *[
            slack.running.client.post(
                "/v1/approvals", headers=auth(key), json={"action": "deploy", "args": {"n": n}, **request}
            )
            for n in range(count)
        ]
    )
    return [await r.json() for r in responses]


def digest_posts(slack) -> list:
    return [c for c in slack.emulator.calls_to("chat.postMessage") if "(digest)" in str(c.args.get("text"))]


async def digest_posted(slack) -> None:
    """Wait for the digest message itself: the pacer can be idle before the digest job has posted it."""
    await slack.emulator.wait_for("chat.postMessage", where=lambda c: "(digest)" in str(c.args.get("text")))


def the_digest(slack):
    """The digest message as it stands now (after its updates)."""
    [message] = [m for m in slack.emulator.posted() if "(digest)" in m.text]
    return message


def group_button(slack, agent: str | None = None) -> str:
    message = the_digest(slack)
    blocks = message.blocks
    for n, block in enumerate(blocks):
        in_group = block["type"] == "actions" and block.get("block_id", "").startswith("group:")
        if in_group and (agent is None or agent in json.dumps(blocks[n - 1])):
            return next(e["value"] for e in block["elements"] if e["action_id"] == DIGEST_APPROVE_GROUP)
    raise AssertionError("no group button")


def individually_posted(slack) -> str:
    return " ".join(m.all_text for m in slack.emulator.posted() if "(digest)" not in m.text)


async def test_burst_of_30_is_one_digest_and_group_approval_goes_through_the_service(redis_server):
    async with slack_harness(redis_server) as slack:
        slack.slack.pacer.interval_s = 0.05
        filed = await burst(slack, 25) + await burst(slack, 5, OTHER_AGENT_KEY)
        await slack.slack.pacer.queued()
        await slack.slack.pacer.idle()
        await digest_posted(slack)
        posts = slack.emulator.calls_to("chat.postMessage")
        assert len(posts) <= 3 and len(digest_posts(slack)) == 1
        text = the_digest(slack).all_text
        assert "billing-agent" in text and "other-agent" in text and DIGEST_APPROVE_GROUP in text
        # Approve all of billing-agent's group from the confirm modal.
        status, _ = await slack.player.click("U0ADA", DIGEST_APPROVE_GROUP, group_button(slack, "billing-agent"))
        assert status == 200
        [opened] = await slack.emulator.wait_for("views.open")
        view = opened.args["view"]
        assert view["callback_id"] == "digest_group_modal"
        status, body = await slack.player.submit_view("U0ADA", view, {GROUP_REASON_BLOCK: {GROUP_REASON_INPUT: ""}})
        assert (status, body) == (200, "")
        [summary] = await slack.emulator.wait_for("chat.postEphemeral")
        alone = individually_posted(slack)
        ours = [a["id"] for a in filed[:25] if a["id"] not in alone]
        assert f"Approved {len(ours)}." in summary.args["text"]
        statuses = {a["id"]: (await slack.approval(a["id"], key=APPROVER_KEY))["status"] for a in filed}
        assert all(statuses[i] == "approved" for i in ours)
        assert all(statuses[a["id"]] == "pending" for a in filed[25:])
        events = await (await slack.running.client.get(f"/v1/approvals/{ours[0]}/events", headers=auth())).json()
        assert any(e["type"] == "decision" and e["actor"]["channel"] == "slack" for e in events)


async def test_high_group_needs_a_typed_reason(redis_server):
    async with slack_harness(redis_server) as slack:
        slack.slack.pacer.interval_s = 0.05
        await burst(slack, 8, risk={"level": "high"})
        await slack.slack.pacer.idle()
        await digest_posted(slack)
        await slack.player.click("U0ADA", DIGEST_APPROVE_GROUP, group_button(slack))
        [opened] = await slack.emulator.wait_for("views.open")
        status, body = await slack.player.submit_view("U0ADA", opened.args["view"], {})
        answer = json.loads(body)
        assert answer["response_action"] == "errors" and "reason" in answer["errors"][GROUP_REASON_BLOCK]
        status, body = await slack.player.submit_view(
            "U0ADA", opened.args["view"], {GROUP_REASON_BLOCK: {GROUP_REASON_INPUT: "release train, checked"}}
        )
        assert (status, body) == (200, "")
        [summary] = await slack.emulator.wait_for("chat.postEphemeral")
        assert "Approved" in summary.args["text"]


async def test_requests_in_the_same_burst_update_the_digest(redis_server):
    async with slack_harness(redis_server) as slack:
        slack.slack.pacer.interval_s = 0.05
        await burst(slack, 10)
        await digest_posted(slack)
        await slack.slack.pacer.idle()
        before = len(slack.emulator.calls_to("chat.postMessage"))
        await burst(slack, 3)
        waiting = int(the_digest(slack).text.split()[0])
        await slack.emulator.wait_for("chat.update", where=lambda c: f"{waiting + 3} approval requests" in str(c.args))
        await slack.slack.pacer.idle()
        assert len(slack.emulator.calls_to("chat.postMessage")) == before  # no new posts


async def test_post_individually_dissolves_the_digest(redis_server):
    policy = SLACK_POLICY
    async with slack_harness(redis_server, policy) as slack:
        slack.slack.pacer.interval_s = 0.02
        filed = await burst(slack, 8)
        await slack.slack.pacer.idle()
        await digest_posted(slack)
        digest_id = next(
            e["value"]
            for b in the_digest(slack).blocks
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == DIGEST_POST_INDIVIDUALLY
        )
        await slack.player.click("U0ADA", DIGEST_POST_INDIVIDUALLY, digest_id)
        await slack.emulator.wait_for("chat.postEphemeral")
        await slack.slack.pacer.idle()
        posted = individually_posted(slack)
        assert all(a["id"] in posted for a in filed)
