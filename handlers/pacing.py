"""Orders and paces posts per Slack channel: most urgent level first, round-robin across agents within a
level, about one message a second (Slack's limit), across processes.

Each channel's waiting posts live in a Redis sorted set scored by (level, the agent's turn): an agent's
n-th waiting post at a level gets turn n counted from the level's current turn, so one agent's burst of 60
posts interleaves with other agents' posts instead of going ahead of them, and a critical request waits
behind no lower one. The send slot is reserved in Redis too, so several web processes sharing a channel
keep to the limit. A burst is spread out, not turned into 429s.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.keys import Keys
from bot.models import RiskLevel
from handlers import keys as slack_keys

log = logging.getLogger(__name__)
WaitTurn = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class QueuedPost:
    """One request to post to one channel (the channel is the queue's)."""

    approval_id: str
    level: RiskLevel
    agent: str
    attempt: int = 0  # reposts after a failure are new entries


# Runs a post: gets `wait_turn` and awaits it right before calling Slack, so a post that finds nothing to do
# (the request was decided while queued) uses no slot.
PostRunner = Callable[[str, QueuedPost, WaitTurn], Awaitable[None]]

# A level's posts sort before every post of a lower level; turns within a level stay below this.
LEVEL_SPAN = 1_000_000_000
FAIRNESS_TTL_S = 86_400

# KEYS[1] the channel's queue (sorted set), KEYS[2] its turn counters (hash).
# ARGV[1] JSON {member, band (0 = critical … 3 = low), agent, span (LEVEL_SPAN), ttl_s}.
_PUSH = """
local post = cjson.decode(ARGV[1])
local level_turn = 'level:' .. post.band
local agent_turn = 'agent:' .. post.band .. ':' .. post.agent
local now_turn = tonumber(redis.call('HGET', KEYS[2], level_turn) or '0')
local last = tonumber(redis.call('HGET', KEYS[2], agent_turn) or '0')
local turn = math.max(last, now_turn) + 1
if redis.call('ZADD', KEYS[1], 'NX', post.band * post.span + turn, post.member) == 1 then
  redis.call('HSET', KEYS[2], agent_turn, turn)
end
redis.call('EXPIRE', KEYS[2], post.ttl_s)
return 1
"""
# Same KEYS, ARGV[1] LEVEL_SPAN; takes the first post and moves its level's current turn up to it.
_POP = """
local popped = redis.call('ZPOPMIN', KEYS[1])
if #popped == 0 then return false end
local score = tonumber(popped[2])
local span = tonumber(ARGV[1])
local band = math.floor(score / span)
local turn = score - band * span
if turn > tonumber(redis.call('HGET', KEYS[2], 'level:' .. band) or '0') then
  redis.call('HSET', KEYS[2], 'level:' .. band, turn)
end
return popped[1]
"""

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


def _member(post: QueuedPost) -> str:
    return json.dumps([post.approval_id, post.level.value, post.agent, post.attempt], separators=(",", ":"))


def _from_member(raw: bytes | str) -> QueuedPost:
    approval_id, level, agent, attempt = json.loads(raw)
    return QueuedPost(str(approval_id), RiskLevel(level), str(agent), int(attempt))


class ChannelPacer:
    def __init__(self, redis: Redis, keys: Keys, interval_s: float = 1.0) -> None:
        self.redis = redis
        self.keys = keys
        self.interval_s = interval_s
        self.runner: PostRunner | None = None  # set once the Slack channel is built (handlers/install.py)
        self._push = redis.register_script(_PUSH)
        self._pop = redis.register_script(_POP)
        self._reserve = redis.register_script(_RESERVE)
        self._posted = redis.register_script(_POSTED)
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._pushes: set[asyncio.Task[None]] = set()
        # Set by a push, cleared by the worker before each take: a push that lands while the worker's last
        # take is in flight (and comes back empty) is not left behind.
        self._more: dict[str, bool] = {}
        self._later: set[asyncio.TimerHandle] = set()
        self._stopped = False

    def submit(self, channel: str, post: QueuedPost) -> None:
        """Queue a post for `channel`; returns at once (and does nothing once the pacer has stopped)."""
        if self._stopped:
            return
        task = asyncio.create_task(self._enqueue(channel, post), name=f"slack-queue-{channel}")
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    def submit_later(self, delay_s: float, channel: str, post: QueuedPost) -> None:
        """Queue a post again after a delay (a retry); cancelled by stop, so no retry outlives the process."""
        if self._stopped:
            return

        def fire() -> None:
            self._later.discard(handle)
            self.submit(channel, post)

        handle = asyncio.get_running_loop().call_later(delay_s, fire)
        self._later.add(handle)

    async def _enqueue(self, channel: str, post: QueuedPost) -> None:
        band = RiskLevel.critical.rank - post.level.rank
        try:
            await self._push(
                keys=self._queue_keys(channel),
                args=[
                    json.dumps(
                        {
                            "member": _member(post),
                            "band": band,
                            "agent": post.agent,
                            "span": LEVEL_SPAN,
                            "ttl_s": FAIRNESS_TTL_S,
                        }
                    )
                ],
            )
        except (RedisError, OSError):
            log.exception("could not queue %s for Slack channel %s", post.approval_id, channel)
            return
        self._more[channel] = True
        worker = self._workers.get(channel)
        if worker is None or worker.done():
            self._workers[channel] = asyncio.create_task(self._work(channel), name=f"slack-pace-{channel}")

    async def backlog(self, channel: str) -> int:
        """How many posts wait in `channel`'s queue."""
        return int(await self.redis.zcard(self._queue_keys(channel)[0]))

    async def drain(self, channel: str, limit: int = 1000) -> list[QueuedPost]:
        """Take every waiting post of `channel` at once (a digest stands for them), most urgent first."""
        raw: list[Any] = await self.redis.zpopmin(self._queue_keys(channel)[0], limit)
        return [_from_member(member) for member, _score in raw]

    def _queue_keys(self, channel: str) -> list[str]:
        return slack_keys.post_queue(self.keys, channel)

    async def _work(self, channel: str) -> None:
        while True:
            self._more[channel] = False
            try:
                raw = await self._pop(keys=self._queue_keys(channel), args=[LEVEL_SPAN])
            except (RedisError, OSError):
                log.exception("could not read the Slack queue of %s", channel)
                return  # what is queued stays queued: the next submit (or start-up sweep) resumes
            if raw is None:
                if self._more.get(channel):
                    continue
                return
            await self._run(channel, _from_member(raw))

    async def _run(self, channel: str, post: QueuedPost) -> None:
        took_turn = False

        async def wait_turn() -> None:
            nonlocal took_turn
            took_turn = True
            await self._wait_turn(channel)

        try:
            if self.runner is not None:
                await self.runner(channel, post, wait_turn)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("posting to Slack channel %s failed", channel)
        if took_turn:
            with suppress(RedisError, OSError):
                await self._posted(keys=[self._key(channel)], args=[int(self.interval_s * 1000)])

    def _key(self, channel: str) -> str:
        return slack_keys.pace(self.keys, channel)

    async def _wait_turn(self, channel: str) -> None:
        wait_ms = await self._reserve(keys=[self._key(channel)], args=[int(self.interval_s * 1000)])
        if int(wait_ms) > 0:
            await asyncio.sleep(int(wait_ms) / 1000)  # pacing to Slack's rate limit, not polling

    async def queued(self) -> None:
        """Wait until every submitted post is in its Redis queue (tests)."""
        while self._pushes:
            await asyncio.gather(*list(self._pushes), return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every queued post has been sent (tests, shutdown)."""
        await self.queued()
        while workers := [w for w in self._workers.values() if not w.done()]:
            await asyncio.gather(*workers, return_exceptions=True)
            await self.queued()

    async def stop(self) -> None:
        self._stopped = True
        for handle in self._later:
            handle.cancel()  # a retry that has not fired yet stays queued in nobody's memory: the start-up
        self._later.clear()  # sweep of the next process posts requests that have no message
        tasks = [*self._pushes, *self._workers.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
