"""Approve clicks: who may decide, stale clicks, quorum, and the message brought up to date."""

from __future__ import annotations

from blocks.approval import APPROVE
from tests.support.servers import APPROVER_KEY, auth
from tests.support.slack_app import slack_harness


def ephemerals_to(slack, user_id):
    return [c.args["text"] for c in slack.emulator.calls_to("chat.postEphemeral") if c.args["user"] == user_id]


async def wait_ephemeral(slack, user_id):
    await slack.emulator.wait_for("chat.postEphemeral", where=lambda c: c.args["user"] == user_id)
    return ephemerals_to(slack, user_id)


async def test_approve_click_decides_and_updates_the_message(slack):
    approval, message = await slack.submit_and_wait_posted()
    status, body = await slack.player.click("U0ADA", APPROVE, approval["id"], message=message, name="ada")
    assert (status, body) == (200, "")
    decided = await slack.approval(approval["id"], wait=5, key=APPROVER_KEY)
    assert decided["status"] == "approved"
    assert decided["decision"]["by"] == {"channel": "slack", "id": "U0ADA", "name": "ada"}
    await slack.emulator.wait_for("chat.update")
    assert message.action_ids == []  # buttons gone
    assert "Approved" in message.all_text and "<@U0ADA>" in message.all_text
    assert "approved" in message.text


async def test_non_approver_click_is_refused_and_audited(slack):
    approval, message = await slack.submit_and_wait_posted(risk={"level": "high"})
    status, _ = await slack.player.click("U0BOB", APPROVE, approval["id"], message=message)
    assert status == 200
    [text] = await wait_ephemeral(slack, "U0BOB")
    assert "only the high-risk approvers may decide" in text
    assert (await slack.approval(approval["id"]))["status"] == "pending"
    events = await slack.running.runtime.audit.for_approval(approval["id"])
    refused = [e for e in events if e.type == "refused"]
    assert refused and refused[0].actor.id == "U0BOB" and refused[0].detail["reason"] == "not_authorised"
    # The refused click must not update the message, also later: decide it for real, wait for that update,
    # and find it the only one (the outbox handles changes in order, so the refused click's would be first).
    response = await slack.running.client.post(
        f"/v1/approvals/{approval['id']}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
    )
    assert response.status == 200
    [update] = await slack.emulator.wait_for("chat.update")
    assert len(slack.emulator.calls_to("chat.update")) == 1 and "Approved" in str(update.args)


async def test_user_group_member_may_decide(slack):
    approval, message = await slack.submit_and_wait_posted(risk={"level": "high"})
    await slack.player.click("U0ONCALL", APPROVE, approval["id"], message=message)
    decided = await slack.approval(approval["id"], wait=5, key=APPROVER_KEY)
    assert decided["status"] == "approved" and decided["decision"]["by"]["id"] == "U0ONCALL"
    assert slack.emulator.calls_to("usergroups.users.list")[0].args["usergroup"] == "S0ONCALL"


async def test_self_approval_is_refused(slack):
    approval, message = await slack.submit_and_wait_posted(requested_by="ada@example.com")
    await slack.player.click("U0ADA", APPROVE, approval["id"], message=message)  # email from users.info
    [text] = await wait_ephemeral(slack, "U0ADA")
    assert "you asked for this action" in text
    assert (await slack.approval(approval["id"]))["status"] == "pending"


async def test_stale_click_says_who_decided_and_refreshes(slack):
    approval, message = await slack.submit_and_wait_posted()
    response = await slack.running.client.post(
        f"/v1/approvals/{approval['id']}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
    )
    assert response.status == 200
    await slack.emulator.wait_for("chat.update")  # the decision from the API reached Slack
    assert message.action_ids == [] and "ada (via api)" in message.all_text
    await slack.player.click("U0GRACE", APPROVE, approval["id"], message=message)
    [text] = await wait_ephemeral(slack, "U0GRACE")
    assert text.startswith("This request was already approved by ada at <!date^")
    await slack.emulator.wait_for("chat.update", count=2)  # refreshed again on the stale click


