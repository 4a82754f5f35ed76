"""The one expiry mechanism: expires requests at `expires_at` into their level's `on_timeout` default.

It runs in every `countersign serve` and every `countersign worker`, so any one process is complete and any
combination is correct: expiry is one atomic transition, so when several sweepers find the same request due,
one expires it and the others find nothing to do. The sweeper sleeps until the earliest expiry, and is woken
early when a new request arrives (it may expire sooner) — it does not poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from redis.exceptions import RedisError

from bot.clock import to_ms
from bot.events import ChangeFeed, raise_if_cancelling
from bot.models import Approval
from bot.service import ApprovalService

log = logging.getLogger(__name__)
MAX_SLEEP_S = 60.0


class ExpirySweeper:
    def __init__(self, service: ApprovalService, feed: ChangeFeed) -> None:
        self.service = service
        self.feed = feed
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unlisten: Callable[[], None] | None = None

    async def start(self) -> None:
        self._unlisten = self.feed.listen(lambda _id, status: self._wake.set() if status == "pending" else None)
        self._task = asyncio.create_task(self._run(), name="expiry-sweeper")

    async def stop(self) -> None:
        if self._unlisten:
            self._unlisten()
        if self._task:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2)

    async def sweep(self) -> list[Approval]:
        """Expire everything due now (by the service's clock); tests call this with an injected clock."""
        expired = await self.service.expire_due()
        if expired:
            log.info("expired %d request(s) into their on_timeout default", len(expired))
        return expired

    async def _next_delay(self) -> float:
        redis: Any = self.service.store.redis
        first = await redis.zrange(self.service.store.keys.expiry, 0, 0, withscores=True)
        if not first:
            return MAX_SLEEP_S
        due_ms = float(first[0][1])
        return min(MAX_SLEEP_S, max(0.05, (due_ms - to_ms(self.service.clock.now())) / 1000 + 0.02))

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
                delay = await self._next_delay()
            except (RedisError, OSError) as exc:
                raise_if_cancelling(exc)
                log.warning("expiry sweep: %s; retrying", exc)
                delay = 1.0
            except Exception:  # anything else (a record no code expected): log it, never stop sweeping
                raise_if_cancelling(None)
                log.exception("expiry sweep failed; retrying")
                delay = 1.0
            with suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._wake.clear()
