"""`require_reason` is the service's rule: a reject without a reason is refused the same on every channel."""

from __future__ import annotations

import json

from blocks.approval import REJECT
from blocks.modals import REASON_BLOCK, REASON_INPUT
from bot.embedded import EmbeddedRedis
from bot.models import Status
from tests.security.deciders_support import (
    ADA_EMAIL,
    ADA_PHONE,
    deciders_app,
    file,
    notified,
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


async def test_reject_without_a_reason_by_sms_or_email_link(
    deciders_app: RunningApp, smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running = deciders_app
    approval_id = await file(running, "restart_db")  # critical: a reject needs a reason by default
    links, code = await notified(running, smtp, twilio, mails=1, texts=1)
    answer = await reply(running, twilio, ADA_PHONE, f"NO {code}")
    assert "a reason is required" in answer and f"NO {code} <reason>" in answer
    reject_link = links[ADA_EMAIL][1]
    asked = await running.client.post(reject_link, data={"comment": "   "})
    page = await asked.text()
    assert asked.status == 400 and "A reason is required" in page and 'name="comment"' in page
    assert (await running.runtime.service.get(approval_id)).status == Status.pending
    # The link was not used up by the refused attempt: with a reason it rejects.
    done = await running.client.post(reject_link, data={"comment": "not during the sale"})
    assert done.status == 200
    approval = await running.runtime.service.get(approval_id)
    assert approval.status == Status.rejected
    assert approval.decision and approval.decision.comment == "not during the sale"


async def test_reject_without_a_reason_by_api_or_dashboard(
    deciders_app: RunningApp, smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running = deciders_app
    by_key = await file(running, "restart_db")
    for body in ({"outcome": "reject"}, {"outcome": "reject", "comment": "  "}):
        response = await running.client.post(f"/v1/approvals/{by_key}/decision", json=body, headers=auth(APPROVER_KEY))
        assert response.status == 400 and "comment" in (await response.json())["error"]["fields"]
    on_web = await file(running, "restart_db")
    csrf = await sign_in(running, ADA_EMAIL)
    response = await running.client.post(f"/requests/{on_web}/decide", data={"csrf": csrf, "outcome": "reject"})
    assert response.status == 400 and "a reason is required to reject" in await response.text()
    assert {(await running.runtime.service.get(i)).status for i in (by_key, on_web)} == {Status.pending}


SLACK_POLICY = """
levels:
  medium: {channels: [{slack: "#approvals"}], timeout: 1h, require_reason: [reject]}
  high: {channels: [{slack: "#approvals"}], timeout: 1h, require_reason: []}
"""


async def test_reject_reason_follows_the_policy_in_slack(redis_server: EmbeddedRedis) -> None:
    async with slack_harness(redis_server, SLACK_POLICY) as slack:
        medium, message = await slack.submit_and_wait_posted()
        await slack.player.click("U0ADA", REJECT, medium["id"], message=message)
        [call] = await slack.emulator.wait_for("views.open")
        view = call.args["view"]
        assert view["blocks"][1]["optional"] is False
        status, body = await slack.player.submit_view("U0ADA", view, {REASON_BLOCK: {REASON_INPUT: ""}})
        assert status == 200 and "reason is required" in json.loads(body)["errors"][REASON_BLOCK]
        assert (await slack.approval(medium["id"]))["status"] == "pending"
        # `require_reason: []` turns the default off for high.
        high, message = await slack.submit_and_wait_posted(risk={"level": "high"})
        await slack.player.click("U0ADA", REJECT, high["id"], message=message)
        [*_, call] = await slack.emulator.wait_for("views.open", count=2)
        status, body = await slack.player.submit_view("U0ADA", call.args["view"], {REASON_BLOCK: {REASON_INPUT: ""}})
        assert (status, body) == (200, "")
        assert (await slack.approval(high["id"], wait=5))["status"] == "rejected"
