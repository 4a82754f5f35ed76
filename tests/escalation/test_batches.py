"""Email/SMS due for one person within the batch window go out as one message (real SMTP, Twilio emulator,
RQ driven with make_due / run_burst: no sleeping)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.settings import Settings
from jobs.scheduling import step_job_id
from tests.escalation.conftest import ALICE_EMAIL, ALICE_PHONE, POLICY, PUBLIC_URL, OutboxProbe, submit
from tests.support.rq_worker import make_due, run_burst, scheduled
from tests.support.rq_worker import send_batches as send_due_batches
from tests.support.servers import APPROVER_KEY, RunningApp, auth, running_app
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_emulator import TwilioEmulator

# high: email at step 1, SMS at step 2; critical: both at step 0 — all of them reach Alice.
HIGH_STEPS = ((1, 0), (2, 0))


@pytest.fixture
async def batch_app(esc_settings: Settings) -> AsyncIterator[tuple[RunningApp, OutboxProbe]]:
    async with running_app(esc_settings.model_copy(update={"countersign_escalation_batch_s": 60}), POLICY) as running:
        probe = OutboxProbe()
        running.runtime.outbox.subscribe(probe)
        yield running, probe


def batch_jobs(running: RunningApp) -> list[str]:
    return [job_id for job_id, _ in scheduled(running.runtime.settings) if "batch-" in job_id]


async def file_due(running: RunningApp, probe: OutboxProbe, high: int, critical: int = 0, **extra: Any) -> list[str]:
    """File requests and run their email/SMS steps now: they join Alice's batch windows (nothing sent yet)."""
    keys, jobs, ids = running.runtime.keys, [], []
    for _ in range(high):
        approval_id = (await submit(running, probe, **extra))["id"]
        jobs += [step_job_id(keys, approval_id, step, repeat) for step, repeat in HIGH_STEPS]
        ids.append(approval_id)
    for _ in range(critical):
        approval_id = (await submit(running, probe, action="restart_service", **extra))["id"]
        jobs.append(step_job_id(keys, approval_id, 0, 0))
        ids.append(approval_id)
    make_due(running.runtime.settings, *jobs)
    await run_burst(running.runtime.settings)
    return ids


async def send_batches(running: RunningApp) -> None:
    await send_due_batches(running.runtime.settings)


async def test_five_due_requests_make_one_email_and_one_text(
    batch_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running, probe = batch_app
    *high_ids, critical_id = await file_due(running, probe, high=4, critical=1)
    # Nothing is sent inside the window; one send is scheduled per person's address and number.
    assert smtp.received == [] and len(batch_jobs(running)) == 2
    await send_batches(running)

    [mail] = await asyncio.to_thread(smtp.wait_for, 1)
    assert mail.recipients == [ALICE_EMAIL]
    text = mail.part("plain")
    assert "5 approvals need you" in text and text.count(f"{PUBLIC_URL}/email/") == 10
    # Most urgent first: the critical request leads.
    assert text.index(critical_id) < min(text.index(i) for i in high_ids)
    [sms] = await twilio.wait_for_accepted(1)
    assert sms.to == ALICE_PHONE and len(sms.body) < 320
    assert sms.body.startswith("[CRITICAL] 5 approvals need you.") and "restart_service" in sms.body
    assert batch_jobs(running) == []
    # Every request is audited on its own, once per channel.
    for approval_id in [*high_ids, critical_id]:
        events = await running.runtime.service.events(approval_id)
        assert sorted(e.detail["channel"] for e in events if e.type == "notified") == ["email", "sms"]
        assert all(e.detail["batch"] == 5 for e in events if e.type == "notified")
    assert len(smtp.received) == 1 and len(twilio.accepted) == 1


async def test_a_request_decided_before_the_send_is_not_listed(
    batch_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running, probe = batch_app
    kept_a, decided, kept_b = await file_due(running, probe, high=3)
    response = await running.client.post(
        f"/v1/approvals/{decided}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
    )
    assert response.status == 200
    await send_batches(running)
    [mail] = await asyncio.to_thread(smtp.wait_for, 1)
    text = mail.part("plain")
    assert "2 approvals need you" in text and kept_a in text and kept_b in text and decided not in text
    [sms] = await twilio.wait_for_accepted(1)
    assert "2 approvals need you" in sms.body
    events = await running.runtime.service.events(decided)
    assert not [e for e in events if e.type == "notified"]


async def test_a_batch_of_one_is_the_usual_message(
    batch_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running, probe = batch_app
    [approval_id] = await file_due(running, probe, high=1)
    await send_batches(running)
    [mail] = await asyncio.to_thread(smtp.wait_for, 1)
    assert "delete_user_data" in mail.part("plain") and f"{PUBLIC_URL}/requests/{approval_id}" in mail.part("plain")
    [sms] = await twilio.wait_for_accepted(1)
    assert sms.body.startswith("[HIGH · NOT reversible] Approval needed. Agent billing-agent asks: ")


async def test_replying_to_the_batch_code_decides_the_most_urgent_request(
    batch_app: tuple[RunningApp, OutboxProbe], twilio: TwilioEmulator
) -> None:
    running, probe = batch_app
    # High requests (the phone is among high's approvers): the most urgent is the soonest to expire.
    first, *others = await file_due(running, probe, high=3)
    await send_batches(running)
    [sms] = await twilio.wait_for_accepted(1)
    code = sms.body.split("Reply YES ", 1)[1].split(" ", 1)[0]
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, ALICE_PHONE, f"YES {code}")
    assert status == 200 and "delete_user_data is approved" in reply
    assert (await running.runtime.service.get(first)).status.value == "approved"
    assert [(await running.runtime.service.get(i)).status.value for i in others] == ["pending", "pending"]
