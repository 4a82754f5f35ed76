"""App Home: the person's pending queue and the latest decisions, published when they open the tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from blocks.queue import home_view
from handlers.channel import channel_of
from handlers.deciding import decider_for
from handlers.queue import decidable_pending, recent_decisions


async def publish_home(event: dict[str, Any], context: AsyncBoltContext) -> None:
    if event.get("tab", "home") != "home":
        return
    slack = channel_of(context)
    user_id = str(event["user"])
    pending = await decidable_pending(slack, await decider_for(slack, {"id": user_id}))
    await slack.client.views_publish(user_id=user_id, view=home_view(pending, await recent_decisions(slack)))
