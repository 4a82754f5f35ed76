"""Button clicks: Approve / Reject / Modify / View full request, and the queue's paging."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.approval import ANSWER, APPROVE, MODIFY, REJECT, TRUST, VIEW
from blocks.digest import DIGEST_APPROVE_GROUP, DIGEST_POST_INDIVIDUALLY, DIGEST_REVIEW
from blocks.grants import REVOKE_GRANT
from blocks.queue import PAGE_ACTION
from handlers.actions import decisions, digest, paging, trust


def register(app: AsyncApp) -> None:
    app.action(APPROVE)(decisions.approve)
    app.action(REJECT)(decisions.open_reject)
    app.action(ANSWER)(decisions.open_answer)
    app.action(MODIFY)(decisions.open_modify)
    app.action(VIEW)(decisions.open_full_request)
    app.action(TRUST)(trust.open_trust)
    app.action(REVOKE_GRANT)(trust.revoke)
    app.action("grant_suggestions_open")(ack_only)
    app.action(DIGEST_REVIEW)(digest.review)
    app.action(DIGEST_APPROVE_GROUP)(digest.open_group)
    app.action(DIGEST_POST_INDIVIDUALLY)(digest.individually)
    app.action(f"{PAGE_ACTION}_next")(paging.turn_page)
    app.action(f"{PAGE_ACTION}_prev")(paging.turn_page)


async def ack_only(ack: Any) -> None:
    """A link button: Slack opens the URL; the click only needs acknowledging."""
    await ack()
