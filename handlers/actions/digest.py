"""A digest's buttons: Approve all in group… (opens the confirm modal), Post individually, Review (a link)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from blocks.digest import group_modal, groups_of
from blocks.modals import notice_modal
from handlers.actions.decisions import clicked_channel
from handlers.channel import channel_of
from handlers.deciding import tell
from handlers.digest import digest_ids, post_individually, shown_approvals
from handlers.keys import group_confirm

CONFIRM_TTL_S = 24 * 3600  # a modal left open longer than this must be opened again


async def review(ack: AsyncAck) -> None:
    await ack()  # a link button: Slack opens the dashboard queue filtered to the group


async def open_group(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    slack = channel_of(context)
    digest_id, _, group_key = str(body["actions"][0]["value"]).partition(":")
    _fields, ids = await digest_ids(slack, digest_id)
    group = next((g for g in groups_of(await shown_approvals(slack, ids)) if g.key == group_key), None)
    # The modal's list is what the approver confirms: its ids are kept under a random token (the list can
    # exceed private_metadata's 3,000 characters) and only those are approved on submit.
    token = secrets.token_urlsafe(16)
    if group:
        listed = json.dumps([a.id for a in group.approvals])
        await slack.runtime.redis.set(group_confirm(slack.runtime.keys, token), listed, ex=CONFIRM_TTL_S)
    metadata = json.dumps({"d": digest_id, "g": group_key, "c": clicked_channel(body), "t": token})
    view = (
        group_modal(group, metadata)
        if group
        else notice_modal("Nothing to approve", "Every request of this group is decided.")
    )
    await slack.client.views_open(trigger_id=body["trigger_id"], view=view)


async def individually(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    slack = channel_of(context)
    count = await post_individually(slack, str(body["actions"][0]["value"]))
    await tell(slack, body["user"]["id"], clicked_channel(body), f"Posting {count} requests one by one.")