async def test_quorum_shows_progress(slack):
    approval, message = await slack.submit_and_wait_posted(risk={"level": "critical"})
    assert "0 of 2 approvals" in message.all_text
    await slack.player.click("U0ADA", APPROVE, approval["id"], message=message)
    [text] = await wait_ephemeral(slack, "U0ADA")
    assert "1 of 2" in text
    await slack.emulator.wait_for("chat.update")
    assert "1 of 2 approvals" in message.all_text and APPROVE in message.action_ids
    await slack.player.click("U0ADA", APPROVE, approval["id"], message=message)
    texts = await slack.emulator.wait_for("chat.postEphemeral", count=2)
    assert "already voted" in texts[-1].args["text"]
    await slack.player.click("U0GRACE", APPROVE, approval["id"], message=message)
    decided = await slack.approval(approval["id"], wait=5)
    assert decided["status"] == "approved" and len(decided["approvals"]) == 2
    await slack.emulator.wait_for("chat.update", count=2)
    assert message.action_ids == [] and "2 of 2 approvals" in message.all_text


async def test_without_named_approvers_only_channel_members_decide(slack):
    approval, message = await slack.submit_and_wait_posted()  # medium: no approvers named
    await slack.player.click("U0EVE", APPROVE, approval["id"], message=message)  # can read a public channel
    [text] = await wait_ephemeral(slack, "U0EVE")
    assert "only members of #approvals, the people it was sent to and admins may decide it" in text
    assert (await slack.approval(approval["id"]))["status"] == "pending"
    events = await slack.running.runtime.audit.for_approval(approval["id"])
    assert [e.actor.id for e in events if e.type == "refused"] == ["U0EVE"]
    # /approvals does not offer it to a non-member either; a member (found on a later page) may decide.
    await slack.player.command("U0EVE")
    [call] = await slack.emulator.wait_for("response_url")
    assert approval["id"] not in str(call.args["blocks"])
    await slack.player.click("U0P19", APPROVE, approval["id"], message=message)
    assert (await slack.approval(approval["id"], wait=5))["status"] == "approved"


async def test_membership_unknown_refuses(slack):
    approval, message = await slack.submit_and_wait_posted()
    del slack.emulator.channel_members["C0APPROVALS"]  # conversations.members fails
    await slack.player.click("U0ADA", APPROVE, approval["id"], message=message)
    [text] = await wait_ephemeral(slack, "U0ADA")
    assert "Slack would not say who is in it" in text
    assert (await slack.approval(approval["id"]))["status"] == "pending"


async def test_approver_named_by_email_matches_through_users_info(redis_server):
    policy = 'levels:\n  medium: {channels: [{slack: "#approvals"}], approvers: [ada@example.com]}\n'
    async with slack_harness(redis_server, policy) as slack:
        approval, message = await slack.submit_and_wait_posted()
        await slack.player.click("U0BOB", APPROVE, approval["id"], message=message)
        await wait_ephemeral(slack, "U0BOB")
        await slack.player.click("U0ADA", APPROVE, approval["id"], message=message)
        decided = await slack.approval(approval["id"], wait=5, key=APPROVER_KEY)
        assert decided["status"] == "approved" and decided["decision"]["by"]["id"] == "U0ADA"
        assert {c.args["user"] for c in slack.emulator.calls_to("users.info")} == {"U0ADA", "U0BOB"}


async def test_request_not_sent_to_slack_cannot_be_decided_from_slack(redis_server):
    # The level routes to the dashboard only and names no approvers: nobody in Slack was meant to see it.
    policy = "levels:\n  medium: {channels: [{web: queue}], timeout: 1h}\n"
    async with slack_harness(redis_server, policy) as slack:
        approval = await slack.submit()
        await slack.player.click("U0EVE", APPROVE, approval["id"])
        [text] = await wait_ephemeral(slack, "U0EVE")
        assert "only the people it was sent to and admins may decide it" in text
        assert (await slack.approval(approval["id"]))["status"] == "pending"
        events = await slack.running.runtime.audit.for_approval(approval["id"])
        assert [e.actor.id for e in events if e.type == "refused"] == ["U0EVE"]


async def test_requester_named_by_slack_id_cannot_approve_from_another_channel(slack):
    import pytest

    from bot.errors import Forbidden
    from bot.service import Decider

    approval = await slack.submit(requested_by="U0ADA")
    ada_on_the_web = Decider("web", "ada@example.com", identities=frozenset({"ada@example.com"}))
    with pytest.raises(Forbidden, match="cannot approve it yourself"):
        await slack.running.runtime.service.decide(approval["id"], ada_on_the_web, "approve")
    bob = Decider("web", "bob@example.com", identities=frozenset({"bob@example.com"}), admin=True)
    assert (await slack.running.runtime.service.decide(approval["id"], bob, "approve")).status == "approved"
