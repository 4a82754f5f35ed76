"""Outbox handler: post new requests to their Slack targets, and `chat.update` them after any change."""

from __future__ import annotations

import logging
from dataclasses import replace

from slack_sdk.errors import SlackApiError, SlackClientError

from blocks.approval import approval_message
from bot.channels.common import target_kind
from bot.errors import NotFound
from bot.events import OutboxHandler
from bot.models import Actor, Approval, Status
from bot.policy.schema import LevelPolicy
from bot.search import Search
from handlers import keys as slack_keys
from handlers.channel import SlackChannel
from handlers.digest import take_into_digest
from handlers.grants import tell_grant_revoked
from handlers.pacing import PostRunner, QueuedPost, WaitTurn

log = logging.getLogger(__name__)
CLAIM_TTL_S = 600
SWEEP_LIMIT = 1000
BOT = Actor(channel="slack", id="bot", name="countersign")


def request_link(slack: SlackChannel, approval_id: str) -> str:
    return f"{slack.runtime.settings.countersign_public_url}/requests/{approval_id}"


def slack_targets(route: LevelPolicy) -> list[str]:
    return [channel.target for channel in route.channels if channel.kind == "slack"]


def slack_error(exc: BaseException) -> str:
    """Slack's error code, or the failure's type and message (never a token: the client's errors hold none)."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    if isinstance(exc, SlackClientError):
        return str(exc)[:300]
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def outbox_handler(slack: SlackChannel) -> OutboxHandler:
    async def on_outbox(event_type: str, approval_id: str, status: str) -> None:
        if event_type == "created":
            if status == Status.pending.value:
                await schedule_posts(slack, approval_id)
        elif event_type in ("voted", "decided", "executed"):
            await refresh(slack, approval_id)
        elif event_type == "grant_revoked":
            await tell_grant_revoked(slack, approval_id)

    return on_outbox


async def schedule_posts(slack: SlackChannel, approval_id: str) -> None:
    try:
        stored = await slack.service.get_stored(approval_id)
    except NotFound:
        return
    for target in slack_targets(stored.route):
        slack.pacer.submit(target, queued_post(stored.approval))


def queued_post(approval: Approval) -> QueuedPost:
    """A post's place in its channel's queue comes from the request's level and agent (handlers/pacing.py)."""
    return QueuedPost(approval.id, approval.risk_level, approval.agent)


def poster(slack: SlackChannel) -> PostRunner:
    """What the channel queue runs for each post it takes."""

    async def run(target: str, queued: QueuedPost, wait_turn: WaitTurn) -> None:
        await post(slack, queued, target, wait_turn)

    return run


# After the client's own retries (Retry-After, 5xx, connection errors) a post that still failed for a
# passing reason is queued again later, a few times; a permanent error (no such channel) is not.
REPOST_DELAYS_S = (30.0, 120.0, 600.0, 1800.0)
PERMANENT_ERRORS = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "missing_scope",
    "restricted_action",
    "msg_too_long",
    "invalid_blocks",
}


def repost_later(slack: SlackChannel, queued: QueuedPost, target: str) -> bool:
    """Queue the post again after a delay; False once the attempts are used up."""
    if queued.attempt >= len(REPOST_DELAYS_S):
        return False
    slack.pacer.submit_later(REPOST_DELAYS_S[queued.attempt], target, replace(queued, attempt=queued.attempt + 1))
    return True


