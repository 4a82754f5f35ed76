"""Button clicks: Approve / Reject / Modify / View full request, and the queue's paging."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from blocks.approval import ANSWER, APPROVE, MODIFY, REJECT, VIEW
from blocks.queue import PAGE_ACTION
from handlers.actions import decisions, paging


def register(app: AsyncApp) -> None:
    app.action(APPROVE)(decisions.approve)
    app.action(REJECT)(decisions.open_reject)
    app.action(ANSWER)(decisions.open_answer)
    app.action(MODIFY)(decisions.open_modify)
    app.action(VIEW)(decisions.open_full_request)
    app.action(f"{PAGE_ACTION}_next")(paging.turn_page)
    app.action(f"{PAGE_ACTION}_prev")(paging.turn_page)
