"""Wires settings into the running parts: Redis client, store, audit log, change feed, service."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from bot.audit import AuditLog
from bot.clock import Clock, SystemClock
from bot.events import ChangeFeed, OutboxDispatcher
from bot.keys import Keys
from bot.policy import Policy, load_policy
from bot.service import ApprovalService
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger(__name__)


def redis_client(url: str, max_connections: int = 200) -> Redis:
    # Retry once-or-so on a dropped connection: after a Redis restart each pooled connection fails once.
    return Redis.from_url(
        url, max_connections=max_connections, health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1, base=0.05), 3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


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

    async def start(self) -> None:
        await self.feed.start()
        if self.outbox.has_handlers:
            await self.outbox.start(self.feed)

    async def stop(self) -> None:
        await self.outbox.stop()
        await self.feed.stop()
        await self.redis.aclose()


def build_runtime(settings: Settings, redis_url: str, clock: Clock | None = None,
                  policy: Policy | None = None) -> Runtime:
    clock = clock or SystemClock()
    redis = redis_client(redis_url)
    keys = Keys(settings.countersign_redis_prefix)
    store = Store(redis, keys, settings.retention_seconds)
    audit_log = AuditLog(redis, keys)
    feed = ChangeFeed(redis, keys)
    policy = policy or load_policy(settings.countersign_policy)
    service = ApprovalService(store, audit_log, feed, policy, clock)
    return Runtime(settings, redis, keys, store, audit_log, feed, OutboxDispatcher(redis, keys), service,
                   policy, clock, settings.agent_keys, settings.approver_keys)
