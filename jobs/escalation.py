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
from bot.channels.email.outbound import EmailLinks, build_message, render_batch_email
from bot.channels.sms import keys as sms_keys
from bot.channels.sms.outbound import batch_sms_text, code_for, send_sms, sms_text, twilio_configured
from bot.clock import iso
from bot.models import Actor, Approval, Status
from bot.policy.schema import ChannelTarget
from bot.runtime import Runtime
from bot.secrets import signing_key
from bot.store import StoredApproval
from bot.summary import urgency_key
from handlers.client import web_client
from handlers.reminders import post_reminder
from jobs import batches, context

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


def batched(runtime: Runtime, target: ChannelTarget) -> bool:
    return target.kind in SENT_AT_CREATION and runtime.settings.countersign_escalation_batch_s > 0


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
        if batched(runtime, target):
            # Email and SMS wait for the person's batch window: one message for all their due requests.
            await batches.join(runtime, target, batches.Member(approval_id, label, labels, reminder))
            continue
        try:
            detail = await deliver(runtime, stored, target, reminder=reminder)
        except Exception as exc:  # noqa: BLE001 — any failure (a provider, a message it cannot build) is
            # audited and retried, and must not keep the next target from its message.
            await _failed(runtime, [(approval_id, label, labels)], target, exc)
            failures.append(f"{target.kind}:{target.target}")
            continue
        await _sent(runtime, [(approval_id, label, labels)], target, detail)
    if failures:
        raise StepIncomplete(f"not delivered to {', '.join(failures)}")
    return "sent"


def _where(target: ChannelTarget, labels: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel": target.kind,
        "target": target.target,
        "target_kind": target_kind(target.kind, target.target),
        **labels,
    }


async def _failed(
    runtime: Runtime, sends: list[tuple[str, str, dict[str, Any]]], target: ChannelTarget, exc: Exception
) -> None:
    for approval_id, label, labels in sends:
        log.warning(
            "notification %s (%s) to %s:%s failed: %s",
            approval_id,
            label,
            target.kind,
            target.target,
            describe_failure(exc),
        )
        await runtime.service.record(
            "notify_failed",
            approval_id,
            ESCALATION,
            error=describe_failure(exc),
            retrying=True,
            **_where(target, labels),
        )


async def _sent(
    runtime: Runtime, sends: list[tuple[str, str, dict[str, Any]]], target: ChannelTarget, detail: dict[str, Any]
) -> None:
    for approval_id, label, labels in sends:
        # Written as soon as the provider accepted: a retry after a crash skips this target.
        record = sent_key(runtime, approval_id, label, target)
        await runtime.redis.set(record, iso(runtime.clock.now()), ex=runtime.settings.retention_seconds)
        await runtime.service.record("notified", approval_id, ESCALATION, **_where(target, labels), **detail)


def run_batch(kind: str, target: str, batch_id: str) -> str:
    return context.run(
        lambda runtime: send_batch(runtime, ChannelTarget.model_validate({"kind": kind, "target": target}), batch_id)
    )


async def send_batch(runtime: Runtime, target: ChannelTarget, batch_id: str) -> str:
    """The window's one message to this person: the requests still pending and not yet sent to them, most
    urgent first; each is audited on its own."""
    members = await batches.take(runtime, target, batch_id)
    sends: list[tuple[str, str, dict[str, Any]]] = []
    due: dict[str, StoredApproval] = {}
    reminder = False
    for member in members:
        if await runtime.redis.exists(sent_key(runtime, member.approval_id, member.label, target)):
            continue
        stored = due.get(member.approval_id) or await _still_pending(runtime, member.approval_id)
        if stored is None:  # decided meanwhile: not listed
            continue
        due[member.approval_id] = stored
        sends.append((member.approval_id, member.label, member.labels))
        reminder = reminder or member.reminder
    if not due:
        await batches.done(runtime, batch_id)
        return "nothing left to send"
    listed = sorted(due.values(), key=lambda s: urgency_key(s.approval))
    try:
        if len(listed) == 1:
            detail = await deliver(runtime, listed[0], target, reminder=reminder)
        else:
            detail = await deliver_batch(runtime, listed, target, reminder=reminder)
    except Exception as exc:  # noqa: BLE001 — audited per request and retried by RQ (the members stay)
        await _failed(runtime, sends, target, exc)
        raise StepIncomplete(f"not delivered to {target.kind}:{target.target}") from exc
    await _sent(runtime, sends, target, {**detail, "batch": len(listed)})
    await batches.done(runtime, batch_id)
    return "sent"


