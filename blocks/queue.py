"""The pending queue (slash command, paged) and the App Home tab."""

from __future__ import annotations

import math
from datetime import timedelta
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
from slack_sdk.models.views import View

from blocks.approval import OUTCOME_LINE, decision_buttons, summary_line
from blocks.text import (
    MESSAGE_BLOCKS_MAX,
    SECTION_TEXT_MAX,
    VIEW_BLOCKS_MAX,
    code_block,
    code_span,
    cut,
    mrkdwn,
    person,
    slack_date,
)
from bot.models import Approval
from bot.stats import FAST, Stats
from bot.summary import summarize

PAGE_SIZE = 15  # three blocks each: 45 + header, nav and context stays under 50
HOME_PENDING = 20
HOME_RECENT = 10
PAGE_ACTION = "queue_page"


def _pending_item(approval: Approval) -> list[Block]:
    text = f"{summary_line(approval)} · expires {slack_date(approval.expires_at)}"
    facts = summarize(approval, approval.created_at)
    if facts.amount:
        text += f" · *Amount:* {code_span(facts.amount, 80)}"
    if facts.reversible is False:
        text += " · :warning: *NOT reversible*"
    why = approval.context.get("why")
    if why:
        text += "\n" + code_block(str(why), 600)[0]
    return [
        SectionBlock(block_id=f"queue:{approval.id}", text=mrkdwn(cut(text, SECTION_TEXT_MAX))),
        decision_buttons(approval.id, with_modify=False),
        DividerBlock(),
    ]


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, math.ceil(total / size))


def queue_page(approvals: list[Approval], page: int) -> list[dict[str, Any]]:
    """One page of the pending requests a person may decide; `approvals` is the whole list."""
    pages = page_count(len(approvals))
    page = min(max(page, 0), pages - 1)
    shown = approvals[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    blocks: list[Block] = [HeaderBlock(text="Waiting for you")]
    if not approvals:
        blocks.append(SectionBlock(text=":tada: Nothing is waiting for your decision."))
    for approval in shown:
        blocks.extend(_pending_item(approval))
    if approvals:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"Page {page + 1} of {pages} · {len(approvals)} pending")])
        )
    nav = []
    if page > 0:
        nav.append(ButtonElement(text="◀ Previous", action_id=f"{PAGE_ACTION}_prev", value=str(page - 1)))
    if page < pages - 1:
        nav.append(ButtonElement(text="Next ▶", action_id=f"{PAGE_ACTION}_next", value=str(page + 1)))
    if nav:
        blocks.append(ActionsBlock(block_id="queue_nav", elements=nav))
    return [b.to_dict() for b in blocks[:MESSAGE_BLOCKS_MAX]]


def _recent_item(approval: Approval) -> Block:
    line = OUTCOME_LINE.get(approval.status, approval.status.value)
    text = f"{line} {code_span(approval.action)} from {code_span(approval.agent)}"
    if approval.decision:
        text += f" by {person(approval.decision.by)} {slack_date(approval.decision.at)}"
    return SectionBlock(text=mrkdwn(cut(text, SECTION_TEXT_MAX)))


def home_view(pending: list[Approval], recent: list[Approval]) -> dict[str, Any]:
    """The App Home tab: the person's queue, then the latest decisions; within 100 blocks."""
    blocks: list[Block] = [HeaderBlock(text="Waiting for your decision")]
    if not pending:
        blocks.append(SectionBlock(text=":tada: Nothing is waiting for your decision."))
    for approval in pending[:HOME_PENDING]:
        blocks.extend(_pending_item(approval))
    if len(pending) > HOME_PENDING:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"…and {len(pending) - HOME_PENDING} more: type `/approvals` to page through them."
                    )
                ]
            )
        )
    blocks.append(HeaderBlock(text="Latest decisions"))
    if not recent:
        blocks.append(SectionBlock(text="No decisions yet."))
    blocks.extend(_recent_item(a) for a in recent[:HOME_RECENT])
    return View(type="home", blocks=blocks[:VIEW_BLOCKS_MAX]).to_dict()


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return "n/a"
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _seconds(value: float | None) -> str:
    return _duration(None if value is None else timedelta(seconds=value))


STATS_APPROVERS_MAX = 20  # one section each; the message stays well under Slack's 50 blocks


def stats_blocks(figures: Stats) -> list[dict[str, Any]]:
    """Today's figures (bot/stats.py, the dashboard's /stats): totals, then one line per approver."""
    blocks: list[Block] = [
        HeaderBlock(text="Approvals"),
        SectionBlock(
            fields=[
                f"*Pending*\n{figures.pending_total}",
                f"*Decisions today (UTC)*\n{figures.human_decisions}",
                f"*Median time to decision (today)*\n{_seconds(figures.median_s)}",
                f"*Approved by a grant instead*\n{figures.grant_approved}",
            ]
        ),
    ]
    ranked = sorted(figures.approvers, key=lambda f: -f.decisions)
    if ranked:
        blocks.append(SectionBlock(text=mrkdwn("*Per approver (today)*")))
    for approver in ranked[:STATS_APPROVERS_MAX]:
        quick = (
            f"{_share(approver.fast_high_share)} of {approver.high_approvals}"
            if approver.high_approvals
            else "none approved"
        )
        blocks.append(
            SectionBlock(
                text=mrkdwn(
                    f"{code_span(approver.approver, 80)} · {approver.decisions} decisions · "
                    f"median {_seconds(approver.median_s)} · approves {_share(approver.approve_share)} · "
                    f"high/critical approved under {int(FAST.total_seconds())} s: {quick}"
                )
            )
        )
    if len(ranked) > STATS_APPROVERS_MAX:
        blocks.append(
            ContextBlock(elements=[mrkdwn(f"{len(ranked) - STATS_APPROVERS_MAX} more on the dashboard's /stats")])
        )
    if figures.fatigued:
        blocks.append(
            SectionBlock(
                text=mrkdwn(
                    f":warning: {_share(figures.fast_share)} of {figures.human_approvals} approvals came within "
                    f"{int(FAST.total_seconds())} s of the request arriving: they may not have been read."
                )
            )
        )
    return [b.to_dict() for b in blocks]


HELP_TEXT = (
    "*/approvals* — the pending requests you may decide (only you see it)\n"
    "*/approvals stats* — pending count, decisions today, median time to decision, per-approver figures\n"
    "*/approvals grants* — the standing grants, with Revoke buttons\n"
    "*/approvals help* — this help\n"
    "Open the app's *Home* tab for your queue and the latest decisions."
)


def help_blocks() -> list[dict[str, Any]]:
    return [SectionBlock(text=MarkdownTextObject(text=HELP_TEXT)).to_dict()]
