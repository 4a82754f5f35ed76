"""Next / previous page of the `/approvals` list (ephemeral, replaced in place)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.queue import queue_page
from handlers.channel import channel_of
from handlers.deciding import decider_for
from handlers.queue import decidable_pending


async def turn_page(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond) -> None:
    await ack()
    slack = channel_of(context)
    try:
        page = int(body["actions"][0]["value"])
    except (KeyError, ValueError):
        page = 0
    pending = await decidable_pending(slack, await decider_for(slack, body["user"]))
    await respond(replace_original=True, blocks=queue_page(pending, page), text="Waiting for you")
