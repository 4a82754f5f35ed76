"""Reads for the queue views, all through the service: what a person may decide, recent decisions, stats."""

from __future__ import annotations

from datetime import datetime, time

from bot.models import Approval
from bot.service import Decider
from bot.stats import Stats
from bot.summary import urgency_key
from handlers.channel import SlackChannel


async def decidable_pending(slack: SlackChannel, decider: Decider, limit: int = 500) -> list[Approval]:
    """Pending requests this person may decide, most urgent first (the service's rules decide who may)."""
    return sorted((await slack.service.decidable_by(decider, limit)).items, key=urgency_key)


async def recent_decisions(slack: SlackChannel, limit: int = 10) -> list[Approval]:
    return await slack.service.recent_decisions(limit)


async def today_stats(slack: SlackChannel) -> Stats:
    """The dashboard's figures (bot/stats.py) since midnight UTC: pending, decisions, median, per approver."""
    now = slack.runtime.clock.now()
    return await slack.service.stats(datetime.combine(now.date(), time(0), tzinfo=now.tzinfo))
