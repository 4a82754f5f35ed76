"""Block Kit for standing grants: the "Approve & trust similar…" modal, the grant list with Revoke buttons
(`/approvals grants`, App Home) and the suggestions section. Agent text (action, agent, argument names and
values) is shown inert: code spans, and plain-text labels Slack never formats."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)

from blocks.approval import summary_line
from blocks.modals import form_view
from blocks.text import SECTION_TEXT_MAX, code_span, cut, mrkdwn, slack_date
from bot.grants import Grant
from bot.models import Approval

TRUST_CALLBACK = "trust_modal"
REVOKE_GRANT = "grant_revoke"
COND_BLOCK, COND_INPUT = "cond:{}", "cond_input"
DURATION_BLOCK, DURATION_INPUT = "duration", "duration_input"
USES_BLOCK, USES_INPUT = "max_uses", "max_uses_input"
COVERAGE_BLOCK = "coverage"
CONDITIONS_MAX = 40  # one input each; the modal holds 100 blocks
CONDITION_MAX = 2000
DURATION_CHOICES = (("1h", "1 hour"), ("8h", "8 hours"), ("24h", "24 hours"), ("7d", "7 days"))
GRANTS_SHOWN = 20


def coverage_text(covered: int | None) -> str:
    if covered is None:
        return ":hourglass: Counting how many of the last 30 days' requests this grant would have covered…"
    return f":bar_chart: As pre-filled, this grant would have covered *{covered}* of the last 30 days' requests."


def trust_modal(
    approval: Approval, prefill: dict[str, Any], metadata: str, covered: int | None = None
) -> dict[str, Any]:
    """Approve this request and grant ones like it. Each argument is a condition the approver may loosen
    (edit the JSON: `{"in": [...]}`, `{"lte": 10}`, `{"regex": "..."}`) or drop (empty: any value)."""
    conditions: list[tuple[str, Any]] = list(prefill["args"].items())[:CONDITIONS_MAX]
    blocks: list[Block] = [
        SectionBlock(
            text=mrkdwn(
                cut(
                    f"{summary_line(approval)}\nApprove it now, and approve future requests from this agent for this "
                    f"action, up to *{approval.risk_level.value}* risk, while every condition below holds.",
                    SECTION_TEXT_MAX,
                )
            )
        ),
        ContextBlock(block_id=COVERAGE_BLOCK, elements=[mrkdwn(coverage_text(covered))]),
    ]
    for n, (path, condition) in enumerate(conditions):
        blocks.append(
            InputBlock(
                block_id=COND_BLOCK.format(n),
                optional=True,
                label=cut(f"args.{path}", 150),
                hint="A condition as JSON; leave empty to allow any value.",
                element=PlainTextInputElement(
                    action_id=COND_INPUT,
                    max_length=CONDITION_MAX,
                    initial_value=cut(json.dumps(condition), CONDITION_MAX),
                ),
            )
        )
    options = [Option(value=value, text=label) for value, label in DURATION_CHOICES]
    blocks.append(
        InputBlock(
            block_id=DURATION_BLOCK,
            label="For how long",
            element=StaticSelectElement(action_id=DURATION_INPUT, options=options, initial_option=options[2]),
        )
    )
    blocks.append(
        InputBlock(
            block_id=USES_BLOCK,
            label="At most this many uses (optional)",
            optional=True,
            element=PlainTextInputElement(action_id=USES_INPUT, max_length=7),
        )
    )
    return form_view(TRUST_CALLBACK, metadata, "Approve & trust", "Approve & trust", blocks)


def grant_line(grant: Grant, now: datetime) -> str:
    uses = f"{grant.uses}/{grant.max_uses}" if grant.max_uses else str(grant.uses)
    conditions = ", ".join(
        code_span(f"{path}: {json.dumps(c.model_dump(by_alias=True, exclude_none=True))}", 120)
        for path, c in list(grant.args.items())[:5]
    )
    return cut(
        f"{code_span(grant.action, 100)} from {code_span(grant.agent, 100)} · up to "
        f"*{grant.max_level.value}* · uses {uses} · until {slack_date(grant.expires_at)}"
        + (f"\n{conditions}" if conditions else "")
        + f"\n`{grant.id}`",
        SECTION_TEXT_MAX,
    )


def grant_blocks(grants: list[Grant], now: datetime, shown: int = GRANTS_SHOWN) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text="Standing grants")]
    if not grants:
        blocks.append(SectionBlock(text=mrkdwn("No active grants: every request goes to people.")))
    for grant in grants[:shown]:
        blocks.append(
            SectionBlock(
                text=mrkdwn(grant_line(grant, now)),
                accessory=ButtonElement(text="Revoke", action_id=REVOKE_GRANT, value=grant.id, style="danger"),
            )
        )
    if len(grants) > shown:
        blocks.append(ContextBlock(elements=[mrkdwn(f"…and {len(grants) - shown} more on the dashboard.")]))
    return blocks


def suggestion_blocks(suggestions: list[dict[str, Any]], link: str | None) -> list[Block]:
    """What history suggests granting; nothing is applied until a person creates the grant."""
    blocks: list[Block] = [HeaderBlock(text="Suggested grants")]
    if not suggestions:
        blocks.append(SectionBlock(text=mrkdwn("No suggestions: nothing was approved often enough unchanged.")))
    for suggestion in suggestions[:5]:
        evidence = suggestion["evidence"]
        blocks.append(
            SectionBlock(
                text=mrkdwn(
                    cut(
                        f"{code_span(suggestion['action'], 100)} from {code_span(suggestion['agent'], 100)}: approved "
                        f"{evidence['count']} times, never rejected or changed",
                        SECTION_TEXT_MAX,
                    )
                )
            )
        )
    if suggestions and link:
        blocks.append(
            ActionsBlock(
                elements=[ButtonElement(text="Review on the Trust page", url=link, action_id="grant_suggestions_open")]
            )
        )
    return blocks


def grants_message(grants: list[Grant], now: datetime) -> dict[str, Any]:
    blocks = grant_blocks(grants, now)
    return {"blocks": [b.to_dict() for b in blocks[:50]], "text": f"{len(grants)} standing grant(s)"}
