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
    locations = list(await slack.messages.all(stored.approval.id))
    if not locations:
        # Not posted (yet): the members of the channels it is routed to may decide; a request routed to no
        # Slack channel was never meant for anyone in Slack, so nobody there may decide it.
        targets = [t for t in slack_targets(stored.route) if t[:1] in ("#", "C", "G")]
        if not targets:
            return ("this request was not sent to Slack, so it can only be decided where it was sent "
                    "(for example the web dashboard)")
        locations = [c for c in [await slack.messages.channel_id(t) for t in targets] if c]
        if not locations:
            return "this request has not been posted to its Slack channel yet; try again in a moment"
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
