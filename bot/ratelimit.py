"""Counters in Redis that refuse a subject (a client address, a phone number) after too many hits in a window."""

from __future__ import annotations

import hashlib
import math

from redis.asyncio import Redis

from bot.keys import Keys


class WindowLimit:
    """At most `limit` hits per subject in a window that opens at the subject's first hit and lasts
    `window_s`. Shared by every process through Redis; the window's TTL is set in the same transaction
    as the first hit, so a crash can never leave a subject refused for ever."""

    def __init__(self, redis: Redis, keys: Keys, name: str, limit: int, window_s: int) -> None:
        self.redis, self.keys, self.name, self.limit, self.window_s = redis, keys, name, limit, window_s

    def _key(self, subject: str) -> str:
        # Hashed: a subject is client-chosen text (a header, a phone number) and must not shape the key.
        digest = hashlib.sha256(subject.encode("utf-8", "replace")).hexdigest()[:32]
        return self.keys.named(f"limit:{self.name}:{digest}")

    async def hit(self, subject: str) -> int | None:
        """Count one hit; None while within the limit, else the seconds until the window closes."""
        key = self._key(subject)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=self.window_s, nx=True)
            pipe.incr(key)
            pipe.pttl(key)
            _, count, ttl_ms = await pipe.execute()
        return None if int(count) <= self.limit else _seconds(ttl_ms, self.window_s)

    async def refused(self, subject: str) -> int | None:
        """Without counting: None if the subject may go on, else the seconds until it may."""
        key = self._key(subject)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.pttl(key)
            count, ttl_ms = await pipe.execute()
        return None if count is None or int(count) < self.limit else _seconds(ttl_ms, self.window_s)


def _seconds(ttl_ms: int, window_s: int) -> int:
    return max(1, math.ceil(int(ttl_ms) / 1000)) if int(ttl_ms) > 0 else window_s
