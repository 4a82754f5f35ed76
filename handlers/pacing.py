"""Paces posts per Slack channel (about one message a second, Slack's limit) across processes.

Each channel has an in-process queue worked in order; the send slot is reserved in Redis, so several
web processes sharing a channel still keep to the limit. A burst is spread out, not turned into 429s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.keys import Keys

log = logging.getLogger(__name__)
WaitTurn = Callable[[], Awaitable[None]]
# A post job gets `wait_turn` and awaits it right before calling Slack, so a job that finds nothing to post
# (the request was decided while queued) uses no slot.
PostJob = Callable[[WaitTurn], Awaitable[None]]

# Returns how many ms to wait before this process may post to the channel, and books the next slot.
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local booked = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, booked)
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], slot + interval, 'PX', slot + interval - now + 1000)
return slot - now
"""
# After a post returns (perhaps late, after retrying a 429): the next one waits a full interval from now.
_POSTED = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local next_slot = now + tonumber(ARGV[1])
if next_slot > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], next_slot, 'PX', tonumber(ARGV[1]) + 1000)
end
return 0
"""


class ChannelPacer:
    def __init__(self, redis: Redis, keys: Keys, interval_s: float = 1.0) -> None:
        self.keys = keys
        self.interval_s = interval_s
        self._reserve = redis.register_script(_RESERVE)
        self._posted = redis.register_script(_POSTED)
        self._queues: dict[str, asyncio.Queue[PostJob]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def submit(self, channel: str, job: PostJob) -> None:
        """Queue a post for `channel`; returns at once."""
        queue = self._queues.setdefault(channel, asyncio.Queue())
        queue.put_nowait(job)
        worker = self._workers.get(channel)
        if worker is None or worker.done():
            self._workers[channel] = asyncio.create_task(self._work(channel), name=f"slack-pace-{channel}")

    def backlog(self, channel: str) -> int:
        queue = self._queues.get(channel)
        return queue.qsize() if queue else 0

    async def _work(self, channel: str) -> None:
        queue = self._queues[channel]
        while not queue.empty():
            job = queue.get_nowait()
            took_turn = False

            async def wait_turn() -> None:
                nonlocal took_turn
                took_turn = True
                await self._wait_turn(channel)

            try:
                await job(wait_turn)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("posting to Slack channel %s failed", channel)
            if took_turn:
                with suppress(RedisError, OSError):
                    await self._posted(keys=[self._key(channel)], args=[int(self.interval_s * 1000)])

    def _key(self, channel: str) -> str:
        return self.keys.named(f"slack:pace:{channel}")

    async def _wait_turn(self, channel: str) -> None:
        wait_ms = await self._reserve(keys=[self._key(channel)], args=[int(self.interval_s * 1000)])
        if int(wait_ms) > 0:
            await asyncio.sleep(int(wait_ms) / 1000)  # pacing to Slack's rate limit, not polling

    async def idle(self) -> None:
        """Wait until every queued post has been sent (tests, shutdown)."""
        while workers := [w for w in self._workers.values() if not w.done()]:
            await asyncio.gather(*workers, return_exceptions=True)

    async def stop(self) -> None:
        for worker in self._workers.values():
            worker.cancel()
        for worker in self._workers.values():
            with suppress(asyncio.CancelledError):
                await worker
        self._workers.clear()
