"""The approval message: context, arguments, risk, expiry and buttons; after a decision, the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.text import (
    FALLBACK_TEXT_MAX,
    FIELD_TEXT_MAX,
    HEADER_TEXT_MAX,
    SECTION_TEXT_MAX,
    code_block,
    cut,
    escape,
    person,
    pretty_json,
    slack_date,
)
from bot.models import Approval, RiskLevel, Status

APPROVE = "approval_approve"
REJECT = "approval_reject"
MODIFY = "approval_modify"
VIEW = "approval_view"
ANSWER = "approval_answer"


def is_question(approval: Approval) -> bool:
    """A question (filed through /v1/questions or a HumanLayer contact): answered with free text. The kind
    is stored by the route; nothing in the agent's context can make an action look like a question."""
    return approval.kind == "question"


def question_buttons(approval_id: str) -> ActionsBlock:
    return ActionsBlock(block_id=f"answer:{approval_id}", elements=[
        ButtonElement(text="Answer", action_id=ANSWER, value=approval_id, style="primary"),
        ButtonElement(text="Decline", action_id=REJECT, value=approval_id),
    ])
ACTION_IDS = (APPROVE, REJECT, MODIFY, VIEW)

RISK_BADGE = {
    RiskLevel.low: ":large_green_circle: LOW RISK",
    RiskLevel.medium: ":large_yellow_circle: MEDIUM RISK",
    RiskLevel.high: ":large_orange_circle: HIGH RISK",
    RiskLevel.critical: ":red_circle: CRITICAL RISK",
}
OUTCOME_LINE = {
    Status.approved: ":white_check_mark: *Approved*",
    Status.rejected: ":no_entry: *Rejected*",
    Status.expired: ":hourglass: *Expired*",
    Status.cancelled: ":heavy_multiplication_x: *Cancelled*",
}
_PAST = {"approve": "approved", "reject": "rejected", "modify": "modified"}
_CONTEXT_LABELS = {"why": "Why", "affected": "Affected", "alternatives": "Alternatives"}


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
    if with_view:
        buttons.append(ButtonElement(text="View full request", action_id=VIEW, value=approval_id))
    return ActionsBlock(block_id=f"decide:{approval_id}", elements=buttons)


def summary_line(approval: Approval) -> str:
    return f"{RISK_BADGE[approval.risk_level]} · `{escape(approval.action)}` from *{escape(approval.agent)}*"


def context_text(approval: Approval) -> str:
    lines = []
    context = dict(approval.context)
    for key, label in _CONTEXT_LABELS.items():
        if context.get(key):
            lines.append(f"*{label}:* {escape(str(context.pop(key)))}")
        else:
            context.pop(key, None)
    reversible = context.pop("reversible", None)
    if reversible is not None:
        lines.append("*Reversible:* " + ("yes" if reversible else ":warning: *no*"))
    for key, value in context.items():
        shown = value if isinstance(value, str) else pretty_json(value)
        lines.append(f"*{escape(str(key))}:* {escape(shown)}")
    return "\n".join(lines)


def args_section(approval: Approval) -> tuple[SectionBlock, bool]:
    text, was_cut = code_block(pretty_json(approval.args), SECTION_TEXT_MAX - 20)
    return SectionBlock(text=MarkdownTextObject(text="*Arguments*\n" + text)), was_cut


def args_diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What a modify changed, one line per top-level argument."""
    lines = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            lines.append(f"• `{escape(key)}` removed (was `{escape(cut(pretty_json(before[key]), 200))}`)")
        elif key not in before:
            lines.append(f"• `{escape(key)}` added: `{escape(cut(pretty_json(after[key]), 200))}`")
        elif before[key] != after[key]:
            lines.append(
                f"• `{escape(key)}`: `{escape(cut(pretty_json(before[key]), 200))}` → "
                f"`{escape(cut(pretty_json(after[key]), 200))}`"
            )
    return "\n".join(lines) or "no change"


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
        return [SectionBlock(text=MarkdownTextObject(text=line))]
    if approval.status == Status.approved and decision.outcome == "modify":
        line = ":pencil2: *Approved with changes*"
    if approval.status == Status.expired:
        text = f"{line} {slack_date(decision.at)}: nobody decided in time, so it is *{_PAST[decision.outcome]}*"
    else:
        text = f"{line} by {person(decision.by)} {slack_date(decision.at)}"
    if decision.comment:
        text += f"\n> {escape(cut(decision.comment, 1500))}"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=cut(text, SECTION_TEXT_MAX)))]
    if decision.outcome == "modify" and decision.args is not None:
        diff = cut("*Changed arguments*\n" + args_diff(approval.args, decision.args), SECTION_TEXT_MAX)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=diff)))
    return blocks


def footer(approval: Approval, link: str | None) -> ContextBlock:
    text = f"<{link}|Open in the dashboard> · `{approval.id}`" if link else f"`{approval.id}`"
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def approval_message(approval: Approval, link: str | None = None) -> Message:
    """The whole message for an approval in its current state; fits Block Kit's limits for any input.
    `link` is the request's page on the dashboard, if there is one."""
    blocks: list[Block] = [
        HeaderBlock(text=cut("An agent asks a question" if is_question(approval) else f"Approve {approval.action}?",
                             HEADER_TEXT_MAX)),
        SectionBlock(text=MarkdownTextObject(text=cut(summary_line(approval), SECTION_TEXT_MAX))),
    ]
    fields = [f"*Agent*\n{escape(cut(approval.agent, 500))}", f"*Expires*\n{slack_date(approval.expires_at)}"]
    if approval.requested_by:
        fields.append(f"*Requested by*\n{escape(cut(approval.requested_by, 500))}")
    if approval.run_id:
        fields.append(f"*Run*\n`{escape(cut(approval.run_id, 500))}`")
    blocks.append(SectionBlock(fields=[cut(f, FIELD_TEXT_MAX) for f in fields]))
    if context := context_text(approval):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=cut(context, SECTION_TEXT_MAX))))
    section, args_cut = args_section(approval)
    blocks.append(section)
    sql_cut = False
    if approval.sql:
        sql, sql_cut = code_block(approval.sql, SECTION_TEXT_MAX - 20)
        blocks.append(SectionBlock(text=MarkdownTextObject(text="*SQL*\n" + sql)))
    if args_cut or sql_cut:
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=":scissors: Cut to fit Slack. *View full request* shows everything.")]
            )
        )
    if approval.risk_reasons:
        reasons = "; ".join(escape(r) for r in approval.risk_reasons)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=cut(f"Risk: {reasons}", 3000))]))
    if progress := quorum_text(approval):
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=cut(progress, 3000))]))
    blocks.append(DividerBlock())
    if approval.status == Status.pending:
        blocks.append(question_buttons(approval.id) if is_question(approval) else decision_buttons(approval.id))
    else:
        blocks.extend(outcome_blocks(approval))
    blocks.append(footer(approval, link))
    return Message([b.to_dict() for b in blocks], fallback_text(approval))


def fallback_text(approval: Approval) -> str:
    state = "needs approval" if approval.status == Status.pending else approval.status.value
    return cut(f"[{approval.risk_level.value}] {approval.action} from {approval.agent} {state}", FALLBACK_TEXT_MAX)
