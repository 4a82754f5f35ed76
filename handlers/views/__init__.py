"""Modal submissions: reject with a reason, modify the arguments, answer a question."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from blocks.digest import GROUP_CALLBACK
from blocks.grants import TRUST_CALLBACK
from blocks.modals import ANSWER_CALLBACK, MODIFY_CALLBACK, REJECT_CALLBACK
from handlers.views import answer, digest, modify, reject, trust


def register(app: AsyncApp) -> None:
    app.view(REJECT_CALLBACK)(reject.submit)
    app.view(MODIFY_CALLBACK)(modify.submit)
    app.view(ANSWER_CALLBACK)(answer.submit)
    app.view(TRUST_CALLBACK)(trust.submit)
    app.view(GROUP_CALLBACK)(digest.submit)
