"""Reads for the queue views: pending requests a person may decide, recent decisions, today's stats."""

from __future__ import annotations

import json
import statistics
from datetime import datetime, time, timedelta

from bot.clock import to_ms
from bot.models import Approval, Status
from bot.service import Decider, time_to_decision
from bot.summary import urgency_key
from handlers.channel import SlackChannel

MAX_SCAN = 1000
STATS_MAX = 5000


async def decidable_pending(slack: SlackChannel, decider: Decider, limit: int = 500) -> list[Approval]:
    """Pending requests this person may decide, most urgent first (the service's rules decide who may)."""
    store, service = slack.runtime.store, slack.service
    found: list[Approval] = []
    cursor: str | None = None
    scanned = 0
    while len(found) < limit and scanned < MAX_SCAN:
        page, cursor = await store.page(store.keys.pending, 100, cursor, Status.pending)
        scanned += len(page)
        for stored in page:
            if await service.may_decide(stored, decider) is None:
                found.append(await service.for_humans(stored.approval))
        if cursor is None or not page:
            break
    return sorted(found, key=urgency_key)[:limit]


async def recent_decisions(slack: SlackChannel, limit: int = 10) -> list[Approval]:
    store = slack.runtime.store
    page, _ = await store.page(store.keys.all, limit * 5, None, None)
    return [await slack.service.for_humans(s.approval)
            for s in page if s.approval.status != Status.pending][:limit]


async def today_stats(slack: SlackChannel) -> tuple[int, int, timedelta | None]:
    """(pending, human decisions since midnight UTC, median time to those decisions)."""
    runtime = slack.runtime
    pending = sum((await runtime.store.pending_by_level()).values())
    now = runtime.clock.now()
    midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    decided: list[str] = []
    async for _entry_id, fields in runtime.audit.raw_entries(since_ms=to_ms(midnight)):
        entry = json.loads(fields.get("body") or "{}")
        if entry.get("type") == "decision" and (entry.get("actor") or {}).get("channel") != "policy":
            decided.append(str(entry.get("approval_id") or ""))
            if len(decided) >= STATS_MAX:
                break
    durations = [
        d
        for s in await runtime.store.get_many([i for i in decided if i])
        if (d := time_to_decision(s.approval)) is not None
    ]
    median = timedelta(seconds=statistics.median(d.total_seconds() for d in durations)) if durations else None
    return pending, len(decided), median
