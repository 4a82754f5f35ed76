"""Slack's side of standing grants: telling a grant's creator (DM) that failed outcomes revoked it."""

from __future__ import annotations

import logging

from blocks.text import code_span, escape
from handlers.channel import SlackChannel

log = logging.getLogger(__name__)


async def tell_grant_revoked(slack: SlackChannel, grant_id: str) -> None:
    """Only automatic revocations are told: a person who revoked a grant knows it."""
    grant = await slack.runtime.trust.book.get(grant_id)
    if grant is None or grant.revoked_by is None or grant.revoked_by.id != "auto-revoke":
        return
    if grant.created_by.channel != "slack":
        return  # the dashboard's Trust page shows the notice to everyone else
    text = (
        f":warning: Your standing grant {code_span(grant.id)} ({code_span(grant.agent)} · "
        f"{code_span(grant.action)}) was revoked: {escape(grant.revoked_reason or 'failed outcomes')}. "
        "Requests like it go to people again."
    )
    try:
        await slack.client.chat_postMessage(channel=grant.created_by.id, text=text)
    except Exception as exc:  # noqa: BLE001 — a DM that cannot be sent is logged; the grant is revoked anyway
        log.warning(
            "could not tell %s that grant %s was revoked: %s", grant.created_by.id, grant.id, type(exc).__name__
        )
