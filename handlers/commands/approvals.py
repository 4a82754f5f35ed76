"""`/approvals` lists what this person may decide; `/approvals stats`; `/approvals grants` (standing grants
with Revoke buttons); `/approvals help`. All ephemeral."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.grants import grants_message
from blocks.queue import HELP_TEXT, help_blocks, queue_page, stats_blocks
from handlers.channel import channel_of
from handlers.deciding import decider_for
from handlers.queue import decidable_pending, today_stats


async def run(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond) -> None:
    word = (command.get("text") or "").strip().lower()
    if word in ("help", "?"):
        await ack(blocks=help_blocks(), text=HELP_TEXT, response_type="ephemeral")
        return
    if word not in ("", "stats", "grants"):
        await ack(text=f"Unknown option `{word[:50]}`.\n{HELP_TEXT}", response_type="ephemeral")
        return
    await ack()
    slack = channel_of(context)
    if word == "grants":
        await respond(
            response_type="ephemeral", **grants_message(await slack.runtime.trust.grants(), slack.service.clock.now())
        )
        return
    if word == "stats":
        await respond(blocks=stats_blocks(await today_stats(slack)), text="Approval stats", response_type="ephemeral")
        return
    user = {"id": command.get("user_id"), "name": command.get("user_name")}
    pending_list = await decidable_pending(slack, await decider_for(slack, user))
    await respond(
        blocks=queue_page(pending_list, 0),
        text=f"{len(pending_list)} waiting for you",
        response_type="ephemeral",
    )
