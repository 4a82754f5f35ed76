"""The escalation chain, run by a real RQ SimpleWorker with the scheduler on, and expiry by the sweeper."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from bot.models import Status
from handlers import keys as slack_keys
from jobs.scheduling import step_job_id
from tests.escalation.conftest import ALICE_EMAIL, ALICE_PHONE, OutboxProbe, audit_types, submit, sweep_at
from tests.support.http_recorder import HttpRecorder
from tests.support.rq_worker import make_due, run_burst, scheduled
from tests.support.servers import APPROVER_KEY, RunningApp, auth
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_emulator import TwilioEmulator


def step_ids(running: RunningApp, approval_id: str) -> list[str]:
    return [job_id for job_id, _ in scheduled(running.runtime.settings) if f"esc-{approval_id}-" in job_id]


async def test_jobs_are_scheduled_at_the_policy_times(esc_app: tuple[RunningApp, OutboxProbe]) -> None:
    running, probe = esc_app
    approval = await submit(running, probe)
    rows = dict(scheduled(running.runtime.settings))
    created = (await running.runtime.service.get(approval["id"])).created_at
    keys, approval_id = running.runtime.keys, approval["id"]
    expected = {
        step_job_id(keys, approval_id, 0, 0): 10,
        step_job_id(keys, approval_id, 1, 0): 30,
        step_job_id(keys, approval_id, 2, 0): 60,
        step_job_id(keys, approval_id, 2, 1): 75,
    }
    assert set(rows) == set(expected)
    for job_id, minutes in expected.items():
        # RQ stores due times to the second.
        assert abs((rows[job_id] - created - timedelta(minutes=minutes)).total_seconds()) < 1.5


async def test_full_chain_fires_in_order(
    esc_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer, twilio: TwilioEmulator, recorder: HttpRecorder
) -> None:
    running, probe = esc_app
    approval = await submit(running, probe)
    approval_id = approval["id"]
    for job_id in step_ids(running, approval_id)[:3]:  # slack, email, first SMS, one at a time
        make_due(running.runtime.settings, job_id)
        await run_burst(running.runtime.settings)

    # 10 min: Slack reminder in #ops (no thread recorded yet), mentioning the Slack approver.
    posts = recorder.to("/api/chat.postMessage")
    assert len(posts) == 1
    post = posts[0].json()
    assert post["channel"] == "#ops" and "<@U0ALICE>" in post["text"] and "thread_ts" not in post
    # 30 min: email with the context and three links.
    mail = (await asyncio.to_thread(smtp.wait_for, 1))[0]
    assert mail.recipients == [ALICE_EMAIL]
    text, html = mail.part("plain"), mail.part("html")
    assert "delete_user_data" in text and "GDPR erasure request" in text and "Undo: NOT reversible" in text
    assert "| user_id = user_123" in text  # agent lines are quoted (issue 9 §6)
    assert f"https://countersign.example.com/requests/{approval_id}" in text
    assert text.count("https://countersign.example.com/email/") == 2
    assert "Approve</a>" in html and "Review / modify</a>" in html
    # 60 min: SMS under 320 characters with the reply code.
    sms = (await twilio.wait_for_accepted(1))[0]
    assert sms.to == ALICE_PHONE and len(sms.body) < 320
    assert sms.body.startswith(
        "[HIGH · NOT reversible] Approval needed. Agent billing-agent asks: "
        "«delete_user_data(user_id=user_123)». Reply YES "
    )

    types = await audit_types(running, approval_id)
    notified = [e.detail for e in await running.runtime.service.events(approval_id) if e.type == "notified"]
    assert [n["channel"] for n in notified] == ["slack", "email", "sms"]
    assert types[0] == "created"


async def test_reminder_goes_into_the_slack_thread(
    esc_app: tuple[RunningApp, OutboxProbe], recorder: HttpRecorder
) -> None:
    running, probe = esc_app
    approval = await submit(running, probe)
    keys = running.runtime.keys
    thread_key = slack_keys.messages(keys, approval["id"])  # what the Slack adapter records
    await running.runtime.redis.hset(thread_key, "C0APPROVALS", "1700000000.000100")
    make_due(running.runtime.settings, step_ids(running, approval["id"])[0])
    await run_burst(running.runtime.settings)
    post = recorder.to("/api/chat.postMessage")[0].json()
    assert post["channel"] == "C0APPROVALS" and post["thread_ts"] == "1700000000.000100"
    assert "<@U0ALICE>" in post["text"]


async def test_nothing_is_sent_after_a_decision(
    esc_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer, twilio: TwilioEmulator, recorder: HttpRecorder
) -> None:
    running, probe = esc_app
    approval = await submit(running, probe)
    approval_id = approval["id"]
    ids = step_ids(running, approval_id)
    assert len(ids) == 4
    response = await running.client.post(
        f"/v1/approvals/{approval_id}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
    )
    assert response.status == 200
    await probe.wait("decided", approval_id)
    # Every scheduled job is cancelled…
    assert [j for j, _ in scheduled(running.runtime.settings) if approval_id in j] == []
    # …and a job that runs anyway (here: enqueued again by hand) re-checks the status and sends nothing.
    from redis import Redis
    from rq.job import Job

    from jobs.worker import queue_for

    redis = Redis.from_url(running.runtime.settings.redis_url or "")
    assert not any(Job.exists(job_id, connection=redis) for job_id in ids)  # nothing left behind
    queue_for(redis, running.runtime.settings).enqueue("jobs.escalation.run_step", approval_id, 1, 0)
    await run_burst(running.runtime.settings)
    redis.close()
    assert smtp.received == [] and twilio.attempts == [] and recorder.to("/api/chat.postMessage") == []
    assert "notified" not in await audit_types(running, approval_id)


async def _expire_with(esc_app: tuple[RunningApp, OutboxProbe], action: str) -> dict[str, object]:
    running, probe = esc_app
    approval = await submit(running, probe, action=action)
    approval_id = approval["id"]
    stored = await running.runtime.service.get(approval_id)
    # The sweeper's clock stands just past expires_at, as it will when it wakes on time.
    [expired] = await sweep_at(running, stored.expires_at + timedelta(seconds=1))
    assert expired.id == approval_id
    await probe.wait("decided", approval_id)
    response = await running.client.get(f"/v1/approvals/{approval_id}", headers=auth())
    return dict(await response.json())


async def test_expiry_rejects_by_default(esc_app: tuple[RunningApp, OutboxProbe]) -> None:
    body = await _expire_with(esc_app, "delete_user_data")
    assert body["status"] == Status.expired
    decision = body["decision"]
    assert isinstance(decision, dict)
    assert decision["outcome"] == "reject" and decision["by"]["channel"] == "policy"
    running, _ = esc_app
    # The remaining steps are cancelled.
    assert [j for j, _ in scheduled(running.runtime.settings) if str(body["id"]) in j] == []
    entries = await running.runtime.service.events(str(body["id"]))
    assert any(e.type == "expired" and e.detail["on_timeout"] == "reject" for e in entries)


async def test_expiry_approves_when_the_policy_says_so(esc_app: tuple[RunningApp, OutboxProbe]) -> None:
    body = await _expire_with(esc_app, "restart_service")
    assert body["status"] == Status.expired  # never "approved" or "rejected"
    decision = body["decision"]
    assert isinstance(decision, dict)
    assert decision["outcome"] == "approve" and json.dumps(decision["args"]) == '{"user_id": "user_123"}'


async def test_an_early_sweep_changes_nothing(esc_app: tuple[RunningApp, OutboxProbe]) -> None:
    running, probe = esc_app
    approval = await submit(running, probe)
    expires_at = (await running.runtime.service.get(approval["id"])).expires_at
    assert await sweep_at(running, expires_at - timedelta(seconds=1)) == []
    assert (await running.runtime.service.get(approval["id"])).status == Status.pending
    # Still on the schedule: the next sweep after expires_at finds it.
    assert await running.runtime.redis.zscore(running.runtime.keys.expiry, approval["id"]) is not None


async def test_a_cancelled_request_notifies_no_one(
    esc_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running, probe = esc_app
    approval = await submit(running, probe)
    approval_id = approval["id"]
    response = await running.client.post(
        f"/v1/approvals/{approval_id}/cancel", json={"reason": "not needed"}, headers=auth()
    )
    assert response.status == 200
    await probe.wait("decided", approval_id)
    assert [j for j, _ in scheduled(running.runtime.settings) if approval_id in j] == []
    await run_burst(running.runtime.settings)
    assert smtp.received == [] and twilio.attempts == []
    assert (await running.runtime.service.get(approval_id)).status == Status.cancelled


async def test_sweepers_in_several_processes_expire_a_request_once(esc_app: tuple[RunningApp, OutboxProbe]) -> None:
    running, probe = esc_app
    approval = await submit(running, probe)
    expires_at = (await running.runtime.service.get(approval["id"])).expires_at
    after = expires_at + timedelta(seconds=1)
    # serve's and two workers' sweepers wake at the same moment: one transition wins, the rest find nothing.
    results = await asyncio.gather(*(sweep_at(running, after) for _ in range(3)))
    assert sorted(len(found) for found in results) == [0, 0, 1]
    await probe.wait("decided", approval["id"])
    assert (await running.runtime.service.get(approval["id"])).status == Status.expired
    assert (await audit_types(running, approval["id"])).count("expired") == 1
