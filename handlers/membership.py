"""Who is in a Slack channel, for the service's rule on who may decide a request that names no approvers."""

from __future__ import annotations

from bot.deciders import MemberResolver
from handlers.channel import SlackChannel


def member_resolver(slack: SlackChannel) -> MemberResolver:
    """`#name` or a channel ID → its members' Slack IDs (`conversations.members`); None if Slack will not say."""

    async def members(target: str) -> frozenset[str] | None:
        channel_id = await slack.messages.channel_id(target)
        if not channel_id:
            # A #name not posted to yet (a queue can be read, and clicked, before a paced post goes out).
            channel_id = await slack.directory.channel_named(target)
            if not channel_id:
                return None
            await slack.messages.remember_channel(target, channel_id)
        return await slack.directory.channel_members(channel_id)

    return members
