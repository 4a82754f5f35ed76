"""The digest's "Approve all in group…" confirmation: every request through the service, one by one."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from blocks.digest import GROUP_REASON_BLOCK, GROUP_REASON_INPUT, groups_of
from blocks.text import cut
from bot.errors import InvalidInput
from handlers.channel import channel_of
from handlers.deciding import decider_for, tell
from handlers.digest import digest_ids, refresh_digest, shown_approvals
from handlers.keys import group_confirm
from handlers.views.reject import input_value


async def submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
    slack = channel_of(context)
    origin = json.loads(view.get("private_metadata") or "{}")
    digest_id, group_key, channel = str(origin.get("d", "")), str(origin.get("g", "")), origin.get("c")
    listed_raw = await slack.runtime.redis.get(group_confirm(slack.runtime.keys, str(origin.get("t", ""))))
    listed = set(json.loads(listed_raw)) if listed_raw else set()
    _fields, ids = await digest_ids(slack, digest_id)
    group = next((g for g in groups_of(await shown_approvals(slack, ids)) if g.key == group_key), None)
    # Only what the modal listed, and still in the group: a request added while it was open was never shown.
    chosen = [a.id for a in group.approvals if a.id in listed] if group else []
    if not chosen:
        await ack()
        await tell(
            slack, body["user"]["id"], channel, "Every request this confirmation listed is decided (or it expired)."
        )
        return
    comment = input_value(view, GROUP_REASON_BLOCK, GROUP_REASON_INPUT) or None
    decider = await decider_for(slack, body["user"])
    try:
        result = await slack.runtime.trust.approve_all(chosen, decider, comment)
    except InvalidInput as exc:
        await ack(response_action="errors", errors={GROUP_REASON_BLOCK: cut(exc.message, 300)})
        return
    await ack()
    await refresh_digest(slack, digest_id)
    lines = [f"Approved {len(result.approved)}."]
    if result.recorded:
        lines.append(f"Your vote counts toward the quorum of {len(result.recorded)}.")
    if result.skipped:
        lines.append(
            f"Skipped {len(result.skipped)}: "
            + "; ".join(f"`{approval_id}` {why}" for approval_id, why in result.skipped[:10])
        )
    await tell(slack, decider.id, channel, cut(" ".join(lines), 3000))
