"""6b: credentials in an agent's arguments never reach Slack; a modify keeps or replaces them as the approver
chose; the agent still gets the real values back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from blocks.approval import APPROVE, MODIFY, VIEW
from blocks.modals import ARGS_BLOCK, ARGS_INPUT
from bot.embedded import EmbeddedRedis
from bot.redaction import MASK_PREFIX
from tests.security.redaction_support import SECRET_ARGS, leaked
from tests.support.slack_app import SlackHarness, slack_harness


@pytest.fixture
async def slack(redis_server: EmbeddedRedis) -> AsyncIterator[SlackHarness]:
    async with slack_harness(redis_server) as harness:
        yield harness


async def _modify_form(slack: SlackHarness, approval_id: str, message: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Open the Modify modal as U0ADA: (the view, the arguments it is prefilled with)."""
    await slack.player.click("U0ADA", MODIFY, approval_id, message=message)
    [call] = await slack.emulator.wait_for(
        "views.open", where=lambda c: c.args["view"].get("callback_id") == "modify_modal"
    )
    view = call.args["view"]
    [field] = [b for b in view["blocks"] if b.get("block_id") == ARGS_BLOCK]
    return view, json.loads(field["element"]["initial_value"])


async def test_authorization_header_and_passwords_are_in_no_slack_payload(slack: SlackHarness) -> None:
    approval, message = await slack.submit_and_wait_posted(
        action="call_api", args=SECRET_ARGS, context={"why": "charge", "session_token": "tok-CTX"}
    )
    assert MASK_PREFIX in message.all_text and "api.example.com" in message.all_text
    # Every other surface that shows the request: both modals, /approvals, App Home.
    await slack.player.click("U0ADA", VIEW, approval["id"], message=message)
    _view, prefilled = await _modify_form(slack, approval["id"], message)
    assert prefilled["headers"]["Accept"] == "application/json"
    assert prefilled["headers"]["Authorization"].startswith(MASK_PREFIX)
    await slack.player.command("U0BOB")
    await slack.emulator.wait_for("response_url")
    await slack.player.event(
        {"type": "app_home_opened", "user": "U0BOB", "channel": "D0BOB", "tab": "home", "event_ts": "1.2"}
    )
    await slack.emulator.wait_for("views.publish")
    await slack.player.click("U0ADA", APPROVE, approval["id"], message=message)
    decided = await slack.approval(approval["id"], wait=5)
    await slack.emulator.wait_for("chat.update")

    assert decided["status"] == "approved" and decided["decision"]["args"] == SECRET_ARGS  # the agent's own
    sent = [call.args for call in slack.emulator.calls]
    assert len(slack.emulator.calls_to("views.open")) == 2
    assert leaked(sent) == [] and "tok-CTX" not in json.dumps(sent)


async def test_modify_keeping_the_masks_keeps_the_stored_secrets(slack: SlackHarness) -> None:
    approval, message = await slack.submit_and_wait_posted(action="call_api", args=SECRET_ARGS)
    view, prefilled = await _modify_form(slack, approval["id"], message)
    status, body = await slack.player.submit_view(
        "U0ADA", view, {ARGS_BLOCK: {ARGS_INPUT: json.dumps({**prefilled, "amount": 100})}}
    )
    assert (status, body) == (200, "")
    decided = await slack.approval(approval["id"], wait=5)
    assert decided["status"] == "approved" and decided["decision"]["outcome"] == "modify"
    assert decided["decision"]["args"] == {**SECRET_ARGS, "amount": 100}
    await slack.emulator.wait_for("chat.update")
    assert leaked([call.args for call in slack.emulator.calls]) == []


async def test_modify_replacing_a_masked_value_stores_the_new_value(slack: SlackHarness) -> None:
    approval, message = await slack.submit_and_wait_posted(action="call_api", args=SECRET_ARGS)
    view, prefilled = await _modify_form(slack, approval["id"], message)
    edited = {**prefilled, "db": {**prefilled["db"], "Password": "rotated-NEWPASS"}}
    status, _ = await slack.player.submit_view("U0ADA", view, {ARGS_BLOCK: {ARGS_INPUT: json.dumps(edited)}})
    assert status == 200
    decided = await slack.approval(approval["id"], wait=5)
    expected = {**SECRET_ARGS, "db": {"host": "db.internal", "Password": "rotated-NEWPASS"}}
    assert decided["decision"]["args"] == expected
    await slack.emulator.wait_for("chat.update")
    sent = [call.args for call in slack.emulator.calls]
    assert "rotated-NEWPASS" not in json.dumps(sent) and leaked(sent) == []


async def test_modify_keeping_a_mask_passes_a_schema_the_mask_itself_would_fail(slack: SlackHarness) -> None:
    schema = {
        "type": "object",
        "properties": {
            "headers": {
                "type": "object",
                "properties": {"Authorization": {"type": "string", "pattern": "^Bearer ", "maxLength": 40}},
            }
        },
    }
    approval, message = await slack.submit_and_wait_posted(action="call_api", args=SECRET_ARGS, args_schema=schema)
    view, prefilled = await _modify_form(slack, approval["id"], message)
    status, body = await slack.player.submit_view(
        "U0ADA", view, {ARGS_BLOCK: {ARGS_INPUT: json.dumps({**prefilled, "amount": 7})}}
    )
    assert (status, body) == (200, "")
    decided = await slack.approval(approval["id"], wait=5)
    assert decided["decision"]["args"] == {**SECRET_ARGS, "amount": 7}
