"""Approval-fatigue figures from the audit trail: time to decision, who decides, how fast, how much auto.

The one stats computation: the dashboard's /stats and Slack's `/approvals stats` both show these figures
(through ApprovalService.stats)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

FAST = timedelta(seconds=10)  # a human approval this soon after arrival was probably not read
MAX_ENTRIES = 200_000  # audit entries one computation reads at most
FATIGUE_MIN = 20  # below this many human approvals a share of quick ones says nothing
FATIGUE_SHARE = 0.3


@dataclass
class ApproverFigures:
    approver: str
    decisions: int = 0
    approvals: int = 0
    rejections: int = 0
    modifications: int = 0
    fast_approvals: int = 0
    median_s: float | None = None
    high_approvals: int = 0  # approvals of high and critical requests, and those sooner than FAST
    fast_high_approvals: int = 0

    @property
    def approve_share(self) -> float | None:
        return self.approvals / self.decisions if self.decisions else None

    @property
    def fast_high_share(self) -> float | None:
        return self.fast_high_approvals / self.high_approvals if self.high_approvals else None


@dataclass
class Stats:
    created: int = 0
    auto_approved: int = 0
    auto_rejected: int = 0
    grant_approved: int = 0  # requests a standing grant approved instead of a person
    human_decisions: int = 0
    expired: int = 0
    cancelled: int = 0
    fast_approvals: int = 0
    human_approvals: int = 0
    key_decisions: int = 0  # made with an approver API key (scripts, tools): not people, counted apart
    median_s: float | None = None
    p90_s: float | None = None
    approvers: list[ApproverFigures] = field(default_factory=list)
    pending: dict[str, int] = field(default_factory=dict)  # by risk level, now
    capped: bool = False  # the window held more entries than were read (MAX_ENTRIES)

    @property
    def pending_total(self) -> int:
        return sum(self.pending.values())

    @property
    def auto_share(self) -> float | None:
        return self.auto_approved / self.created if self.created else None

    @property
    def fast_share(self) -> float | None:
        return self.fast_approvals / self.human_approvals if self.human_approvals else None

    @property
    def fatigued(self) -> bool:
        """Whether the quick-approval share is worth a warning: enough approvals, and many quick."""
        share = self.fast_share
        return self.human_approvals >= FATIGUE_MIN and share is not None and share > FATIGUE_SHARE


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def compute(bodies: Iterable[str]) -> Stats:  # noqa: C901 -- one fold over the audit, a branch per entry type
    """Fold audit entry bodies (canonical JSON, oldest first) into the dashboard's figures."""
    stats = Stats()
    created: dict[str, datetime] = {}
    levels: dict[str, str] = {}
    human_times: list[float] = []
    per: dict[str, ApproverFigures] = {}
    per_times: dict[str, list[float]] = defaultdict(list)
    kinds: Counter[str] = Counter()
    for body_text in bodies:
        body = json.loads(body_text)
        kind, approval_id = body.get("type"), body.get("approval_id")
        kinds[kind] += 1
        if kind == "created" and approval_id:
            created[approval_id] = _at(body["at"])
            levels[approval_id] = (body.get("detail") or {}).get("risk_level", "")
            stats.created += 1
        elif kind == "decision":
            actor, detail = body.get("actor") or {}, body.get("detail") or {}
            outcome = detail.get("outcome")
            if actor.get("channel") == "policy":
                if outcome == "approve":
                    stats.auto_approved += 1
                else:
                    stats.auto_rejected += 1
                continue
            if actor.get("channel") == "grant":
                stats.grant_approved += 1
                continue
            if actor.get("channel") == "api":  # approver API keys: decisions, but not a person's
                stats.key_decisions += 1
                continue
            who = f"{actor.get('id')} ({actor.get('channel')})"
            figures = per.setdefault(who, ApproverFigures(who))
            figures.decisions += 1
            stats.human_decisions += 1
            figures.approvals += outcome == "approve"
            figures.rejections += outcome == "reject"
            figures.modifications += outcome == "modify"
            started = created.get(approval_id or "")
            if started is None:
                continue
            seconds = (_at(body["at"]) - started).total_seconds()
            human_times.append(seconds)
            per_times[who].append(seconds)
            if outcome in ("approve", "modify"):
                stats.human_approvals += 1
                if seconds < FAST.total_seconds():
                    stats.fast_approvals += 1
                    figures.fast_approvals += 1
                if levels.get(approval_id or "") in ("high", "critical"):
                    figures.high_approvals += 1
                    figures.fast_high_approvals += seconds < FAST.total_seconds()
    stats.expired, stats.cancelled = kinds["expired"], kinds["cancelled"]
    human_times.sort()
    stats.median_s, stats.p90_s = percentile(human_times, 0.5), percentile(human_times, 0.9)
    for who, figures in per.items():
        figures.median_s = percentile(sorted(per_times[who]), 0.5)
    stats.approvers = sorted(per.values(), key=lambda f: -f.decisions)
    return stats
