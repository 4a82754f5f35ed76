"""Block Kit for a digest: one message standing for a burst of requests to one channel, grouped by agent
and action (count, highest level, earliest expiry), with Review / Approve all in group… / Post individually.
Agent text (agent, action, arguments) is shown only through the inert helpers of blocks/text.py and the
rows of bot/display.py, in requests already masked for people (service.for_humans)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    PlainTextInputElement,
    SectionBlock,
)

from blocks.approval import RISK_BADGE
from blocks.modals import form_view
from blocks.text import (
    MESSAGE_BLOCKS_MAX,
    SECTION_TEXT_MAX,
    agent_rows,
    code_span,
    cut,
    mrkdwn,
    slack_date,
)
from bot.display import arg_rows
from bot.models import Approval, RiskLevel, Status

DIGEST_REVIEW = "digest_review"
DIGEST_APPROVE_GROUP = "digest_approve_group"
DIGEST_POST_INDIVIDUALLY = "digest_post_individually"
GROUP_CALLBACK = "digest_group_modal"
GROUP_REASON_BLOCK, GROUP_REASON_INPUT = "group_reason", "group_reason_input"
GROUPS_SHOWN = 12  # each group is 2 blocks; a message holds 50
MODAL_ITEMS = 40


@dataclass
class Group:
    agent: str
    action: str
    approvals: list[Approval] = field(default_factory=list)

    @property
    def key(self) -> str:
        # A button value names the group by digest, never by agent text.
        return hashlib.sha256(f"{self.agent}\0{self.action}".encode()).hexdigest()[:16]

    @property
    def level(self) -> RiskLevel:
        return RiskLevel.highest([a.risk_level for a in self.approvals])

    @property
    def needs_reason(self) -> bool:
        return self.level.rank >= RiskLevel.high.rank


def groups_of(approvals: list[Approval]) -> list[Group]:
    """Pending requests grouped by (agent, action): most urgent level first, then soonest expiry."""
    groups: dict[tuple[str, str], Group] = {}
    for approval in approvals:
        if approval.status == Status.pending:
            groups.setdefault(
                (approval.agent, approval.action), Group(approval.agent, approval.action)
            ).approvals.append(approval)
    return sorted(groups.values(), key=lambda g: (-g.level.rank, min(a.expires_at for a in g.approvals)))


def review_link(base_url: str, group: Group) -> str:
    return f"{base_url}/?{urlencode({'agent': group.agent, 'action': group.action})}"


def digest_message(digest_id: str, approvals: list[Approval], base_url: str) -> dict[str, Any]:
    groups = groups_of(approvals)
    waiting = sum(len(g.approvals) for g in groups)
    decided = len(approvals) - waiting
    blocks: list[Block] = [
        HeaderBlock(text=f"{waiting} requests waiting" if waiting else "Digest: all decided"),
        SectionBlock(
            text=mrkdwn(
                f"A burst of {len(approvals)} requests arrived here, so they are grouped in this one message "
                f"instead of {len(approvals)} posts." + (f" {decided} decided since." if decided else "")
            )
        ),
    ]
    for group in groups[:GROUPS_SHOWN]:
        soonest = min(a.expires_at for a in group.approvals)
        blocks.append(
            SectionBlock(
                text=mrkdwn(
                    cut(
                        f"{RISK_BADGE[group.level]} · *{len(group.approvals)}* × {code_span(group.action, 150)} from "
                        f"{code_span(group.agent, 150)} · first expires {slack_date(soonest)}",
                        SECTION_TEXT_MAX,
                    )
                )
            )
        )
        value = f"{digest_id}:{group.key}"
        blocks.append(
            ActionsBlock(
                block_id=f"group:{group.key}",
                elements=[
                    ButtonElement(
                        text="Review", action_id=DIGEST_REVIEW, url=review_link(base_url, group), value=value
                    ),
                    ButtonElement(
                        text="Approve all in group…", action_id=DIGEST_APPROVE_GROUP, value=value, style="primary"
                    ),
                ],
            )
        )
    if len(groups) > GROUPS_SHOWN:
        blocks.append(
            ContextBlock(
                elements=[mrkdwn(f"…and {len(groups) - GROUPS_SHOWN} more groups: review them on the dashboard.")]
            )
        )
    if waiting:
        blocks.append(DividerBlock())
        blocks.append(
            ActionsBlock(
                block_id="digest",
                elements=[ButtonElement(text="Post individually", action_id=DIGEST_POST_INDIVIDUALLY, value=digest_id)],
            )
        )
    blocks.append(ContextBlock(elements=[mrkdwn(f"digest `{digest_id}`")]))
    text = f"{waiting} approval requests waiting (digest)"
    return {"blocks": [b.to_dict() for b in blocks[:MESSAGE_BLOCKS_MAX]], "text": text}


def group_modal(group: Group, metadata: str) -> dict[str, Any]:
    """Confirm approving every request of a group; each goes through the same checks as a single approve."""
    blocks: list[Block] = [
        SectionBlock(
            text=mrkdwn(
                cut(
                    f"Approve *{len(group.approvals)}* requests: {code_span(group.action, 150)} from "
                    f"{code_span(group.agent, 150)}, up to {RISK_BADGE[group.level]}. "
                    "Each is checked as if you approved it alone (approvers, quorum, self-approval); "
                    "any you may not approve are skipped and listed.",
                    SECTION_TEXT_MAX,
                )
            )
        )
    ]
    for approval in group.approvals[:MODAL_ITEMS]:
        rows = agent_rows(arg_rows(approval, 120, 3))
        blocks.append(
            SectionBlock(
                text=mrkdwn(
                    cut(
                        f"`{approval.id}` · {approval.risk_level.value} · expires {slack_date(approval.expires_at)}\n"
                        + "\n".join(rows),
                        SECTION_TEXT_MAX,
                    )
                )
            )
        )
    if len(group.approvals) > MODAL_ITEMS:
        blocks.append(ContextBlock(elements=[mrkdwn(f"…and {len(group.approvals) - MODAL_ITEMS} more.")]))
    label = "Reason (required for high and critical)" if group.needs_reason else "Comment (optional)"
    blocks.append(
        InputBlock(
            block_id=GROUP_REASON_BLOCK,
            label=label,
            optional=not group.needs_reason,
            element=PlainTextInputElement(action_id=GROUP_REASON_INPUT, max_length=3000),
        )
    )
    return form_view(GROUP_CALLBACK, metadata, "Approve group", "Approve all", blocks)
