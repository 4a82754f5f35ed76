"""Approve & trust similar… (opens the grant form) and the grant list's Revoke button."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.grants import grants_message, trust_modal
from blocks.modals import ModalOrigin, notice_modal
from bot.errors import CountersignError
from bot.models import Status
from handlers.actions.decisions import clicked_approval, clicked_channel
from handlers.channel import SlackChannel, channel_of
from handlers.deciding import check_clicker, decider_for, load, tell
from handlers.events.app_home import publish_for
from handlers.views.trust import prefill_body


async def open_trust(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    """Open the form at once (the trigger_id lives 3 s), then check the clicker and count the coverage."""
    await ack()
    slack = channel_of(context)
    approval_id, channel_id = clicked_approval(body), clicked_channel(body)
    stored = await load(slack, approval_id)
    opened = None
    if stored is not None and stored.approval.status == Status.pending:
        shown = await slack.service.for_humans(stored.approval)
        prefill = await slack.runtime.trust.prefill(stored.approval)
        metadata = ModalOrigin(approval_id, channel_id).dump()
        response = await slack.client.views_open(
            trigger_id=body["trigger_id"], view=trust_modal(shown, prefill, metadata)
        )
        opened = str(response["view"]["id"])
        decider = await decider_for(slack, body["user"])
        if await check_clicker(slack, stored, approval_id, decider, "approve", channel_id) is None:
            await slack.client.views_update(
                view_id=opened,
                view=notice_modal(
                    "Not changed", "You cannot decide this request; Countersign has sent you the reason."
                ),
            )
            return
        covered = await slack.runtime.trust.coverage(prefill_body(prefill), decider)
        await slack.client.views_update(view_id=opened, view=trust_modal(shown, prefill, metadata, covered))
        return
    decider = await decider_for(slack, body["user"])
    await check_clicker(slack, stored, approval_id, decider, "approve", channel_id)


async def revoke(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond) -> None:
    await ack()
    slack = channel_of(context)
    decider = await decider_for(slack, body["user"])
    grant_id = str(body["actions"][0]["value"])
    try:
        grant = await slack.runtime.trust.revoke(grant_id, decider)
    except CountersignError as exc:
        await tell(slack, decider.id, clicked_channel(body), f":no_entry_sign: Not revoked: {exc.message}.")
        return
    await tell(slack, decider.id, clicked_channel(body), f"Revoked grant `{grant.id}`.")
    await refresh_lists(slack, body, respond)


async def refresh_lists(slack: SlackChannel, body: dict[str, Any], respond: AsyncRespond) -> None:
    """Redraw where the Revoke button was: the ephemeral `/approvals grants` list or the App Home tab."""
    if (body.get("view") or {}).get("type") == "home":
        await publish_for(slack, str(body["user"]["id"]))
        return
    if body.get("response_url"):
        grants = await slack.runtime.trust.grants()
        await respond(replace_original=True, **grants_message(grants, slack.service.clock.now()))
