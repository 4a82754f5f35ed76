"""One person, one vote: every channel's identity of a person resolves through the policy's `people:`."""

from __future__ import annotations

from bot.models import Status
from tests.security.deciders_support import (
    ADA_EMAIL,
    ADA_PHONE,
    GRACE_EMAIL,
    deciders_app,
    file,
    notified,
    refusals,
    reply,
    smtp,
    twilio,
)
from tests.support.servers import RunningApp
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_emulator import TwilioEmulator
from tests.support.web import sign_in

__all__ = ["deciders_app", "smtp", "twilio"]  # fixtures


async def test_one_approver_meets_a_quorum_of_two_alone_by_email_link_and_sms(
    deciders_app: RunningApp, smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running = deciders_app
    approval_id = await file(running, "delete_user")
    links, code = await notified(running, smtp, twilio, mails=2, texts=1)
    voted = await running.client.post(links[ADA_EMAIL][0])
    assert voted.status == 200 and "Vote recorded" in await voted.text()
    # The same person again, by SMS from the phone the directory gives her: not a second vote.
    answer = await reply(running, twilio, ADA_PHONE, f"YES {code}")
    assert "already voted" in answer
    # ... nor from the dashboard, signed in with the same address.
    csrf = await sign_in(running, ADA_EMAIL)
    again = await running.client.post(f"/requests/{approval_id}/decide", data={"csrf": csrf, "outcome": "approve"})
    assert again.status == 409
    approval = await running.runtime.service.get(approval_id)
    assert approval.status == Status.pending and len(approval.approvals) == 1
    # A second person completes the quorum.
    done = await running.client.post(links[GRACE_EMAIL][0])
    assert done.status == 200
    approval = await running.runtime.service.get(approval_id)
    assert approval.status == Status.approved
    assert sorted(v.by.id for v in approval.approvals) == [ADA_EMAIL, GRACE_EMAIL]


async def test_requester_named_by_slack_id_approves_own_request_by_sms(
    deciders_app: RunningApp, smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running = deciders_app
    approval_id = await file(running, "delete_user", requested_by="U0ADA")
    links, code = await notified(running, smtp, twilio, mails=2, texts=1)
    answer = await reply(running, twilio, ADA_PHONE, f"YES {code}")
    assert "cannot approve it yourself" in answer
    by_mail = await running.client.post(links[ADA_EMAIL][0])
    assert by_mail.status == 403 and "cannot approve it yourself" in await by_mail.text()
    csrf = await sign_in(running, ADA_EMAIL, admin=True)  # an admin session is no way around it either
    on_web = await running.client.post(f"/requests/{approval_id}/decide", data={"csrf": csrf, "outcome": "approve"})
    assert on_web.status == 403
    assert (await running.runtime.service.get(approval_id)).status == Status.pending
    assert [e["actor"]["channel"] for e in await refusals(running, approval_id)] == ["sms", "email", "web"]


async def test_requester_named_by_phone_approves_own_request_from_the_dashboard(
    deciders_app: RunningApp, smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running = deciders_app
    # Another spelling of her number names the same person.
    approval_id = await file(running, "restart_db", requested_by="+1 (555) 000-1111")
    csrf = await sign_in(running, ADA_EMAIL)
    response = await running.client.post(f"/requests/{approval_id}/decide", data={"csrf": csrf, "outcome": "approve"})
    assert response.status == 403 and "cannot approve it yourself" in await response.text()
    assert (await running.runtime.service.get(approval_id)).status == Status.pending


async def test_approvers_named_by_person_decide_with_any_of_their_identities(
    deciders_app: RunningApp, smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running = deciders_app
    approval_id = await file(running, "restart_db")  # critical: approvers [Ada]
    _, code = await notified(running, smtp, twilio, mails=1, texts=1)
    csrf = await sign_in(running, GRACE_EMAIL)  # not Ada
    refused = await running.client.post(f"/requests/{approval_id}/decide", data={"csrf": csrf, "outcome": "approve"})
    assert refused.status == 403
    answer = await reply(running, twilio, ADA_PHONE, f"YES {code}")
    assert "is approved" in answer
    approval = await running.runtime.service.get(approval_id)
    assert approval.status == Status.approved and approval.decision and approval.decision.by.id == ADA_PHONE


def test_a_policy_giving_one_identity_to_two_people_does_not_load() -> None:
    import pytest

    from bot.errors import ConfigError
    from bot.policy import parse_policy

    twice = "people:\n  - {name: Ada, email: ada@example.com}\n  - {name: Eve, email: ADA@example.com}\n"
    with pytest.raises(ConfigError, match="belongs to two persons"):
        parse_policy(twice, "policy.yaml")
    unknown = "levels:\n  high: {approvers: [Mallory]}\n"
    with pytest.raises(ConfigError, match="no identity and no person's name"):
        parse_policy(unknown, "policy.yaml")
    with pytest.raises(ConfigError, match="at least one of"):
        parse_policy("people:\n  - {name: Nobody}\n", "policy.yaml")
