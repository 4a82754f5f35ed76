"""Per-agent limits on filing requests: a rate (fixed window, counted in Redis) and a cap on pending
requests (checked inside the create script, so it is exact under concurrency)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.errors import TooManyRequests
from bot.keys import Keys

_RATE = re.compile(r"^\s*(\d+)\s*(?:/\s*(\d*)\s*(s|sec|m|min|h|hour)\s*)?$", re.IGNORECASE)
_UNIT_S = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}
PENDING_RETRY_AFTER_S = 30  # no date is known when a pending request will be decided: ask again soon


@dataclass(frozen=True)
class Rate:
    count: int  # 0: no limit
    window_s: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`120/m`, `10/s`, `1000/h`, `30/10s`; `0` turns the limit off."""
        match = _RATE.match(text)
        if match is None:
            raise ValueError("expected a rate such as 120/m, 10/s or 1000/h (0 = off)")
        count, multiple, unit = match.groups()
        if unit is None:
            if int(count) != 0:
                raise ValueError("a rate needs a unit (120/m, 10/s, 1000/h); 0 alone turns it off")
            return cls(0, 1)
        window_s = int(multiple or 1) * _UNIT_S[unit.lower()]
        if window_s == 0:
            raise ValueError("the rate's window must be at least one second")
        return cls(int(count), window_s)

    def __str__(self) -> str:
        return f"{self.count}/{self.window_s}s" if self.count else "off"


@dataclass(frozen=True)
class AgentLimits:
    rate: Rate = Rate(0, 1)
    max_pending: int = 0  # 0: no limit


class RateCounter:
    """Counts requests per agent in the current window; INCR and EXPIRE in one transaction."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def take(self, agent: str, rate: Rate, now_s: float) -> None:
        if not rate.count:
            return
        window = int(now_s // rate.window_s)
        key = self.keys.named(f"rate:{agent}:{rate.window_s}:{window}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, rate.window_s + 1)
            count, _ = await pipe.execute()
        if int(count) > rate.count:
            retry_after = int((window + 1) * rate.window_s - now_s) + 1
            raise TooManyRequests(
                f"agent {agent!r} filed more than {rate.count} requests in {rate.window_s} s "
                f"(COUNTERSIGN_AGENT_RATE); retry after {retry_after} s",
                "COUNTERSIGN_AGENT_RATE",
                retry_after,
            )
