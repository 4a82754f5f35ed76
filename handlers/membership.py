"""A level that names no approvers lets the members of the request's Slack channels decide it.

The service lets anyone decide such a request; in Slack "anyone" means anyone who was meant to see the
message: members of the channels it was posted to, or the person it was sent to as a DM. Public channels can
be read (and their buttons clicked) by non-members, and `/approvals` reaches every user, hence this check.
"""

from __future__ import annotations

from bot.store import StoredApproval
from handlers.channel import SlackChannel
from handlers.delivery import slack_targets


async def channel_refusal(slack: SlackChannel, stored: StoredApproval, user_id: str) -> str | None:
    """None if this person may decide as a channel member; otherwise why not."""
    if stored.route.get("approvers"):
        return None  # named approvers: the service checks them
    locations = await slack.messages.all(stored.approval.id)
    if not locations:
        return None  # never posted to Slack: no channel to narrow "anyone" to
    if user_id in {t for t in slack_targets(stored.route) if t[:1] in ("U", "W")}:
        return None  # sent to this person as a DM
    unknown = False
    for channel_id in locations:
        if channel_id[:1] == "D":
            continue  # a DM with someone else
        members = await slack.directory.channel_members(channel_id)
        if members is None:
            unknown = True
        elif user_id in members:
            return None
    if unknown:
        return "Slack would not say who is in the request's channel, so nobody can decide it from Slack"
    channels = ", ".join(f"<#{c}>" for c in locations if c[:1] != "D")
    return f"only members of {channels or 'the channel it was sent to'} may decide this request"
