"""From a Slack click to a service call, and the service's answer back to the person who clicked."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError

from blocks.text import person_plain, slack_date
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.models import Approval, Outcome, Status
from bot.service import Decider
from bot.store import StoredApproval
from handlers.channel import SlackChannel
from handlers.delivery import refresh

log = logging.getLogger(__name__)
_PAST = {
    Status.approved: "approved",
    Status.rejected: "rejected",
    Status.expired: "expired",
    Status.cancelled: "cancelled",
}


async def decider_for(slack: SlackChannel, user: dict[str, Any]) -> Decider:
    user_id = str(user.get("id") or user.get("user_id") or "")
    name = user.get("name") or user.get("username") or user.get("user_name")
    return Decider(
        "slack",
        user_id,
        name=str(name) if name else None,
        identities=await slack.directory.identities(user_id),
    )


def stale_text(approval: Approval) -> str:
    """'Already approved by Ada at 14:02' — the reader's own time zone, via Slack's date format."""
    state = _PAST.get(approval.status, approval.status.value)
    decision = approval.decision
    if decision is None:
        return f"This request was already {state}."
    if approval.status == Status.expired:
        return f"This request already expired at {slack_date(decision.at, '{time}')}."
    when = slack_date(decision.at, "{time}")
    return f"This request was already {state} by {person_plain(decision.by)} at {when}."


async def tell(slack: SlackChannel, user_id: str, channel_id: str | None, text: str) -> None:
    """An ephemeral note to one person where they clicked; a DM where there is no channel (App Home)."""
    try:
        if channel_id:
            await slack.client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
        else:
            await slack.client.chat_postMessage(channel=user_id, text=text)
    except (SlackApiError, SlackClientError) as exc:
        log.warning("could not tell %s: %s", user_id, exc)


async def load(slack: SlackChannel, approval_id: str) -> StoredApproval | None:
    try:
        return await slack.service.get_stored(approval_id)
    except NotFound:
        return None


async def check_clicker(
    slack: SlackChannel,
    stored: StoredApproval | None,
    approval_id: str,
    decider: Decider,
    outcome: Outcome,
    channel_id: str | None,
) -> Approval | None:
    """Before opening a modal: the approval if this person may act on it; otherwise say why (and audit)."""
    if stored is None:
        await tell(slack, decider.id, channel_id, "This request no longer exists.")
        return None
    if stored.approval.status != Status.pending:
        await tell(slack, decider.id, channel_id, stale_text(stored.approval))
        await refresh(slack, approval_id)
        return None
    reason = await slack.service.may_decide(stored, decider)
    if reason is not None:
        await refuse(slack, approval_id, decider, outcome, channel_id, reason)
        return None
    return stored.approval


async def refuse(
    slack: SlackChannel, approval_id: str, decider: Decider, outcome: Outcome, channel_id: str | None, reason: str
) -> None:
    """A refusal the Slack adapter makes itself: audited like the service's own, explained to the clicker."""
    await slack.service.record(
        "refused", approval_id, decider.actor, reason="not_authorised", outcome=outcome, detail=reason
    )
    await tell(slack, decider.id, channel_id, f":no_entry_sign: Not changed: {reason}.")


async def decide_and_reply(
    slack: SlackChannel,
    approval_id: str,
    decider: Decider,
    outcome: Outcome,
    channel_id: str | None,
    comment: str | None = None,
    args: dict[str, Any] | None = None,
    answer: bool = False,
) -> Approval | None:
    """Decide through the service; every refusal becomes an ephemeral note and changes nothing.

    With answer, the comment answers a question (the service refuses to "answer" an action)."""
    try:
        if answer:
            approval = await slack.service.answer(approval_id, decider, comment or "")
        else:
            approval = await slack.service.decide(approval_id, decider, outcome, comment, args)
    except Forbidden as exc:
        await tell(slack, decider.id, channel_id, f":no_entry_sign: Not changed: {exc.message}.")
        return None
    except Conflict as exc:
        current = exc.approval
        if isinstance(current, Approval) and current.status != Status.pending:
            await tell(slack, decider.id, channel_id, stale_text(current))
            await refresh(slack, approval_id)
        else:
            await tell(slack, decider.id, channel_id, f"Not changed: {exc.message}.")
        return None
    except NotFound:
        await tell(slack, decider.id, channel_id, "This request no longer exists.")
        return None
    except InvalidInput as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        await tell(
            slack,
            decider.id,
            channel_id,
            f"Not changed: {exc.message}" + (f" ({details})" if details else ""),
        )
        return None
    if approval.status == Status.pending:
        votes = len([v for v in approval.approvals if v.outcome in ("approve", "modify")])
        await tell(
            slack,
            decider.id,
            channel_id,
            f"Your approval is recorded: {votes} of {approval.quorum} approvals so far.",
        )
    return approval
