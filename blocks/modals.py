"""Modals: reject with a reason, modify the arguments as JSON, and the full request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks.approval import AGENT_HEADER, context_lines, summary_line
from blocks.text import (
    MODAL_TITLE_MAX,
    SECTION_TEXT_MAX,
    VIEW_BLOCKS_MAX,
    code_block,
    code_chunks,
    code_span,
    cut,
    mrkdwn,
    pack,
    pretty_json,
    row_line,
)
from bot.display import arg_rows
from bot.models import Approval

REJECT_CALLBACK = "reject_modal"
MODIFY_CALLBACK = "modify_modal"
REASON_BLOCK, REASON_INPUT = "reason", "reason_input"
ARGS_BLOCK, ARGS_INPUT = "args", "args_input"
COMMENT_BLOCK, COMMENT_INPUT = "comment", "comment_input"
ANSWER_CALLBACK = "answer_modal"
ANSWER_BLOCK, ANSWER_INPUT = "answer", "answer_input"
INPUT_MAX = 3000  # plain_text_input holds at most 3,000 characters


@dataclass(frozen=True)
class ModalOrigin:
    """Where the click came from, carried through a modal in `private_metadata`."""

    approval_id: str
    channel: str | None = None

    def dump(self) -> str:
        return json.dumps({"id": self.approval_id, "channel": self.channel})

    @classmethod
    def load(cls, raw: str) -> ModalOrigin:
        data = json.loads(raw or "{}")
        return cls(str(data.get("id", "")), data.get("channel"))


def _title(text: str) -> str:
    return cut(text, MODAL_TITLE_MAX)


def form_view(callback_id: str, metadata: str, title: str, submit: str, blocks: list[Any]) -> dict[str, Any]:
    """The frame of every form modal: its callback, what it carries, a title and Submit / Cancel."""
    view = View(
        type="modal",
        callback_id=callback_id,
        private_metadata=metadata,
        title=_title(title),
        submit=submit,
        close="Cancel",
        blocks=blocks[:VIEW_BLOCKS_MAX],
    )
    return view.to_dict()


def _form_modal(
    callback_id: str, origin: ModalOrigin, title: str, submit: str, intro: str, inputs: list[InputBlock]
) -> dict[str, Any]:
    """A form about one request: its summary (or question) on top, then the inputs; carries its origin."""
    blocks = [SectionBlock(text=mrkdwn(cut(intro, SECTION_TEXT_MAX))), *inputs]
    return form_view(callback_id, origin.dump(), title, submit, blocks)


def _text_input(block_id: str, action_id: str, label: str, optional: bool = False) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        element=PlainTextInputElement(action_id=action_id, multiline=True, max_length=INPUT_MAX),
    )


def reject_modal(approval: Approval, origin: ModalOrigin, required: bool) -> dict[str, Any]:
    """`required`: the service's rule (policy `require_reason`) says a reject needs a reason here."""
    label = "Reason (required)" if required else "Reason (optional)"
    return _form_modal(
        REJECT_CALLBACK,
        origin,
        "Reject request",
        "Reject",
        summary_line(approval),
        [_text_input(REASON_BLOCK, REASON_INPUT, label, optional=not required)],
    )


def answer_modal(approval: Approval, origin: ModalOrigin) -> dict[str, Any]:
    """A free-text answer to an agent's question (a HumanLayer human contact)."""
    question = str(approval.args.get("message") or approval.context.get("why") or approval.action)
    return _form_modal(
        ANSWER_CALLBACK,
        origin,
        "Answer the agent",
        "Send answer",
        f"{code_span(approval.agent)} asks:\n{code_block(question, 2000)[0]}",
        [_text_input(ANSWER_BLOCK, ANSWER_INPUT, "Your answer")],
    )


def args_editable(approval: Approval) -> bool:
    return len(pretty_json(approval.args)) <= INPUT_MAX


def modify_modal(approval: Approval, origin: ModalOrigin) -> dict[str, Any]:
    hint = "A JSON object."
    if approval.args_schema:
        hint += " It is checked against the request's JSON Schema, field by field."
    args_input = InputBlock(
        block_id=ARGS_BLOCK,
        label="Arguments",
        hint=hint,
        element=PlainTextInputElement(
            action_id=ARGS_INPUT, multiline=True, max_length=INPUT_MAX, initial_value=pretty_json(approval.args)
        ),
    )
    comment_input = InputBlock(
        block_id=COMMENT_BLOCK,
        label="Comment (optional)",
        optional=True,
        element=PlainTextInputElement(action_id=COMMENT_INPUT, max_length=INPUT_MAX),
    )
    return _form_modal(
        MODIFY_CALLBACK,
        origin,
        "Modify and approve",
        "Approve changes",
        summary_line(approval),
        [args_input, comment_input],
    )


FULL_VALUE_MAX = 2400
FULL_ROWS_MAX = 40


def full_request_modal(approval: Approval) -> dict[str, Any]:
    """Everything the agent sent, within a modal's 100 blocks: the fields a policy rule matched first,
    then the context, then the whole arguments (and SQL, schema) as inert code in as many parts as it takes."""
    blocks: list[Block] = [
        HeaderBlock(text="Full request"),
        SectionBlock(text=mrkdwn(cut(summary_line(approval), SECTION_TEXT_MAX))),
        ContextBlock(elements=[mrkdwn(AGENT_HEADER)]),
    ]
    matched = [row for row in arg_rows(approval, FULL_VALUE_MAX, FULL_ROWS_MAX).rows if row.matched]
    if matched:
        lines = ["*Fields a policy rule matched*", *(row_line(row) for row in matched)]
        blocks.extend(SectionBlock(text=mrkdwn(t)) for t in pack(lines))
    blocks.extend(SectionBlock(text=mrkdwn(t)) for t in pack(context_lines(approval, FULL_VALUE_MAX, FULL_ROWS_MAX)))
    parts: list[tuple[str, str]] = [("Arguments", pretty_json(approval.args))]
    if approval.sql:
        parts.append(("SQL", approval.sql))
    if approval.args_schema:
        parts.append(("Argument schema", pretty_json(approval.args_schema)))
    room = SECTION_TEXT_MAX - 60
    for label, text in parts:
        for index, piece in enumerate(code_chunks(text, room)):
            heading = f"*{label}*" + (f" (part {index + 1})" if index else "")
            blocks.append(SectionBlock(text=mrkdwn(f"{heading}\n{piece}")))
    if len(blocks) > VIEW_BLOCKS_MAX:
        blocks = blocks[: VIEW_BLOCKS_MAX - 1]
        blocks.append(
            ContextBlock(
                elements=[
                    mrkdwn(
                        ":scissors: Too long for Slack; the rest is in the dashboard and "
                        f"`GET /v1/approvals/{approval.id}`."
                    )
                ]
            )
        )
    view = View(type="modal", title=_title("Full request"), close="Close", blocks=blocks)
    return view.to_dict()


def notice_modal(title: str, text: str) -> dict[str, Any]:
    """A one-message modal (e.g. in reply to a click that cannot open the real one)."""
    view = View(
        type="modal",
        title=_title(title),
        close="Close",
        blocks=[SectionBlock(text=mrkdwn(cut(text, SECTION_TEXT_MAX)))],
    )
    return view.to_dict()
