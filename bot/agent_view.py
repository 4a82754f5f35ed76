"""What an agent may see of a request: approvers by name and channel, never their addresses or IDs.

Every agent-facing read (the API's approval and events, callbacks' payloads, and through the API the SDK
and MCP gateway) goes through here. Approver keys and the dashboard keep the full record."""

from __future__ import annotations

import re
from typing import Any, get_args

from bot.models import Actor, Approval, AuditEvent, ChannelName, Vote
from bot.summary import with_changes

# Actors on these channels are Countersign itself or an API key (agent or approver key), named by the
# operator: nothing personal to hide.
_SYSTEM_CHANNELS = {"policy", "api"}
_CHANNELS = set(get_args(ChannelName))
_PHONE = re.compile(r"^\+?[\d\s().-]{6,}$")
_SLACK_ID = re.compile(r"^[A-Z][A-Z0-9]{6,}$")  # U024BE7LH, W…, C…, G…, D…, T…
# Audit details an agent may read, whatever the event type; everything else (targets, addresses, Slack
# channel and message IDs, SMS codes, HTTP statuses and connection errors of callbacks) is left out.
_AGENT_DETAIL = frozenset(
    {
        "action",
        "args",
        "original_args",
        "risk_level",
        "risk_reasons",
        "rules",
        "run_id",
        "requested_by",
        "expires_at",
        "outcome",
        "status",
        "comment",
        "reset_earlier_votes",
        "reason",
        "on_timeout",
        "attempt",
        "result",
        "url",
        "next_attempt_in_s",
        "channel",
        "step",
        "repeat",
        "retrying",
        "message",
        "method",
    }
)


def _contact_like(text: str) -> bool:
    return "@" in text or bool(_PHONE.match(text)) or bool(_SLACK_ID.match(text))


def agent_actor(actor: Actor) -> Actor:
    """An approver as an agent sees them: their channel and display name; their address, phone number
    or Slack ID never (an actor's name is often one of those too, and is then dropped)."""
    if actor.channel in _SYSTEM_CHANNELS:
        return actor
    if actor.channel == "grant":  # the grant's id, and its creator by display name only
        return Actor(
            channel="grant", id=actor.id, name=actor.name if actor.name and not _contact_like(actor.name) else None
        )
    name = actor.name if actor.name and actor.name != actor.id and not _contact_like(actor.name) else None
    return Actor(channel=actor.channel, id=name or f"{actor.channel} approver", name=name)


def _agent_vote(vote: Vote) -> Any:
    return vote.model_copy(update={"by": agent_actor(vote.by)})


def agent_approval(approval: Approval) -> Approval:
    """The agent's own view: real values (it sent them), `decision.changes` after a modify."""
    approval = with_changes(approval)
    return approval.model_copy(
        update={
            "decision": _agent_vote(approval.decision) if approval.decision else None,
            "approvals": [_agent_vote(vote) for vote in approval.approvals],
        }
    )


def _agent_detail(event_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in detail.items() if key in _AGENT_DETAIL}
    if "channel" in shown and shown["channel"] not in _CHANNELS:
        del shown["channel"]  # a Slack channel ID rather than the name of one of our channels
    if event_type == "callback" and "result" in shown:
        # Only whether it arrived: not why not (a port scanner reads the difference).
        shown["result"] = "delivered" if shown["result"] == "delivered" else "failed"
    return shown


def agent_event(event: AuditEvent) -> AuditEvent:
    # The chain hash is left out: over a body with a guessed address it would confirm the guess.
    return event.model_copy(
        update={
            "actor": agent_actor(event.actor) if event.actor else None,
            "detail": _agent_detail(event.type, event.detail),
            "hash": "",
        }
    )
