"""An agent's question (a HumanLayer human contact) is answered in Slack with free text."""

from __future__ import annotations

from blocks.approval import ANSWER, APPROVE
from blocks.modals import ANSWER_BLOCK, ANSWER_INPUT
from tests.support.servers import AGENT_KEY, auth
from tests.support.slack_app import slack_harness

POLICY = 'levels:\n  medium: {channels: [{slack: "#approvals"}], timeout: 1h}\n'


async def test_question_is_answered_through_a_text_modal(redis_server):
    async with slack_harness(redis_server, POLICY) as slack:
        contact = {"run_id": "run-7", "call_id": "q-1", "spec": {"msg": "Which region should I deploy to?"}}
        created = await slack.running.client.post(
            "/humanlayer/v1/contact_requests", json=contact, headers=auth(AGENT_KEY)
        )
        assert created.status == 200, await created.text()
        [post] = await slack.emulator.wait_for("chat.postMessage")
        await slack.slack.pacer.idle()
        assert "Which region should I deploy to?" in str(post.args["blocks"])
        action_ids = [
            e.get("action_id") for b in post.args["blocks"] if b.get("type") == "actions" for e in b.get("elements", [])
        ]
        assert ANSWER in action_ids and APPROVE not in action_ids
        approval_id = next(
            e["value"]
            for b in post.args["blocks"]
            if b.get("type") == "actions"
            for e in b["elements"]
            if e.get("action_id") == ANSWER
        )
        message = slack.emulator.message_for(approval_id)
        await slack.player.click("U0ADA", ANSWER, approval_id, message=message)
        [opened] = await slack.emulator.wait_for("views.open")
        view = opened.args["view"]
        assert view["callback_id"] == "answer_modal"
        status, body = await slack.player.submit_view("U0ADA", view, {ANSWER_BLOCK: {ANSWER_INPUT: "  "}})
        assert status == 200 and "Write an answer" in body  # an empty answer is refused in the modal
        status, body = await slack.player.submit_view("U0ADA", view, {ANSWER_BLOCK: {ANSWER_INPUT: "eu-west-1"}})
        assert (status, body) == (200, "")
        await slack.approval(approval_id, wait=5)
        answered = await (
            await slack.running.client.get("/humanlayer/v1/contact_requests/q-1", headers=auth(AGENT_KEY))
        ).json()
        assert answered["status"]["response"] == "eu-west-1"
