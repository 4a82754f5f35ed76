"""The Approve & trust modal's submission: approve the request and create the grant, in one step."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from blocks.grants import (
    COND_BLOCK,
    COND_INPUT,
    CONDITIONS_MAX,
    DURATION_BLOCK,
    DURATION_INPUT,
    USES_BLOCK,
    USES_INPUT,
)
from blocks.modals import ModalOrigin
from blocks.text import slack_date
from bot.errors import CountersignError, InvalidInput, NotFound
from bot.grants import GrantCreate
from bot.trust import DURATIONS, parse_grant_body
from handlers.channel import channel_of
from handlers.deciding import decider_for, tell
from handlers.views.reject import input_value


def prefill_body(prefill: dict[str, Any]) -> GrantCreate:
    return parse_grant_body(prefill)


def _selected(view: dict[str, Any], block_id: str, action_id: str) -> str:
    values = (view.get("state") or {}).get("values") or {}
    option = ((values.get(block_id) or {}).get(action_id) or {}).get("selected_option") or {}
    return str(option.get("value") or "24h")


async def submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
    slack = channel_of(context)
    origin = ModalOrigin.load(view.get("private_metadata", ""))
    trust = slack.runtime.trust
    try:
        approval = await slack.service.get(origin.approval_id)
    except NotFound:
        await ack()
        await tell(slack, body["user"]["id"], origin.channel, "This request no longer exists.")
        return
    # The form's conditions follow the request's own arguments, in order (as the form was built).
    prefill = await trust.prefill(approval)
    errors: dict[str, str] = {}
    conditions: dict[str, Any] = {}
    for n, path in enumerate(list(prefill["args"])[:CONDITIONS_MAX]):
        raw = input_value(view, COND_BLOCK.format(n), COND_INPUT)
        if not raw:
            conditions[path] = {"exists": True}  # dropped: any value
            continue
        try:
            condition = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors[COND_BLOCK.format(n)] = f"Not valid JSON: {exc.msg}."
            continue
        if not isinstance(condition, dict):
            condition = {"eq": condition}
        conditions[path] = condition
    uses_text = input_value(view, USES_BLOCK, USES_INPUT)
    if uses_text and not (uses_text.isdigit() and int(uses_text) >= 1):
        errors[USES_BLOCK] = "A whole number, 1 or more, or leave it empty."
    duration = DURATIONS.get(_selected(view, DURATION_BLOCK, DURATION_INPUT), timedelta(hours=24))
    grant_body: dict[str, Any] = {
        **prefill,
        "args": conditions,
        "expires_at": (slack.service.clock.now() + duration).isoformat(),
        "max_uses": int(uses_text) if uses_text and not errors.get(USES_BLOCK) else None,
        "reason": f"trusted from {approval.id}",
    }
    if not errors:
        try:
            parsed = parse_grant_body(grant_body)
        except InvalidInput as exc:
            errors = _block_errors(exc, list(prefill["args"]))
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    decider = await decider_for(slack, body["user"])
    try:
        _approval, grant = await trust.approve_and_trust(origin.approval_id, decider, parsed)
    except CountersignError as exc:
        await tell(slack, decider.id, origin.channel, f":no_entry_sign: Not changed: {exc.message}.")
        return
    await tell(
        slack,
        decider.id,
        origin.channel,
        f":handshake: Approved, and granted `{grant.id}` until {slack_date(grant.expires_at)}. "
        "Revoke it from `/approvals grants` or App Home.",
    )


def _block_errors(exc: InvalidInput, paths: list[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for field, message in exc.fields.items():
        parts = field.split(".")
        if parts[0] == "args" and len(parts) > 1 and parts[1] in paths:
            errors[COND_BLOCK.format(paths.index(parts[1]))] = message[:300]
        else:
            errors[COND_BLOCK.format(0) if paths else USES_BLOCK] = f"{field}: {message}"[:300]
    return errors
