"""The approval message: context, arguments, risk, expiry and buttons; after a decision, the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    SectionBlock,
)

from blocks.summary import RISK_BADGE, changes_text, summary_text
from blocks.text import (
    FALLBACK_TEXT_MAX,
    FIELD_TEXT_MAX,
    SECTION_TEXT_MAX,
    agent_rows,
    code_block,
    code_span,
    cut,
    mrkdwn,
    pack,
    person,
    slack_date,
)
from bot.display import CONTEXT_LABELS, arg_rows, context_rows, reversible_of
from bot.models import Approval, Status
from bot.summary import changes

APPROVE = "approval_approve"
REJECT = "approval_reject"
MODIFY = "approval_modify"
VIEW = "approval_view"
ANSWER = "approval_answer"
TRUST = "approval_trust"  # Approve & trust similar… (blocks/grants.py builds its modal)
EXECUTION_MARK = {"succeeded": ":white_check_mark:", "failed": ":x:"}


def is_question(approval: Approval) -> bool:
    """A question (filed through /v1/questions or a HumanLayer contact): answered with free text. The kind
    is stored by the route; nothing in the agent's context can make an action look like a question."""
    return approval.kind == "question"


def question_buttons(approval_id: str) -> ActionsBlock:
    return ActionsBlock(
        block_id=f"answer:{approval_id}",
        elements=[
            ButtonElement(text="Answer", action_id=ANSWER, value=approval_id, style="primary"),
            ButtonElement(text="Decline", action_id=REJECT, value=approval_id),
        ],
    )


ACTION_IDS = (APPROVE, REJECT, MODIFY, VIEW)

OUTCOME_LINE = {
    Status.approved: ":white_check_mark: *Approved*",
    Status.rejected: ":no_entry: *Rejected*",
    Status.expired: ":hourglass: *Expired*",
    Status.cancelled: ":heavy_multiplication_x: *Cancelled*",
}
_PAST = {"approve": "approved", "reject": "rejected", "modify": "modified"}


@dataclass(frozen=True)
class Message:
    """What `chat.postMessage` / `chat.update` send: blocks plus the notification fallback text."""

    blocks: list[dict[str, Any]]
    text: str


def decision_buttons(approval_id: str, *, with_modify: bool = True, with_view: bool = True) -> ActionsBlock:
    buttons = [
        ButtonElement(text="Approve", action_id=APPROVE, value=approval_id, style="primary"),
        ButtonElement(text="Reject", action_id=REJECT, value=approval_id, style="danger"),
    ]
    if with_modify:
        buttons.append(ButtonElement(text="Modify", action_id=MODIFY, value=approval_id))
        buttons.append(ButtonElement(text="Approve & trust similar…", action_id=TRUST, value=approval_id))
    if with_view:
        buttons.append(ButtonElement(text="View full request", action_id=VIEW, value=approval_id))
    return ActionsBlock(block_id=f"decide:{approval_id}", elements=buttons)


ARG_VALUE_MAX = 500  # characters of one argument or context value in the message (escaping may grow it 5×)
ARG_ROWS_MAX = 15
CONTEXT_ROWS_MAX = 8
AGENT_HEADER = (
    ":robot_face: *From the agent (unverified)* — everything until the line below is the agent's "
    "own text, shown as sent"
)


def summary_line(approval: Approval) -> str:
    return f"{RISK_BADGE[approval.risk_level]} · {code_span(approval.action)} from {code_span(approval.agent)}"


def context_lines(approval: Approval, value_max: int = ARG_VALUE_MAX, rows_max: int = CONTEXT_ROWS_MAX) -> list[str]:
    """The context: our labels for the fields our API defines, the agent's own keys in code."""
    rows = context_rows(approval, value_max, rows_max)
    lines = agent_rows(rows, CONTEXT_LABELS)
    reversible = reversible_of(approval)
    if reversible is not None:
        lines.append("*Reversible:* " + ("yes" if reversible else ":warning: *no*"))
    if rows.more:
        lines.append(f"… and {rows.more} more context fields")
    return lines


def args_lines(
    approval: Approval, link: str | None, value_max: int = ARG_VALUE_MAX, rows_max: int = ARG_ROWS_MAX
) -> tuple[list[str], bool]:
    """The arguments field by field, rule-matched first; returns (lines, anything cut or left out)."""
    rows = arg_rows(approval, value_max, rows_max)
    heading = "*Arguments*" + (
        f" ({len(rows.rows) + rows.more} fields, those a policy rule matched first)"
        if any(r.matched for r in rows.rows)
        else ""
    )
    lines = [heading, *agent_rows(rows)] if rows.rows else [heading + " none"]
    if rows.more:
        where = f"<{link}|open the full request>" if link else "*View full request* shows them"
        lines.append(f"… and {rows.more} more fields: {where}")
    return lines, bool(rows.more) or any(r.cut for r in rows.rows)