def describe_failure(exc: BaseException) -> str:
    """The failure for the audit and log: its type (for a DeliveryError, just the provider's message)."""
    message = str(exc)[:300]
    return message if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {message}"


async def deliver(runtime: Runtime, stored: StoredApproval, target: ChannelTarget, reminder: bool) -> dict[str, Any]:
    settings = runtime.settings
    approval = await runtime.service.for_humans(stored.approval)
    if target.kind in SENT_AT_CREATION:
        return await deliver_batch(runtime, [stored], target, reminder)
    if target.kind == "slack":
        review = f"{settings.countersign_public_url}/requests/{approval.id}"
        if not settings.slack_bot_token:
            return {"skipped": "SLACK_BOT_TOKEN is not set"}
        client = web_client(settings)
        posted = await post_reminder(client, runtime.redis, runtime.keys, approval, stored.route, target.target, review)
        return {"posted": posted}
    return {"skipped": f"{target.kind} targets have nothing to send"}


async def _email_links(runtime: Runtime, approval: Approval, address: str) -> EmailLinks:
    base = runtime.settings.countersign_public_url
    master = await signing_key(runtime.settings, runtime.redis, runtime.keys)
    tokens = LinkTokens(master, runtime.redis, runtime.keys)
    return EmailLinks(
        approve=f"{base}/email/{tokens.issue(approval.id, address, 'approve', approval.expires_at)}",
        reject=f"{base}/email/{tokens.issue(approval.id, address, 'reject', approval.expires_at)}",
        review=f"{base}/requests/{approval.id}",
    )


async def _sms_code(runtime: Runtime, approval: Approval, number: str) -> str:
    ttl = max(3600, int((approval.expires_at - runtime.clock.now()).total_seconds()) + 86400)
    code = await code_for(runtime.redis, runtime.keys, approval.id, ttl)
    texted = sms_keys.texted(runtime.keys, approval.id)
    # Recorded before sending: a reply can arrive before this job finishes.
    await runtime.redis.sadd(texted, number)
    await runtime.redis.expire(texted, ttl)
    return code


async def deliver_batch(
    runtime: Runtime, listed: list[StoredApproval], target: ChannelTarget, reminder: bool
) -> dict[str, Any]:
    """One email or text for these requests (most urgent first); one request looks as it always did."""
    settings = runtime.settings
    approvals = [await runtime.service.for_humans(stored.approval) for stored in listed]
    if target.kind == "email":
        if not settings.smtp_url:
            return {"skipped": "SMTP_URL is not set"}
        items = [(approval, await _email_links(runtime, approval, target.target)) for approval in approvals]
        message = build_message(settings.email_from, target.target, render_batch_email(items, reminder))
        await asyncio.to_thread(send_email, SmtpConfig.parse(settings.smtp_url), message)
        return {"message_id": message["Message-ID"]}
    if not twilio_configured(settings):
        return {"skipped": "Twilio is not configured"}
    first = approvals[0]
    code = await _sms_code(runtime, first, target.target)
    if len(approvals) == 1:
        text = sms_text(first, code, f"{settings.countersign_public_url}/requests/{first.id}")
    else:
        text = batch_sms_text(len(approvals), first, code, f"{settings.countersign_public_url}/")
    async with aiohttp.ClientSession() as session:
        sid = await send_sms(settings, session, target.target, text)
    return {"sid": sid}  # the reply code stays out of the audit log
