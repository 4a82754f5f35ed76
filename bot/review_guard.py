"""The rubber-stamp guard: an approve that comes sooner than the level's `min_review_s` after the decider
was shown the request is refused (and audited); modify and reject never wait.

Shown means the request's creation for the API and the dashboard, and its message's posting for Slack:
the Slack adapter reports that time here (`mark_shown`), so the rule itself lives in the core once."""

from __future__ import annotations

import math
from datetime import datetime

from redis.asyncio import Redis

from bot.clock import from_ms, to_ms
from bot.keys import Keys
from bot.models import Outcome
from bot.store import StoredApproval


class ReviewGuard:
    def __init__(self, redis: Redis, keys: Keys, retention_s: int) -> None:
        self.redis = redis
        self.keys = keys
        self.retention_s = retention_s

    def _key(self, approval_id: str) -> str:
        return self.keys.named(f"shown:{approval_id}")

    async def mark_shown(self, approval_id: str, channel: str, at: datetime) -> None:
        """The first time a channel showed the request (the first Slack post of it)."""
        key = self._key(approval_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, channel, to_ms(at))
            pipe.expire(key, self.retention_s)
            await pipe.execute()

    async def shown_at(self, stored: StoredApproval, channel: str) -> datetime:
        created = stored.approval.created_at
        if channel != "slack":
            return created
        raw = await self.redis.hget(self._key(stored.approval.id), channel)
        return max(created, from_ms(int(raw))) if raw else created

    async def wait_left(self, stored: StoredApproval, channel: str, outcome: Outcome, now: datetime) -> float:
        """Seconds this approve must still wait; 0 when it may go ahead."""
        min_review_s = float(stored.route.min_review_s or 0)
        if outcome != "approve" or min_review_s <= 0:
            return 0.0
        seen_for = (now - await self.shown_at(stored, channel)).total_seconds()
        return max(0.0, min_review_s - seen_for)


def too_soon_text(seen_for_s: float, wait_s: float, channel: str) -> str:
    shown = "posted" if channel == "slack" else "filed"
    return (
        f"{shown} {max(0, math.floor(seen_for_s))} s ago — take a moment: read what it does, then approve "
        f"again in {math.ceil(wait_s)} s"
    )
