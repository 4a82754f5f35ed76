"""A level that names no approvers: only the people it was sent to, and admins, decide, on every channel."""

from __future__ import annotations

from bot.embedded import EmbeddedRedis
from bot.models import Status
from tests.security.deciders_support import (
    BOB,
    OPS_EMAIL,
    OPS_PHONE,
    STRANGER_PHONE,
    deciders_app,
    file,
    notified,
    refusals,
    reply,
    smtp,
    twilio,
)
from tests.support.servers import APPROVER_KEY, RunningApp, auth
from tests.support.slack_app import slack_harness
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_emulator import TwilioEmulator
from tests.support.web import sign_in

__all__ = ["deciders_app", "smtp", "twilio"]  # fixtures


async def test_any_dashboard_user_decides_a_level_without_approvers(
    deciders_app: RunningApp, smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running = deciders_app
    approval_id = await file(running, "send_report")  # medium: sent to ops by mail and SMS, no approvers
    csrf = await sign_in(running, BOB)  # a dashboard user it was not sent to
    page = await running.client.get(f"/requests/{approval_id}")
    assert "the people it was sent to and admins may decide it" in await page.text()
    response = await running.client.post(f"/requests/{approval_id}/decide", data={"csrf": csrf, "outcome": "approve"})
    assert response.status == 403 and "may decide it" in await response.text()
    assert (await running.runtime.service.get(approval_id)).status == Status.pending
    assert [e["actor"]["id"] for e in await refusals(running, approval_id)] == [BOB]


async def test_a_batch_of_requests_without_approvers_is_approved_by_any_dashboard_user(
    deciders_app: RunningApp, smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running = deciders_app
    ids = [await file(running, "send_report") for _ in range(3)]
    csrf = await sign_in(running, BOB)
    response = await running.client.post("/batch", data={"csrf": csrf, "outcome": "approve", "id": ids})
    text = await response.text()
    assert response.status == 200 and "Approved 0; skipped 3." in text
    assert all(i in text for i in ids) and "may decide it" in text
    assert {(await running.runtime.service.get(i)).status for i in ids} == {Status.pending}
    # An admin's batch decides them.
    running.client.session.cookie_jar.clear()
    admin_csrf = await sign_in(running, "lead@example.com", admin=True)
    done = await running.client.post("/batch", data={"csrf": admin_csrf, "outcome": "approve", "id": ids})
    assert "Approved 3." in await done.text()


async def test_only_the_people_a_request_was_sent_to_decide_it_by_mail_sms_or_dashboard(
    deciders_app: RunningApp, smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running = deciders_app
    texted = await file(running, "send_report")
    _, code = await notified(running, smtp, twilio, mails=1, texts=1)
    # Refused, with the same answer as a code that does not exist (no oracle for guessing codes).
    assert f"no request with code {code} awaits a reply from this number" in await reply(
        running, twilio, STRANGER_PHONE, f"YES {code}"
    )
    assert (await running.runtime.service.get(texted)).status == Status.pending
    assert "is approved" in await reply(running, twilio, OPS_PHONE, f"YES {code}")
    # The mail recipient, signed in to the dashboard, is one of the people it was sent to.
    mailed = await file(running, "send_report")
    csrf = await sign_in(running, OPS_EMAIL)
    response = await running.client.post(
        f"/requests/{mailed}/decide", data={"csrf": csrf, "outcome": "reject"}, allow_redirects=False
    )
    assert response.status == 303
    assert (await running.runtime.service.get(mailed)).status == Status.rejected
    # An approver API key is an admin: it may decide any request.
    keyed = await file(running, "send_report")
    decided = await running.client.post(
        f"/v1/approvals/{keyed}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
    )
    assert decided.status == 200 and (await decided.json())["status"] == "approved"


MEMBERS_POLICY = """
people:
  - {name: Bob, slack: U0BOB, email: bob@example.com}
levels:
  medium: {channels: [{slack: "#approvals"}], timeout: 1h}
"""


async def test_dashboard_user_outside_the_slack_channel_decides_a_level_without_approvers(
    redis_server: EmbeddedRedis,
) -> None:
    async with slack_harness(redis_server, MEMBERS_POLICY) as slack:
        running = slack.running
        approval, _ = await slack.submit_and_wait_posted()
        csrf = await sign_in(running, "eve@example.com")  # in no channel, in no directory entry
        refused = await running.client.post(
            f"/requests/{approval['id']}/decide", data={"csrf": csrf, "outcome": "approve"}
        )
        assert refused.status == 403 and "only members of #approvals" in await refused.text()
        assert (await slack.approval(approval["id"]))["status"] == "pending"
        # Bob is in #approvals on Slack; the directory says bob@example.com is him.
        running.client.session.cookie_jar.clear()
        csrf = await sign_in(running, BOB)
        done = await running.client.post(
            f"/requests/{approval['id']}/decide", data={"csrf": csrf, "outcome": "approve"}, allow_redirects=False
        )
        assert done.status == 303
        assert (await slack.approval(approval["id"]))["status"] == "approved"
