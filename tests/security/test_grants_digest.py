"""A digest is a new surface for agent text and a new way to decide many requests at once: the agent's
action, agent name and arguments show inert (no mentions, links or formatting) and masked (secret values),
and "Approve all in group…" decides each request through the service, so self-approval and approver rules
hold for every one of them."""

from __future__ import annotations

import asyncio
import json

from blocks.digest import DIGEST_APPROVE_GROUP
from tests.handlers.test_digest import burst, digest_posted, group_button, the_digest
from tests.support.servers import APPROVER_KEY, auth
from tests.support.slack_app import slack_harness


async def test_digest_group_approve_cannot_self_approve(redis_server):
    async with slack_harness(redis_server) as slack:
        slack.slack.pacer.interval_s = 0.05
        await burst(slack, 10, requested_by="U0ADA")  # U0ADA asked for these: cannot approve them
        await slack.slack.pacer.idle()
        await digest_posted(slack)
        await slack.player.click("U0ADA", DIGEST_APPROVE_GROUP, group_button(slack))
        [opened] = await slack.emulator.wait_for("views.open")
        await slack.player.submit_view("U0ADA", opened.args["view"], {})
        [summary] = await slack.emulator.wait_for("chat.postEphemeral")
        assert "Approved 0." in summary.args["text"] and "yourself" in summary.args["text"]


async def test_digest_agent_text_mentions_links_and_secrets_are_inert(redis_server):
    async with slack_harness(redis_server) as slack:
        slack.slack.pacer.interval_s = 0.05
        await burst(slack, 8, args={"password": "hunter2-secret", "note": "<!channel> *urgent*"})
        await asyncio.gather(
            *[
                slack.running.client.post(
                    "/v1/approvals",
                    headers=auth(),
                    json={
                        "action": "<!here> `deploy` <https://evil.example|click>",
                        "args": {"password": "hunter2-secret"},
                    },
                )
                for _ in range(3)
            ]
        )
        await slack.slack.pacer.idle()
        text = the_digest(slack).all_text
        assert "<!here>" not in text and "<https://evil" not in text and "&lt;!here&gt;" in text
        await slack.player.click("U0ADA", DIGEST_APPROVE_GROUP, group_button(slack))
        [opened] = await slack.emulator.wait_for("views.open")
        modal = json.dumps(opened.args["view"])
        assert "hunter2-secret" not in modal and "<!channel>" not in modal


async def test_digest_group_approve_skips_requests_added_after_the_modal_opened(redis_server):
    async with slack_harness(redis_server) as slack:
        slack.slack.pacer.interval_s = 0.05
        await burst(slack, 10)
        await slack.slack.pacer.idle()
        await digest_posted(slack)
        await slack.player.click("U0ADA", DIGEST_APPROVE_GROUP, group_button(slack))
        [opened] = await slack.emulator.wait_for("views.open")
        waiting = int(the_digest(slack).text.split()[0])
        late = await burst(slack, 3)  # joins the same group while the modal is open, never listed in it
        await slack.emulator.wait_for("chat.update", where=lambda c: f"{waiting + 3} approval requests" in str(c.args))
        await slack.player.submit_view("U0ADA", opened.args["view"], {})
        [summary] = await slack.emulator.wait_for("chat.postEphemeral")
        assert "Approved" in summary.args["text"]
        for approval in late:
            shown = await slack.approval(approval["id"], key=APPROVER_KEY)
            assert shown["status"] == "pending"
