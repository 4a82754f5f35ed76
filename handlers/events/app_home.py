"""App Home: the person's pending queue, the latest decisions, standing grants (with Revoke buttons) and
suggested grants, published when they open the tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from blocks.grants import grant_blocks, suggestion_blocks
from blocks.queue import home_view
from blocks.text import VIEW_BLOCKS_MAX
from handlers.channel import SlackChannel, channel_of
from handlers.deciding import decider_for
from handlers.queue import decidable_pending, recent_decisions

HOME_GRANTS = 10


async def publish_home(event: dict[str, Any], context: AsyncBoltContext) -> None:
    if event.get("tab", "home") != "home":
        return
    await publish_for(channel_of(context), str(event["user"]))


async def publish_for(slack: SlackChannel, user_id: str) -> None:
    pending = await decidable_pending(slack, await decider_for(slack, {"id": user_id}))
    view = home_view(pending, await recent_decisions(slack))
    trust = slack.runtime.trust
    link = f"{slack.runtime.settings.countersign_public_url}/trust"
    extra = [b.to_dict() for b in grant_blocks(await trust.grants(), slack.service.clock.now(), HOME_GRANTS)]
    extra += [b.to_dict() for b in suggestion_blocks([s.as_json() for s in await trust.suggestions()], link)]
    view["blocks"] = view["blocks"][: VIEW_BLOCKS_MAX - len(extra)] + extra
    await slack.client.views_publish(user_id=user_id, view=view)
