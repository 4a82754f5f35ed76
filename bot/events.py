"""Change notification: one pub/sub subscription per process wakes long-polls and live pages;
the outbox stream fans each state change out once (per consumer group) to channel adapters."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.keys import Keys

log = logging.getLogger(__name__)
ChangeListener = Callable[[str, str], None]
OutboxHandler = Callable[[str, str, str], Awaitable[None]]  # (event type, approval id, status)


class ChangeFeed:
    """Wakes in-process waiters when any process changes an approval (pushed, never polled)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._waiters: dict[str, set[asyncio.Future[str]]] = defaultdict(set)
        self._listeners: set[ChangeListener] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.draining = False  # set at shutdown: waits return at once (bot/shutdown.py)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="change-feed")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    def listen(self, listener: ChangeListener) -> Callable[[], None]:
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    def waiter(self, approval_id: str) -> asyncio.Future[str]:
        """Register before reading state, so that no change between the read and the wait is missed."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters[approval_id].add(future)
        return future

    def forget(self, approval_id: str, future: asyncio.Future[str]) -> None:
        waiters = self._waiters.get(approval_id)
        if waiters is not None:
            waiters.discard(future)
            if not waiters:
                del self._waiters[approval_id]

    def drain(self) -> int:
        """Wake every waiter for good: from now on a wait returns the state as it stands."""
        self.draining = True
        held = sum(len(waiters) for waiters in self._waiters.values())
        self._wake_all()
        return held

    def _dispatch(self, approval_id: str, status: str) -> None:
        for future in self._waiters.pop(approval_id, set()):
            if not future.done():
                future.set_result(status)
        for listener in list(self._listeners):
            try:
                listener(approval_id, status)
            except Exception:  # a broken listener must not stop the feed
                log.exception("change listener failed")

    def _wake_all(self) -> None:
        # After a reconnect a message may have been missed: every waiter re-reads its state.
        for approval_id in list(self._waiters):
            self._dispatch(approval_id, "")

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.changes_channel)
                if self._ready.is_set():
                    self._wake_all()
                self._ready.set()
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(timeout=None)
                    raise_if_cancelling(None)
                    if message is None or message.get("type") != "message":
                        continue
                    approval_id, _, status = str(message["data"]).partition(" ")
                    self._dispatch(approval_id, status)
            except asyncio.CancelledError:
                with suppress(Exception):
                    await pubsub.aclose()
                raise
            except Exception as exc:  # Redis gone, or a message no code expected: resubscribe, never stop
                raise_if_cancelling(exc)
                log.warning("change feed lost its subscription (%s); reconnecting", exc)
                with suppress(Exception):
                    await pubsub.aclose()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)


class OutboxDispatcher:
    """Reads the outbox stream in a consumer group: each change is handled by one process.

    Woken by the change feed's push (the scripts publish right after appending to the outbox), with a slow
    fallback sweep that also takes over entries a dead process left unacknowledged. No blocking stream read:
    redis-py cannot cancel one cleanly, and it would hold a connection per process.
    """

    SWEEP_S = 5.0
    CLAIM_IDLE_MS = 60_000

    def __init__(self, redis: Redis, keys: Keys, group: str = "fanout") -> None:
        self.redis = redis
        self.keys = keys
        self.group = group
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        self._handlers: list[OutboxHandler] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._unlisten: Callable[[], None] | None = None

    def subscribe(self, handler: OutboxHandler) -> None:
        self._handlers.append(handler)

    @property
    def has_handlers(self) -> bool:
        return bool(self._handlers)

    async def start(self, feed: ChangeFeed) -> None:
        try:
            await self.redis.xgroup_create(self.keys.outbox, self.group, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._unlisten = feed.listen(lambda _id, _status: self._wake.set())
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self) -> None:
        if self._unlisten:
            self._unlisten()
        if self._task:
            self._task.cancel()
            # A cancel that a library absorbs must never hang shutdown (seen with redis-py 8.1).
            done, _ = await asyncio.wait({self._task}, timeout=2)
            if not done:
                log.warning("outbox dispatcher did not stop within 2 s; leaving it")

    async def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        for handler in self._handlers:
            try:
                await handler(fields.get("type", ""), fields.get("id", ""), fields.get("status", ""))
            except Exception:
                log.exception("outbox handler failed for %s", fields.get("id"))
        await self.redis.xack(self.keys.outbox, self.group, entry_id)

    async def _drain(self, claim: bool) -> None:
        if claim:
            claimed: Any = await self.redis.xautoclaim(
                self.keys.outbox, self.group, self.consumer, min_idle_time=self.CLAIM_IDLE_MS, start_id="0-0", count=100
            )
            for entry_id, fields in claimed[1] if len(claimed) > 1 else []:
                if fields:
                    await self._handle(entry_id, fields)
        while True:
            rows: Any = await self.redis.xreadgroup(self.group, self.consumer, {self.keys.outbox: ">"}, count=100)
            entries = [entry for _stream, batch in rows or [] for entry in batch]
            for entry_id, fields in entries:
                await self._handle(entry_id, fields)
            if len(entries) < 100:
                return

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            # A library call (redis-py) may absorb our cancellation; never loop on after stop() asked.
            raise_if_cancelling(None)
            woken = False
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that races a wake-up.
            with suppress(TimeoutError):
                async with asyncio.timeout(self.SWEEP_S):
                    await self._wake.wait()
                woken = True
            self._wake.clear()
            try:
                await self._drain(claim=not woken)
                backoff = 0.1
            except (RedisError, OSError) as exc:
                raise_if_cancelling(exc)
                log.warning("outbox dispatcher: %s; retrying", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)
                self._wake.set()
            except Exception:  # an entry no code expected must not stop the fan-out for everyone
                raise_if_cancelling(None)
                log.exception("outbox dispatcher failed; retrying")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)
                self._wake.set()


def raise_if_cancelling(exc: BaseException | None) -> None:
    # redis-py turns a cancellation during a read into a ConnectionError: do not swallow our own stop.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc
