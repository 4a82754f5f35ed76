"""The core issue's policy example end to end: Slack reminder, then email, then SMS, then safe expiry."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.models import Status
from bot.settings import Settings
from jobs.scheduling import step_job_id
from tests.escalation.conftest import PUBLIC_URL, OutboxProbe, submit, sweep_at
from tests.support.http_recorder import HttpRecorder
from tests.support.rq_worker import make_due, run_burst, scheduled
from tests.support.servers import EXAMPLE_POLICY, RunningApp, running_app
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_emulator import TwilioEmulator

CORE_EXAMPLE = EXAMPLE_POLICY  # docs/policy.example.yaml: the core issue's policy as written


@pytest.fixture
async def example_app(esc_settings: Settings, recorder: HttpRecorder) -> AsyncIterator[tuple[RunningApp, OutboxProbe]]:
    recorder.user_groups = [{"id": "S0PLATFORM", "handle": "platform-oncall"}]
    async with running_app(esc_settings, CORE_EXAMPLE) as running:
        probe = OutboxProbe()
        running.runtime.outbox.subscribe(probe)
        yield running, probe


async def test_unanswered_high_risk_request_escalates_then_sms_approves(
    example_app: tuple[RunningApp, OutboxProbe], recorder: HttpRecorder, smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running, probe = example_app
    settings, keys = running.runtime.settings, running.runtime.keys
    approval_id = (await submit(running, probe))["id"]
    # 45, 55 min fire; 65 min would be after the 1 h expiry, so it is not planned.
    planned = {job_id for job_id, _ in scheduled(settings) if approval_id in job_id}
    assert planned == {
        step_job_id(keys, approval_id, 0, 0),
        step_job_id(keys, approval_id, 1, 0),
        step_job_id(keys, approval_id, 2, 0),
        step_job_id(keys, approval_id, 2, 1),
    }

    make_due(settings, step_job_id(keys, approval_id, 0, 0))
    await run_burst(settings)
    post = recorder.to("/api/chat.postMessage")[0].json()
    assert post["channel"] == "#agent-approvals"  # the level's channel: no thread recorded yet
    assert "<!subteam^S0PLATFORM|@platform-oncall>" in post["text"] and "<@U024BE7LH>" in post["text"]

    make_due(settings, step_job_id(keys, approval_id, 1, 0))
    await run_burst(settings)
    # The level's email channel got the request at creation (the first burst); this is the 30 min step.
    first, mail = await asyncio.to_thread(smtp.wait_for, 2)
    assert first.recipients == mail.recipients == ["oncall@company.com"]
    assert mail.message["Subject"].startswith("Reminder: [HIGH]")
    approve_link = re.findall(r"https://countersign\.example\.com(/email/\S+)", mail.part("plain"))[0]
    # oncall@company.com is not among the level's approvers: the service refuses, the page says so.
    refused = await running.client.post(approve_link)
    assert refused.status == 403 and "approvers may decide" in await refused.text()

    make_due(settings, step_job_id(keys, approval_id, 2, 0))
    await run_burst(settings)
    sms = (await twilio.wait_for_accepted(1))[0]
    assert sms.to == "+15551234567"
    code = re.search(r"Reply YES ([A-Z0-9]+)", sms.body).group(1)  # type: ignore[union-attr]
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, "+15551234567", f"YES {code}")
    assert status == 200 and "approved" in reply
    await probe.wait("decided", approval_id)
    assert (await running.runtime.service.get(approval_id)).status == Status.approved
    # Decided: the second SMS repeat and the expiry are cancelled.
    assert [j for j, _ in scheduled(settings) if approval_id in j] == []


async def test_the_levels_email_channel_is_notified_at_creation(
    example_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer
) -> None:
    running, probe = example_app
    approval_id = (await submit(running, probe))["id"]
    await run_burst(running.runtime.settings)  # nothing is due yet but the channel notification
    mail = (await asyncio.to_thread(smtp.wait_for, 1))[0]
    assert mail.recipients == ["oncall@company.com"] and not mail.message["Subject"].startswith("Reminder")
    entries = [e.detail for e in await running.runtime.service.events(approval_id) if e.type == "notified"]
    assert entries == [{**entries[0], "channel": "email", "target": "oncall@company.com", "step": "channels"}]
    await run_burst(running.runtime.settings)
    assert len(smtp.received) == 1


async def test_unanswered_high_risk_request_expires_rejected(example_app: tuple[RunningApp, OutboxProbe]) -> None:
    running, probe = example_app
    settings = running.runtime.settings
    approval_id = (await submit(running, probe))["id"]
    expires_at = (await running.runtime.service.get(approval_id)).expires_at
    await sweep_at(running, expires_at + timedelta(seconds=1))
    await probe.wait("decided", approval_id)
    approval = await running.runtime.service.get(approval_id)
    assert approval.status == Status.expired
    assert approval.decision is not None and approval.decision.outcome == "reject"
    assert [j for j, _ in scheduled(settings) if approval_id in j] == []
