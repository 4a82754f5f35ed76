"""The decision buttons. Each acknowledges first; modals open with the trigger_id straight away."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.modals import ModalOrigin, args_editable, full_request_modal, modify_modal, reject_modal
from blocks.queue import queue_page
from bot.errors import NotFound
from handlers.channel import channel_of
from handlers.deciding import decide_and_reply, decider_for, refuse_early, tell
from handlers.queue import decidable_pending


def clicked_channel(body: dict[str, Any]) -> str | None:
    """The conversation the clicked message is in; None for the App Home tab."""
    channel = body.get("channel") or {}
    return channel.get("id") or (body.get("container") or {}).get("channel_id")


def clicked_approval(body: dict[str, Any]) -> str:
    return str(body["actions"][0]["value"])


def from_queue_list(body: dict[str, Any]) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral")) and bool(body.get("response_url"))


async def approve(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond) -> None:
    await ack()
    slack = channel_of(context)
    decider = await decider_for(slack, body["user"])
    approval = await decide_and_reply(slack, clicked_approval(body), decider, "approve", clicked_channel(body))
    if approval is not None and from_queue_list(body):
        await respond(
            replace_original=True,
            blocks=queue_page(await decidable_pending(slack, decider), 0),
            text="Waiting for you",
        )


async def open_reject(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    slack = channel_of(context)
    decider = await decider_for(slack, body["user"])
    channel_id = clicked_channel(body)
    approval = await refuse_early(slack, clicked_approval(body), decider, "reject", channel_id)
    if approval is not None:
        await slack.client.views_open(
            trigger_id=body["trigger_id"], view=reject_modal(approval, ModalOrigin(approval.id, channel_id))
        )


async def open_modify(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    slack = channel_of(context)
    decider = await decider_for(slack, body["user"])
    channel_id = clicked_channel(body)
    approval = await refuse_early(slack, clicked_approval(body), decider, "modify", channel_id)
    if approval is None:
        return
    if not args_editable(approval):
        await tell(
            slack,
            decider.id,
            channel_id,
            "These arguments are too long to edit in Slack (3,000 characters); use the dashboard.",
        )
        return
    await slack.client.views_open(
        trigger_id=body["trigger_id"], view=modify_modal(approval, ModalOrigin(approval.id, channel_id))
    )


async def open_full_request(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    slack = channel_of(context)
    try:
        approval = await slack.service.get(clicked_approval(body))
    except NotFound:
        await tell(slack, body["user"]["id"], clicked_channel(body), "This request no longer exists.")
        return
    await slack.client.views_open(trigger_id=body["trigger_id"], view=full_request_modal(approval))
