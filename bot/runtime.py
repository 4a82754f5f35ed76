"""Wires settings into the running parts: Redis client, store, audit log, change feed, service."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.audit import AuditLog
from bot.clock import Clock, SystemClock
from bot.events import ChangeFeed, OutboxDispatcher
from bot.keys import Keys
from bot.policy import Policy, load_policy
from bot.redis_url import async_client
from bot.secrets import audit_key, derive, signing_key
from bot.service import ApprovalService
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger(__name__)


def redis_client(url: str, max_connections: int = 200) -> Redis:
    """A client whose pool waits for a free connection (redis-py's default pool raises at its limit),
    and retries on a dropped connection: after a Redis restart each pooled connection fails once."""
    retry = Retry(ExponentialBackoff(cap=1, base=0.05), 3)
    errors = [RedisConnectionError, RedisTimeoutError]
    return async_client(url, max_connections=max_connections, timeout=10, health_check_interval=30, retry=retry,
                        retry_on_error=errors)


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    keys: Keys
    store: Store
    audit: AuditLog
    feed: ChangeFeed
    outbox: OutboxDispatcher
    service: ApprovalService
    policy: Policy
    clock: Clock
    agent_keys: dict[str, str] = field(default_factory=dict)
    approver_keys: dict[str, str] = field(default_factory=dict)
    sweep_expiry: bool = False  # `countersign serve` expires requests itself too (bot/expiry.py)
    _sweeper: Any = None

    async def start(self) -> None:
        await self.feed.start()
        if self.outbox.has_handlers:
            await self.outbox.start(self.feed)
        if self.sweep_expiry:
            from bot.expiry import ExpirySweeper

            self._sweeper = ExpirySweeper(self.service, self.feed)
            await self._sweeper.start()

    async def stop(self) -> None:
        if self._sweeper is not None:
            await self._sweeper.stop()
        await self.outbox.stop()
        await self.feed.stop()
        await self.redis.aclose()


async def mask_key(settings: Settings, redis: Redis, keys: Keys) -> bytes:
    """The key secret argument values are masked under (bot/redaction.py)."""
    return derive(await signing_key(settings, redis, keys), "redact")


def build_runtime(settings: Settings, redis_url: str, clock: Clock | None = None,
                  policy: Policy | None = None) -> Runtime:
    clock = clock or SystemClock()
    redis = redis_client(redis_url)
    keys = Keys(settings.countersign_redis_prefix)
    store = Store(redis, keys, settings.retention_seconds, lambda: audit_key(settings, redis, keys))
    audit_log = AuditLog(redis, keys)
    feed = ChangeFeed(redis, keys)
    policy = policy or load_policy(settings.countersign_policy)
    service = ApprovalService(store, audit_log, feed, policy, clock)
    service.mask_key = lambda: mask_key(settings, redis, keys)
    service.callback_allow = settings.callback_allow
    service.limits = settings.agent_limits
    return Runtime(settings, redis, keys, store, audit_log, feed, OutboxDispatcher(redis, keys), service,
                   policy, clock, settings.agent_keys, settings.approver_keys)
