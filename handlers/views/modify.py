"""The modify modal's submission: a JSON object, checked against the request's args_schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from blocks.modals import ARGS_BLOCK, ARGS_INPUT, COMMENT_BLOCK, COMMENT_INPUT, ModalOrigin
from blocks.text import cut
from bot.errors import InvalidInput, NotFound
from bot.validation import check_args
from handlers.channel import channel_of
from handlers.deciding import decide_and_reply, decider_for, tell
from handlers.views.reject import input_value

ERROR_MAX = 1000


async def parse_args(
    raw: str, schema: dict[str, Any] | None, unmask: Callable[[Any], Any] = lambda args: args
) -> tuple[dict[str, Any] | None, str | None]:
    """(args, None) or (None, the error to show under the field). `unmask` puts back the secret values
    whose masks the approver left as they were, before the schema sees them."""
    try:
        args = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
    try:
        # Off the event loop and within one time budget: the schema is the agent's.
        return await check_args(unmask(args), schema), None
    except InvalidInput as exc:
        problems = "; ".join(f"{field}: {message}" for field, message in exc.fields.items())
        return None, cut(f"{exc.message}: {problems}" if exc.fields else exc.message, ERROR_MAX)


async def submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
    slack = channel_of(context)
    origin = ModalOrigin.load(view.get("private_metadata", ""))
    try:
        approval = await slack.service.get(origin.approval_id)
    except NotFound:
        await ack()
        await tell(slack, body["user"]["id"], origin.channel, "This request no longer exists.")
        return
    redactor = await slack.service.redactor()
    args, error = await parse_args(
        input_value(view, ARGS_BLOCK, ARGS_INPUT),
        approval.args_schema,
        lambda edited: redactor.restore(edited, approval.args),
    )
    if error is not None or args is None:
        await ack(response_action="errors", errors={ARGS_BLOCK: error or "Enter a JSON object."})
        return
    await ack()
    comment = input_value(view, COMMENT_BLOCK, COMMENT_INPUT) or None
    decider = await decider_for(slack, body["user"])
    await decide_and_reply(slack, origin.approval_id, decider, "modify", origin.channel, comment=comment, args=args)
