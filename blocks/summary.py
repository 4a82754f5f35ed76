"""The summary every Slack surface shows first (bot/summary.py's data, agent values in inert code)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from blocks.text import code_span, cut, slack_date
from bot.models import Approval, RiskLevel
from bot.summary import Change, summarize

REASONS_MAX = 6
RISK_BADGE = {
    RiskLevel.low: ":large_green_circle: LOW RISK",
    RiskLevel.medium: ":large_yellow_circle: MEDIUM RISK",
    RiskLevel.high: ":large_orange_circle: HIGH RISK",
    RiskLevel.critical: ":red_circle: CRITICAL RISK",
}


def summary_text(approval: Approval, now: datetime | None = None, rules: list[str] | None = None) -> str:
    """Level, what, amount, what it affects, undo, who asked, when it expires, and why in words."""
    facts = summarize(approval, now or datetime.now(UTC), rules)

    what = (
        f"*Question:* {code_span(facts.question or '', 500)}"
        if facts.kind == "question"
        else f"*{_plain(facts.action_words)}* {code_span(facts.action, 120)}"
    )
    lines = [f"{RISK_BADGE[approval.risk_level]} · {what}"]
    if facts.amount:
        lines.append(f"*Amount:* {code_span(facts.amount, 80)}")
    if facts.affected:
        lines.append(f"*Affects:* {code_span(facts.affected, 300)}")
    if facts.kind != "question":
        lines.append(
            "*Undo:* " + {True: "reversible", False: ":warning: *NOT reversible*", None: "not stated"}[facts.reversible]
        )
    asked = code_span(facts.agent, 100) + (f" for {code_span(facts.on_behalf_of, 100)}" if facts.on_behalf_of else "")
    lines.append(f"*Asked by:* {asked}")
    if facts.status == "pending":
        lines.append(f"*Left:* {facts.left_words} (expires {slack_date(approval.expires_at)})")
    if facts.reasons and facts.kind != "question":
        shown = facts.reasons[:REASONS_MAX]
        lines.append(
            "*Why it needs you:* "
            + "; ".join(code_span(r, 300) for r in shown)
            + (f" and {len(facts.reasons) - REASONS_MAX} more" if len(facts.reasons) > REASONS_MAX else "")
        )
    return cut("\n".join(lines), 3000)


def _plain(words: str) -> str:
    """Action words are agent text: shown bold only when they hold nothing mrkdwn would read."""
    return words if words.replace(" ", "").replace(":", "").replace(".", "").isalnum() else "Action"


def changes_text(found: list[Change], limit: int = 2800) -> str:
    """What a modify changed, one line per field (nested fields by path, in path order), values in code."""
    lines = []
    for change in sorted(found, key=lambda c: c.path):
        path = code_span(change.path or '""', 200)
        if change.change == "removed":
            lines.append(f"• {path} removed (was {_json_span(change.old)})")
        elif change.change == "added":
            lines.append(f"• {path} added: {_json_span(change.new)}")
        else:
            lines.append(f"• {path}: {_json_span(change.old)} → {_json_span(change.new)}")
    return cut("\n".join(lines), limit) if lines else "no change"


def _json_span(value: object) -> str:
    return code_span(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str), 200)
