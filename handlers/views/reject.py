"""The reject modal's submission: the service says when a reason is required (policy `require_reason`)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from blocks.modals import REASON_BLOCK, REASON_INPUT, ModalOrigin
from bot.errors import NotFound
from handlers.channel import channel_of
from handlers.deciding import decide_and_reply, decider_for, tell


def input_value(view: dict[str, Any], block_id: str, action_id: str) -> str:
    values = (view.get("state") or {}).get("values") or {}
    return str(((values.get(block_id) or {}).get(action_id) or {}).get("value") or "").strip()


async def submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
    slack = channel_of(context)
    origin = ModalOrigin.load(view.get("private_metadata", ""))
    reason = input_value(view, REASON_BLOCK, REASON_INPUT)
    try:
        stored = await slack.service.get_stored(origin.approval_id)
    except NotFound:
        await ack()
        await tell(slack, body["user"]["id"], origin.channel, "This request no longer exists.")
        return
    if not reason and slack.service.reason_required(stored, "reject"):
        level = stored.approval.risk_level.value
        await ack(
            response_action="errors", errors={REASON_BLOCK: f"A reason is required to reject a {level}-risk request."}
        )
        return
    await ack()
    decider = await decider_for(slack, body["user"])
    await decide_and_reply(slack, origin.approval_id, decider, "reject", origin.channel, comment=reason or None)
