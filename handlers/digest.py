"""Digests instead of floods: when more than the level's `digest_after` requests wait to be posted to one
channel, they go out as one digest message, and requests that arrive during the same burst are added to it
with `chat.update` instead of new posts. The channel's pace (about one post a second) still holds: a digest
takes one post slot.

State (keys in handlers/keys.py): `slack:digest:<id>` {target, channel, ts, ids}, the channel's open digest
`slack:digest-open:<target>` (expires DIGEST_WINDOW_S after its last addition: the burst is over), and per
request `slack:digested:<id>` and `slack:single:<id>` ("Post individually")."""

from __future__ import annotations

import json
import logging
from typing import Any

from blocks.digest import digest_message
from bot.clock import new_id
from bot.models import Actor, Approval, Status
from handlers import keys as slack_keys
from handlers.channel import SlackChannel
from handlers.pacing import QueuedPost, WaitTurn

log = logging.getLogger(__name__)
DIGEST_WINDOW_S = 120
BOT = Actor(channel="slack", id="bot", name="countersign")


async def digest_ids(slack: SlackChannel, digest_id: str) -> tuple[dict[str, str], list[str]]:
    raw = await slack.runtime.redis.hgetall(slack_keys.digest(slack.runtime.keys, digest_id))
    fields = {str(k): str(v) for k, v in raw.items()}
    return fields, json.loads(fields.get("ids") or "[]")


async def shown_approvals(slack: SlackChannel, ids: list[str]) -> list[Approval]:
    """The digest's requests as people see them (secret values masked)."""
    records = await slack.runtime.store.get_many(ids)
    return [await slack.service.for_humans(r.approval) for r in records]


async def render_digest(slack: SlackChannel, digest_id: str, ids: list[str]) -> dict[str, Any]:
    return digest_message(digest_id, await shown_approvals(slack, ids), slack.runtime.settings.countersign_public_url)


async def take_into_digest(
    slack: SlackChannel, queued: QueuedPost, target: str, digest_after: int, wait_turn: WaitTurn
) -> bool:
    """Put this post, and every other one waiting for the channel, into its digest; False when the channel
    is calm (no open digest, no more than `digest_after` waiting) and the post should go out on its own."""
    redis, keys = slack.runtime.redis, slack.runtime.keys
    if await redis.exists(slack_keys.single(keys, queued.approval_id)):
        return False
    if await redis.exists(slack_keys.digested(keys, queued.approval_id)):
        return True  # already shown in a digest (a redelivered event queued it again)
    open_id = await redis.get(slack_keys.open_digest(keys, target))
    if open_id is None and await slack.pacer.backlog(target) + 1 <= digest_after:
        return False
    drained = await slack.pacer.drain(target)
    singles = [p for p in drained if await redis.exists(slack_keys.single(keys, p.approval_id))]
    for post in singles:  # asked to be posted on their own: back in the queue
        slack.pacer.submit(target, post)
    wanted = [queued.approval_id] + [p.approval_id for p in drained if p not in singles]
    pending = [
        s.approval.id
        for s in await slack.runtime.store.get_many(list(dict.fromkeys(wanted)))
        if s.approval.status == Status.pending
    ]
    if not pending:
        return True
    if open_id is not None:
        await add_to_digest(slack, str(open_id), target, pending)
    else:
        await post_digest(slack, target, pending, wait_turn)
    return True


async def post_digest(slack: SlackChannel, target: str, ids: list[str], wait_turn: WaitTurn) -> None:
    redis, keys = slack.runtime.redis, slack.runtime.keys
    digest_id = new_id("dig")
    await redis.set(slack_keys.open_digest(keys, target), digest_id, ex=DIGEST_WINDOW_S)
    await wait_turn()
    message = await render_digest(slack, digest_id, ids)
    response = await slack.client.chat_postMessage(channel=target, unfurl_links=False, unfurl_media=False, **message)
    channel_id, ts = str(response["channel"]), str(response["ts"])
    if target.startswith("#"):  # who is in the channel decides requests that name no approvers
        await slack.messages.remember_channel(target, channel_id)
    await redis.hset(
        slack_keys.digest(keys, digest_id),
        mapping={"target": target, "channel": channel_id, "ts": ts, "ids": json.dumps(ids)},
    )
    await redis.expire(slack_keys.digest(keys, digest_id), slack.runtime.settings.retention_seconds)
    await _mark(slack, digest_id, target, ids)


async def add_to_digest(slack: SlackChannel, digest_id: str, target: str, new_ids: list[str]) -> None:
    redis, keys = slack.runtime.redis, slack.runtime.keys
    fields, ids = await digest_ids(slack, digest_id)
    ids = list(dict.fromkeys(ids + new_ids))
    await redis.hset(slack_keys.digest(keys, digest_id), "ids", json.dumps(ids))
    await redis.expire(slack_keys.open_digest(keys, target), DIGEST_WINDOW_S)
    await refresh_digest(slack, digest_id)
    await _mark(slack, digest_id, target, new_ids)


async def _mark(slack: SlackChannel, digest_id: str, target: str, ids: list[str]) -> None:
    """Each request was shown now (min_review_s counts from here), is not posted again, and is audited."""
    redis, keys, service = slack.runtime.redis, slack.runtime.keys, slack.service
    now = service.clock.now()
    retention = slack.runtime.settings.retention_seconds
    for approval_id in ids:
        await redis.set(slack_keys.digested(keys, approval_id), digest_id, ex=retention)
        await service.review_guard.mark_shown(approval_id, "slack", now)
        await service.record("notified", approval_id, BOT, channel="slack", target=target, digest=digest_id)


async def refresh_digest(slack: SlackChannel, digest_id: str) -> None:
    fields, ids = await digest_ids(slack, digest_id)
    if not fields.get("ts"):
        return
    message = await render_digest(slack, digest_id, ids)
    try:
        await slack.client.chat_update(channel=fields["channel"], ts=fields["ts"], **message)
    except Exception as exc:  # noqa: BLE001 — a digest that cannot be updated is logged; requests stay decidable
        log.warning("could not update digest %s: %s", digest_id, type(exc).__name__)


async def post_individually(slack: SlackChannel, digest_id: str) -> int:
    """Dissolve the digest: its pending requests go out one by one, at the channel's pace."""
    redis, keys = slack.runtime.redis, slack.runtime.keys
    fields, ids = await digest_ids(slack, digest_id)
    target = fields.get("target")
    if not target:
        return 0
    if str(await redis.get(slack_keys.open_digest(keys, target)) or "") == digest_id:
        await redis.delete(slack_keys.open_digest(keys, target))
    pending = [s.approval for s in await slack.runtime.store.get_many(ids) if s.approval.status == Status.pending]
    for approval in pending:
        await redis.set(slack_keys.single(keys, approval.id), "1", ex=slack.runtime.settings.retention_seconds)
        await redis.delete(slack_keys.digested(keys, approval.id))
        slack.pacer.submit(target, QueuedPost(approval.id, approval.risk_level, approval.agent))
    await redis.hset(slack_keys.digest(keys, digest_id), "ids", "[]")
    await slack.client.chat_update(
        channel=fields["channel"],
        ts=fields["ts"],
        text="Posted individually",
        blocks=[
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f":arrow_down: {len(pending)} requests were posted individually."},
            }
        ],
    )
    return len(pending)
