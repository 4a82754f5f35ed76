"""The decision buttons. Each acknowledges first; modals open with the trigger_id straight away."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from blocks.modals import (
    ModalOrigin,
    answer_modal,
    args_editable,
    full_request_modal,
    modify_modal,
    notice_modal,
    reject_modal,
)
from blocks.queue import queue_page
from bot.errors import NotFound
from bot.models import Approval, Outcome, Status
from bot.store import StoredApproval
from handlers.channel import SlackChannel, channel_of
from handlers.deciding import check_clicker, decide_and_reply, decider_for, load, tell
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


ModalBuilder = Callable[[Approval, ModalOrigin], dict[str, Any]]


async def open_checked_modal(
    slack: SlackChannel, body: dict[str, Any], outcome: Outcome, build: ModalBuilder, stored: StoredApproval | None
) -> None:
    """Open the form with the trigger_id at once (it lives 3 s and works once), then check the clicker.

    The checks may call Slack (users.info, user groups, channel members, each possibly rate-limited), so
    they come after the modal is open; a refusal replaces the form with a notice, and submitting a form
    goes through the service's checks again anyway."""
    approval_id, channel_id = clicked_approval(body), clicked_channel(body)
    opened = None
    if stored is not None and stored.approval.status == Status.pending:
        response = await slack.client.views_open(
            trigger_id=body["trigger_id"],
            view=build(await slack.service.for_humans(stored.approval), ModalOrigin(approval_id, channel_id)),
        )
        opened = str(response["view"]["id"])
    decider = await decider_for(slack, body["user"])
    allowed = await check_clicker(slack, stored, approval_id, decider, outcome, channel_id)
    if allowed is None and opened is not None:
        await slack.client.views_update(
            view_id=opened,
            view=notice_modal("Not changed", "You cannot decide this request; Countersign has sent you the reason."),
        )


async def open_answer(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    slack = channel_of(context)
    await open_checked_modal(slack, body, "approve", answer_modal, await load(slack, clicked_approval(body)))


async def open_reject(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    slack = channel_of(context)
    stored = await load(slack, clicked_approval(body))
    required = stored is not None and slack.service.reason_required(stored, "reject")
    await open_checked_modal(slack, body, "reject", partial(reject_modal, required=required), stored)


async def open_modify(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    slack = channel_of(context)
    channel_id = clicked_channel(body)
    stored = await load(slack, clicked_approval(body))
    if stored is None or args_editable(stored.approval):  # (a missing request is reported by the checks)
        await open_checked_modal(slack, body, "modify", modify_modal, stored)
        return
    decider = await decider_for(slack, body["user"])
    if await check_clicker(slack, stored, clicked_approval(body), decider, "modify", channel_id) is not None:
        await tell(
            slack,
            decider.id,
            channel_id,
            "These arguments are too long to edit in Slack (3,000 characters); use the dashboard.",
        )


async def open_full_request(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    slack = channel_of(context)
    try:
        approval = await slack.service.get(clicked_approval(body))
    except NotFound:
        await tell(slack, body["user"]["id"], clicked_channel(body), "This request no longer exists.")
        return
    await slack.client.views_open(
        trigger_id=body["trigger_id"], view=full_request_modal(await slack.service.for_humans(approval))
    )
