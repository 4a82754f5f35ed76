"""Notification jobs (the level's email/SMS channels at creation, each escalation step): re-check the
request, then notify each target once (send-once records)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from bot.channels.common import DeliveryError, target_kind
from bot.channels.common.smtp import SmtpConfig, send_email
from bot.channels.common.tokens import LinkTokens
from bot.channels.email.outbound import EmailLinks, build_message, render_request_email
from bot.channels.sms import keys as sms_keys
from bot.channels.sms.outbound import code_for, send_sms, sms_text, twilio_configured
from bot.clock import iso
from bot.models import Actor, Status
from bot.policy.schema import ChannelTarget
from bot.runtime import Runtime
from bot.secrets import signing_key
from bot.store import StoredApproval
from handlers.client import web_client
from handlers.reminders import post_reminder
from jobs import context

log = logging.getLogger(__name__)
ESCALATION = Actor(channel="policy", id="escalation", name="escalation")


class StepIncomplete(Exception):
    """Some targets were not reached: RQ retries the job, which skips the ones already sent."""


# The channels this job sends to; Slack channel posts at creation are the Slack adapter's.
SENT_AT_CREATION = ("email", "sms")


def run_step(approval_id: str, index: int, repeat: int) -> str:
    return context.run(lambda runtime: notify_step(runtime, approval_id, index, repeat))


def run_channels(approval_id: str) -> str:
    return context.run(lambda runtime: notify_channels(runtime, approval_id))


def sent_key(runtime: Runtime, approval_id: str, label: str, target: ChannelTarget) -> str:
    return runtime.keys.named(f"sent:{approval_id}:{label}:{target.kind}:{target.target.lower()}")


async def _still_pending(runtime: Runtime, approval_id: str) -> StoredApproval | None:
    stored = await runtime.store.get(approval_id)
    return stored if stored is not None and stored.approval.status == Status.pending else None


async def notify_step(runtime: Runtime, approval_id: str, index: int, repeat: int) -> str:
    stored = await _still_pending(runtime, approval_id)
    if stored is None:
        return "skipped: no longer pending"
    steps = stored.route.escalate
    if index >= len(steps):
        return "skipped: no such step"
    step = steps[index]
    return await send_once(
        runtime,
        approval_id,
        step.targets,
        f"{index}:{repeat}",
        {"step": index, "repeat": repeat},
        reminder=index > 0 or repeat > 0,
    )


async def notify_channels(runtime: Runtime, approval_id: str) -> str:
    stored = await _still_pending(runtime, approval_id)
    if stored is None:
        return "skipped: no longer pending"
    targets = [channel for channel in stored.route.channels if channel.kind in SENT_AT_CREATION]
    return await send_once(runtime, approval_id, targets, "channels", {"step": "channels"}, reminder=False)


async def send_once(
    runtime: Runtime, approval_id: str, targets: list[ChannelTarget], label: str, labels: dict[str, Any], reminder: bool
) -> str:
    failures = []
    for target in targets:
        record = sent_key(runtime, approval_id, label, target)
        if await runtime.redis.exists(record):
            continue
        # A decision can land while earlier targets are being sent: re-check before each one.
        stored = await _still_pending(runtime, approval_id)
        if stored is None:
            return "stopped: decided during the step"
        where = {
            "channel": target.kind,
            "target": target.target,
            "target_kind": target_kind(target.kind, target.target),
            **labels,
        }
        try:
            detail = await deliver(runtime, stored, target, reminder=reminder)
        except Exception as exc:  # noqa: BLE001 — any failure (a provider, a message it cannot build) is
            # audited and retried, and must not keep the next target from its message.
            log.warning(
                "notification %s (%s) to %s:%s failed: %s",
                approval_id,
                label,
                target.kind,
                target.target,
                describe_failure(exc),
            )
            await runtime.service.record(
                "notify_failed", approval_id, ESCALATION, error=describe_failure(exc), retrying=True, **where
            )
            failures.append(f"{target.kind}:{target.target}")
            continue
        # Written as soon as the provider accepted: a retry after a crash skips this target.
        await runtime.redis.set(record, iso(runtime.clock.now()), ex=runtime.settings.retention_seconds)
        await runtime.service.record("notified", approval_id, ESCALATION, **where, **detail)
    if failures:
        raise StepIncomplete(f"not delivered to {', '.join(failures)}")
    return "sent"


def describe_failure(exc: BaseException) -> str:
    """The failure for the audit and log: its type (for a DeliveryError, just the provider's message)."""
    message = str(exc)[:300]
    return message if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {message}"


async def deliver(runtime: Runtime, stored: StoredApproval, target: ChannelTarget, reminder: bool) -> dict[str, Any]:
    settings = runtime.settings
    approval = await runtime.service.for_humans(stored.approval)
    review = f"{settings.countersign_public_url}/requests/{approval.id}"
    if target.kind == "email":
        if not settings.smtp_url:
            return {"skipped": "SMTP_URL is not set"}
        master = await signing_key(settings, runtime.redis, runtime.keys)
        tokens = LinkTokens(master, runtime.redis, runtime.keys)
        links = EmailLinks(
            approve=f"{settings.countersign_public_url}/email/"
            f"{tokens.issue(approval.id, target.target, 'approve', approval.expires_at)}",
            reject=f"{settings.countersign_public_url}/email/"
            f"{tokens.issue(approval.id, target.target, 'reject', approval.expires_at)}",
            review=review,
        )
        message = build_message(settings.email_from, target.target, render_request_email(approval, links, reminder))
        await asyncio.to_thread(send_email, SmtpConfig.parse(settings.smtp_url), message)
        return {"message_id": message["Message-ID"]}
    if target.kind == "sms":
        if not twilio_configured(settings):
            return {"skipped": "Twilio is not configured"}
        ttl = max(3600, int((approval.expires_at - runtime.clock.now()).total_seconds()) + 86400)
        code = await code_for(runtime.redis, runtime.keys, approval.id, ttl)
        texted = sms_keys.texted(runtime.keys, approval.id)
        # Recorded before sending: a reply can arrive before this job finishes.
        await runtime.redis.sadd(texted, target.target)
        await runtime.redis.expire(texted, ttl)
        async with aiohttp.ClientSession() as session:
            sid = await send_sms(settings, session, target.target, sms_text(approval, code, review))
        return {"sid": sid}  # the reply code stays out of the audit log
    if target.kind == "slack":
        if not settings.slack_bot_token:
            return {"skipped": "SLACK_BOT_TOKEN is not set"}
        client = web_client(settings)
        posted = await post_reminder(client, runtime.redis, runtime.keys, approval, stored.route, target.target, review)
        return {"posted": posted}
    return {"skipped": f"{target.kind} targets have nothing to send"}
