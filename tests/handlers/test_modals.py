"""Reject, Modify and View-full-request modals: opened with the trigger_id, validated on submit."""

from __future__ import annotations

import json

from blocks.approval import MODIFY, REJECT, VIEW
from blocks.modals import ARGS_BLOCK, ARGS_INPUT, COMMENT_BLOCK, COMMENT_INPUT, REASON_BLOCK, REASON_INPUT
from tests.support.servers import APPROVER_KEY

SCHEMA = {
    "type": "object",
    "required": ["service", "replicas"],
    "properties": {"service": {"type": "string"}, "replicas": {"type": "integer", "maximum": 10}},
}


async def open_modal(slack, user_id, action_id, approval_id, message, count=1):
    status, body = await slack.player.click(user_id, action_id, approval_id, message=message)
    assert (status, body) == (200, "")
    [*_, call] = await slack.emulator.wait_for("views.open", count=count)
    assert call.args["trigger_id"]
    return call.args["view"]


async def test_reject_reason_required_for_high(slack):
    approval, message = await slack.submit_and_wait_posted(risk={"level": "high"})
    view = await open_modal(slack, "U0ADA", REJECT, approval["id"], message)
    assert view["callback_id"] == "reject_modal" and len(view["title"]["text"]) <= 24
    status, body = await slack.player.submit_view("U0ADA", view, {REASON_BLOCK: {REASON_INPUT: "  "}})
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and "reason is required" in answer["errors"][REASON_BLOCK]
    assert (await slack.approval(approval["id"]))["status"] == "pending"
    status, body = await slack.player.submit_view("U0ADA", view, {REASON_BLOCK: {REASON_INPUT: "not in prod"}})
    assert (status, body) == (200, "")
    decided = await slack.approval(approval["id"], wait=5, key=APPROVER_KEY)
    assert decided["status"] == "rejected"
    assert decided["decision"]["comment"] == "not in prod" and decided["decision"]["by"]["id"] == "U0ADA"
    await slack.emulator.wait_for("chat.update")
    assert "Rejected" in message.all_text and "not in prod" in message.all_text


async def test_reject_reason_optional_for_medium(slack):
    approval, message = await slack.submit_and_wait_posted()
    view = await open_modal(slack, "U0BOB", REJECT, approval["id"], message)
    status, body = await slack.player.submit_view("U0BOB", view, {REASON_BLOCK: {REASON_INPUT: ""}})
    assert (status, body) == (200, "")
    assert (await slack.approval(approval["id"], wait=5))["status"] == "rejected"


async def test_non_approver_sees_the_form_replaced_by_a_refusal(slack):
    # The modal opens at once (the trigger_id lives 3 s); the approver check follows and replaces the form.
    approval, message = await slack.submit_and_wait_posted(risk={"level": "high"})
    await slack.player.click("U0BOB", REJECT, approval["id"], message=message)
    [call] = await slack.emulator.wait_for("chat.postEphemeral")
    assert call.args["user"] == "U0BOB" and "approvers" in call.args["text"]
    [opened] = slack.emulator.calls_to("views.open")
    assert opened.args["view"]["callback_id"] == "reject_modal"
    [update] = await slack.emulator.wait_for("views.update")
    assert "cannot decide" in json.dumps(update.args["view"])
    # Submitting the stale form anyway changes nothing: the service checks again.
    status, _body = await slack.player.submit_view("U0BOB", opened.args["view"], {REASON_BLOCK: {REASON_INPUT: "x"}})
    assert status == 200
    assert (await slack.approval(approval["id"]))["status"] == "pending"


async def test_modify_validates_against_the_schema(slack):
    approval, message = await slack.submit_and_wait_posted(
        args={"service": "billing", "replicas": 2}, args_schema=SCHEMA
    )
    view = await open_modal(slack, "U0ADA", MODIFY, approval["id"], message)
    [args_input] = [b for b in view["blocks"] if b.get("block_id") == ARGS_BLOCK]
    assert json.loads(args_input["element"]["initial_value"]) == {"service": "billing", "replicas": 2}

    async def submit(text):
        status, body = await slack.player.submit_view(
            "U0ADA", view, {ARGS_BLOCK: {ARGS_INPUT: text}, COMMENT_BLOCK: {COMMENT_INPUT: "fewer"}}
        )
        assert status == 200
        return json.loads(body) if body else None

    answer = await submit('{"service": "billing", ')
    assert answer["response_action"] == "errors" and "Not valid JSON" in answer["errors"][ARGS_BLOCK]
    answer = await submit("[1, 2]")
    assert "JSON object" in answer["errors"][ARGS_BLOCK]
    answer = await submit('{"service": "billing", "replicas": 50}')
    assert "args.replicas" in answer["errors"][ARGS_BLOCK] and "10" in answer["errors"][ARGS_BLOCK]
    assert (await slack.approval(approval["id"]))["status"] == "pending"
    assert await submit('{"service": "billing", "replicas": 1}') is None
    decided = await slack.approval(approval["id"], wait=5)
    assert decided["status"] == "approved" and decided["decision"]["outcome"] == "modify"
    assert decided["decision"]["args"] == {"service": "billing", "replicas": 1}
    await slack.emulator.wait_for("chat.update")
    assert "Approved with changes" in message.all_text and "`replicas`: `2` → `1`" in message.all_text


async def test_view_full_request_shows_everything(slack):
    huge = "x" * 20_000
    approval, message = await slack.submit_and_wait_posted(args={"payload": huge})
    assert "View full request" in message.all_text and "Cut to fit Slack" in message.all_text
    assert len(message.blocks) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in message.blocks)
    view = await open_modal(slack, "U0BOB", VIEW, approval["id"], message)
    assert len(view["blocks"]) <= 100
    shown = "".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
    assert shown.count("x") >= 20_000
    # Too long to edit in Slack: Modify says so instead of opening a modal it cannot fill.
    await slack.player.click("U0ADA", MODIFY, approval["id"], message=message)
    [call] = await slack.emulator.wait_for("chat.postEphemeral")
    assert "too long to edit" in call.args["text"]
