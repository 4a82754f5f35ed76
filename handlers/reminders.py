"""Slack reminder: a reply in the request's message thread (or the step's channel) mentioning approvers."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from blocks.text import code_span, mrkdwn
from bot.channels.common import DeliveryError
from bot.keys import Keys
from bot.models import Approval
from bot.policy.schema import LevelPolicy
from handlers import keys as slack_keys
from handlers.directory import Directory


def mention(handle: str, group_ids: dict[str, str]) -> str:
    if handle[:1] in ("U", "W"):
        return f"<@{handle}>"
    if handle[:1] == "S":
        return f"<!subteam^{handle}>"
    group_id = group_ids.get(handle.removeprefix("@").lower())
    return f"<!subteam^{group_id}|{handle}>" if group_id else handle  # unknown handle: shown as text


def reminder_text(
    approval: Approval, route: LevelPolicy, target: str, link: str, group_ids: dict[str, str] | None = None
) -> str:
    people = [a for a in route.approvers if a[:1] in ("U", "W", "S", "@")]
    if target[:1] in ("@", "S") and target not in people:
        people.insert(0, target)
    who = " ".join(mention(p, group_ids or {}) for p in people)
    # The action and agent are the agent's text: inert code, like every Slack surface (blocks/text.py).
    return (
        f"{who + ' ' if who else ''}:hourglass: Still waiting for a decision on "
        f"{code_span(approval.action, 100)} from {code_span(approval.agent, 100)} "
        f"({approval.risk_level.value} risk). "
        f"Expires {approval.expires_at.strftime('%H:%M UTC')}. <{link}|Review>"
    ).strip()


def reminder_blocks(text: str) -> list[dict[str, Any]]:
    """The reminder as one verbatim section: Slack auto-links nothing in it (our mentions still work)."""
    return [SectionBlock(text=mrkdwn(text)).to_dict()]


def fallback_channel(route: LevelPolicy, target: str) -> str | None:
    if target[:1] in ("#", "C", "G", "D"):
        return target
    for channel in route.channels:
        if channel.kind == "slack" and channel.target[:1] in ("#", "C", "G", "D"):
            return channel.target
    return None


async def post_reminder(
    client: AsyncWebClient, redis: Redis, keys: Keys, approval: Approval, route: LevelPolicy, target: str, link: str
) -> list[str]:
    """Post in every thread the Slack adapter recorded; returns where it posted."""
    threads = await redis.hgetall(slack_keys.messages(keys, approval.id))
    handles = [a for a in [target, *route.approvers] if a.startswith("@")]
    text = reminder_text(approval, route, target, link, await Directory(client).group_ids() if handles else {})
    posted = []
    try:
        if threads:
            for raw_channel, raw_ts in threads.items():
                channel, ts = str(raw_channel), str(raw_ts)
                await client.chat_postMessage(
                    channel=channel,
                    thread_ts=ts,
                    text=text,
                    blocks=reminder_blocks(text),
                    reply_broadcast=False,
                    unfurl_links=False,
                )
                posted.append(f"{channel}/{ts}")
        else:
            fallback = fallback_channel(route, target)
            if fallback is None:
                raise DeliveryError(f"no Slack thread or channel to remind in for target {target!r}")
            await client.chat_postMessage(channel=fallback, text=text, blocks=reminder_blocks(text), unfurl_links=False)
            posted.append(fallback)
    except SlackApiError as exc:
        raise DeliveryError(f"Slack: {exc.response.get('error')}") from exc
    except (OSError, TimeoutError) as exc:
        raise DeliveryError(f"Slack: {exc}") from exc
    return posted