async def post(slack: SlackChannel, queued: QueuedPost, target: str, wait_turn: WaitTurn) -> None:
    """Post one request to one target; re-reads the state first (the queue may have been long)."""
    service = slack.service
    approval_id, attempt = queued.approval_id, queued.attempt
    try:
        stored = await service.get_stored(approval_id)
    except NotFound:
        return
    approval = stored.approval
    if approval.status != Status.pending:
        return
    # A burst to this channel goes out as one digest message (handlers/digest.py).
    if await take_into_digest(slack, queued, target, int(stored.route.digest_after or 5), wait_turn):
        return
    # One post per request and target, whichever process gets here (a redelivered outbox entry, the
    # start-up sweep and the live event can all reach the same post).
    claim = slack_keys.post_claim(slack.runtime.keys, approval_id, target)
    if not await slack.runtime.redis.set(claim, "1", nx=True, ex=CLAIM_TTL_S):
        return
    await wait_turn()
    try:
        message = approval_message(
            await service.for_humans(approval),
            request_link(slack, approval_id),
            stored.route.rules,
            slack.runtime.clock.now(),
        )
        response = await slack.client.chat_postMessage(
            channel=target, blocks=message.blocks, text=message.text, unfurl_links=False, unfurl_media=False
        )
    except Exception as exc:  # noqa: BLE001 — any failure (Slack, the network, a message we cannot build)
        # is audited and queued again; the pacer goes on with the next post either way.
        error = slack_error(exc)
        log.warning("could not post %s to Slack %s: %s", approval_id, target, error)
        await slack.runtime.redis.delete(claim)  # a later attempt (or the start-up sweep) may try again
        retrying = error not in PERMANENT_ERRORS and repost_later(slack, queued, target)
        await service.record(
            "notify_failed",
            approval_id,
            BOT,
            channel="slack",
            target=target,
            target_kind=target_kind("slack", target),
            error=error,
            attempt=attempt + 1,
            retrying=retrying,
        )
        return
    channel_id, ts = str(response["channel"]), str(response["ts"])
    await slack.messages.add(approval_id, channel_id, ts)
    await service.review_guard.mark_shown(approval_id, "slack", service.clock.now())  # min_review_s counts from here
    if target.startswith("#"):
        await slack.messages.remember_channel(target, channel_id)
    await service.record("notified", approval_id, BOT, channel="slack", target=target, slack_channel=channel_id, ts=ts)
    # A decision may have landed while the post was in flight, before its location was stored.
    if (await service.get(approval_id)).status != Status.pending:
        await refresh(slack, approval_id)


async def refresh(slack: SlackChannel, approval_id: str) -> None:
    """Bring every Slack message of this request up to date (buttons gone after a decision)."""
    locations = await slack.messages.all(approval_id)
    if not locations:
        return
    try:
        stored = await slack.service.get_stored(approval_id)
    except NotFound:
        return
    message = approval_message(
        await slack.service.for_humans(stored.approval),
        request_link(slack, approval_id),
        stored.route.rules,
        slack.runtime.clock.now(),
    )
    for channel_id, ts in locations.items():
        try:
            await slack.client.chat_update(channel=channel_id, ts=ts, blocks=message.blocks, text=message.text)
        except Exception as exc:  # noqa: BLE001 — one message that cannot be updated must not stop the others
            log.warning("could not update the Slack message of %s in %s: %s", approval_id, channel_id, slack_error(exc))
            await slack.service.record(
                "notify_failed",
                approval_id,
                BOT,
                channel="slack",
                target=channel_id,
                target_kind="message update",
                error=slack_error(exc),
                retrying=False,
            )


async def post_missed(slack: SlackChannel) -> int:
    """At start-up: queue posts for pending requests routed to Slack that have no message yet (a process
    stopped with them queued, or Slack was down). Returns how many requests it queued."""
    pending = await slack.service.searcher.page(Search(status=Status.pending.value), SWEEP_LIMIT)
    queued = 0
    for stored in pending.items:
        targets = slack_targets(stored.route)
        shown_in_digest = await slack.runtime.redis.exists(slack_keys.digested(slack.runtime.keys, stored.approval.id))
        if targets and not shown_in_digest and not await slack.messages.all(stored.approval.id):
            for target in targets:
                slack.pacer.submit(target, queued_post(stored.approval))
            queued += 1
    if queued:
        log.info("queued %d pending request(s) that had no Slack message yet", queued)
    return queued
