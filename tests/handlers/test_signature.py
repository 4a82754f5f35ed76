"""Requests to /slack/events must carry Slack's signature over a fresh timestamp."""

from __future__ import annotations

from blocks.approval import APPROVE
from tests.support.servers import APPROVER_KEY


async def then_the_same_click_signed_decides_it_once(slack, approval, payload):
    """A refused request must have changed nothing, also later: play the same click correctly signed and
    wait for its decision and message update; had the refused one acted too, there would be a second
    attempt on record (a stale refusal) and an ephemeral about it."""
    assert (await slack.approval(approval["id"]))["status"] == "pending"
    status, _ = await slack.player.payload(payload)
    assert status == 200
    decided = await slack.approval(approval["id"], wait=5, key=APPROVER_KEY)
    assert decided["status"] == "approved"
    await slack.emulator.wait_for("chat.update")
    events = await slack.running.runtime.audit.for_approval(approval["id"])
    assert [e.type for e in events if e.type in ("vote", "decision", "refused")] == ["vote", "decision"]
    assert len(slack.emulator.calls_to("chat.update")) == 1
    assert slack.emulator.calls_to("chat.postEphemeral") == []


async def test_bad_signature_is_refused_and_changes_nothing(slack):
    approval, message = await slack.submit_and_wait_posted()
    payload = slack.player.block_action("U0ADA", APPROVE, approval["id"], message=message)
    status, _ = await slack.player.payload(payload, secret="not-the-signing-secret")
    assert status == 401
    await then_the_same_click_signed_decides_it_once(slack, approval, payload)


async def test_replayed_old_request_is_refused(slack):
    approval, message = await slack.submit_and_wait_posted()
    payload = slack.player.block_action("U0ADA", APPROVE, approval["id"], message=message)
    status, _ = await slack.player.payload(payload, age_s=600)  # correctly signed, 10 minutes old
    assert status == 401
    status, _ = await slack.player.command("U0ADA", "help", age_s=600)
    assert status == 401
    await then_the_same_click_signed_decides_it_once(slack, approval, payload)


async def test_unsigned_request_is_refused(slack):
    response = await slack.running.client.post(
        "/slack/events", data=b'{"type": "url_verification"}', headers={"Content-Type": "application/json"}
    )
    assert response.status == 401


async def test_url_verification_challenge(slack):
    status, body = await slack.player.send(
        '{"type": "url_verification", "challenge": "abc123", "token": "t"}', "application/json"
    )
    assert status == 200 and "abc123" in body
