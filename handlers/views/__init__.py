"""Modal submissions: reject with a reason, modify the arguments."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from blocks.modals import MODIFY_CALLBACK, REJECT_CALLBACK
from handlers.views import modify, reject


def register(app: AsyncApp) -> None:
    app.view(REJECT_CALLBACK)(reject.submit)
    app.view(MODIFY_CALLBACK)(modify.submit)