def args_diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What a modify changed, one line per field (nested fields by their path)."""
    return changes_text(changes(before, after))


def quorum_text(approval: Approval) -> str | None:
    if approval.quorum <= 1:
        return None
    approves = [v for v in approval.approvals if v.outcome in ("approve", "modify")]
    text = f":busts_in_silhouette: {len(approves)} of {approval.quorum} approvals"
    if approves:
        text += ": " + ", ".join(person(v.by) for v in approves)
    return text


def outcome_blocks(approval: Approval) -> list[Block]:
    decision = approval.decision
    line = OUTCOME_LINE.get(approval.status, f"*{approval.status.value}*")
    if decision is None:
        return [SectionBlock(text=mrkdwn(line))]
    if approval.status == Status.approved and decision.outcome == "modify":
        line = ":pencil2: *Approved with changes*"
    if approval.status == Status.expired:
        text = f"{line} {slack_date(decision.at)}: nobody decided in time, so it is *{_PAST[decision.outcome]}*"
    else:
        text = f"{line} by {person(decision.by)} {slack_date(decision.at)}"
    if decision.comment:
        comment, _ = code_block(decision.comment, 1500)
        text += "\n" + comment
    blocks: list[Block] = [SectionBlock(text=mrkdwn(cut(text, SECTION_TEXT_MAX)))]
    if decision.outcome == "modify" and decision.args is not None:
        diff = cut("*Changed arguments*\n" + args_diff(approval.args, decision.args), SECTION_TEXT_MAX)
        blocks.append(SectionBlock(text=mrkdwn(diff)))
    if approval.execution is not None:  # the agent's own report: its detail is agent text, so in code
        ran = f"{EXECUTION_MARK[approval.execution.status]} ran: {approval.execution.status}"
        if approval.execution.detail:
            ran += " " + code_span(approval.execution.detail, 300)
        blocks.append(ContextBlock(elements=[mrkdwn(cut(ran, SECTION_TEXT_MAX))]))
    return blocks


def footer(approval: Approval, link: str | None) -> ContextBlock:
    text = f"<{link}|Open in the dashboard> · `{approval.id}`" if link else f"`{approval.id}`"
    return ContextBlock(elements=[mrkdwn(text)])


def risk_line(approval: Approval) -> str:
    """The classification as the policy engine wrote it (details; the summary says it in words). Reasons
    quote agent text (the action, hints), so each is in code."""
    return cut("Classification: " + "; ".join(code_span(r, 300) for r in approval.risk_reasons), 3000)


def agent_blocks(approval: Approval, link: str | None) -> tuple[list[Block], bool]:
    """Everything the agent wrote, under a header saying so; returns (blocks, anything cut)."""
    fields = [f"*Action*\n{code_span(approval.action, 500)}", f"*Agent*\n{code_span(approval.agent, 500)}"]
    if approval.requested_by:
        fields.append(f"*Requested by*\n{code_span(approval.requested_by, 500)}")
    if approval.run_id:
        fields.append(f"*Run*\n{code_span(approval.run_id, 500)}")
    blocks: list[Block] = [
        ContextBlock(elements=[mrkdwn(AGENT_HEADER)]),
        SectionBlock(fields=[mrkdwn(cut(f, FIELD_TEXT_MAX)) for f in fields]),
    ]
    blocks.extend(SectionBlock(text=mrkdwn(t)) for t in pack(context_lines(approval)))
    lines, args_cut = args_lines(approval, link)
    blocks.extend(SectionBlock(text=mrkdwn(t)) for t in pack(lines))
    sql_cut = False
    if approval.sql:
        sql, sql_cut = code_block(approval.sql, SECTION_TEXT_MAX - 60)
        if sql_cut:
            sql += f"\n_(SQL cut: {len(approval.sql):,} characters in all)_"
        blocks.append(SectionBlock(text=mrkdwn("*SQL*\n" + sql)))
    return blocks, args_cut or sql_cut


def approval_message(
    approval: Approval, link: str | None = None, rules: list[str] | None = None, now: datetime | None = None
) -> Message:
    """The whole message for an approval in its current state; fits Block Kit's limits for any input.
    `link` is the request's page on the dashboard, if there is one. Our own lines (risk, expiry, votes,
    buttons, outcome) sit above and below the agent's text, which is marked as the agent's."""
    question = is_question(approval)
    blocks: list[Block] = [
        HeaderBlock(text="An agent asks a question" if question else "Approval needed"),
        SectionBlock(block_id="summary", text=mrkdwn(summary_text(approval, now, rules))),
    ]
    if progress := quorum_text(approval):
        blocks.append(ContextBlock(elements=[mrkdwn(cut(progress, 3000))]))
    agent, was_cut = agent_blocks(approval, link)
    blocks.extend(agent)
    blocks.append(DividerBlock())
    if was_cut:
        blocks.append(
            ContextBlock(elements=[mrkdwn(":scissors: Cut to fit Slack. *View full request* shows everything.")])
        )
    if approval.status == Status.pending:
        blocks.append(question_buttons(approval.id) if question else decision_buttons(approval.id))
    else:
        blocks.extend(outcome_blocks(approval))
    if approval.risk_reasons and not question:
        blocks.append(ContextBlock(elements=[mrkdwn(risk_line(approval))]))
    blocks.append(footer(approval, link))
    return Message([b.to_dict() for b in blocks], fallback_text(approval))


def fallback_text(approval: Approval) -> str:
    """The notification text (Slack parses it as mrkdwn, with no verbatim switch): agent text in code."""
    state = "needs approval" if approval.status == Status.pending else approval.status.value
    return cut(
        f"[{approval.risk_level.value}] {code_span(approval.action, 100)} from "
        f"{code_span(approval.agent, 100)} {state}",
        FALLBACK_TEXT_MAX,
    )
