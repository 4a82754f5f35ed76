"""The answer modal's submission: the text answers an agent's question (recorded as the decision's comment)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from blocks.modals import ANSWER_BLOCK, ANSWER_INPUT, ModalOrigin
from handlers.channel import channel_of
from handlers.deciding import decide_and_reply, decider_for
from handlers.views.reject import input_value


async def submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
    answer = input_value(view, ANSWER_BLOCK, ANSWER_INPUT)
    if not answer:
        await ack(response_action="errors", errors={ANSWER_BLOCK: "Write an answer, or close and Decline."})
        return
    await ack()
    slack = channel_of(context)
    origin = ModalOrigin.load(view.get("private_metadata", ""))
    decider = await decider_for(slack, body["user"])
    await decide_and_reply(slack, origin.approval_id, decider, "approve", origin.channel, comment=answer, answer=True)
