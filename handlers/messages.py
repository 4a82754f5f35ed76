"""Where each approval's Slack messages live: the Redis hash `slack:msg:<id>` (channel ID → ts), named in
handlers/keys.py. handlers/reminders.py (run by the escalation job) replies in these threads.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.keys import Keys
from handlers import keys as slack_keys


class MessageLocations:
    def __init__(self, redis: Redis, keys: Keys, retention_s: int) -> None:
        self.redis = redis
        self.keys = keys
        self.retention_s = retention_s

    def key(self, approval_id: str) -> str:
        return slack_keys.messages(self.keys, approval_id)

    async def add(self, approval_id: str, channel: str, ts: str) -> None:
        key = self.key(approval_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, channel, ts)
            pipe.expire(key, self.retention_s)
            await pipe.execute()

    async def remember_channel(self, name: str, channel_id: str) -> None:
        """`#name` → channel ID, learnt from a post, so members of a channel can be looked up by name."""
        await self.redis.hset(slack_keys.channel_ids(self.keys), name.lower(), channel_id)

    async def channel_id(self, target: str) -> str | None:
        if not target.startswith("#"):
            return target
        raw = await self.redis.hget(slack_keys.channel_ids(self.keys), target.lower())
        return None if raw is None else str(raw)

    async def all(self, approval_id: str) -> dict[str, str]:
        raw = await self.redis.hgetall(self.key(approval_id))
        return {str(k): str(v) for k, v in raw.items()}
