"""The running parts (Redis client, store, audit log, change feed, service) and the Redis client they use.

bot/bootstrap.py builds a Runtime from settings."""

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
from bot.clock import Clock
from bot.events import ChangeFeed, OutboxDispatcher
from bot.keys import Keys
from bot.policy import Policy
from bot.redis_url import async_client
from bot.secrets import derive, signing_key
from bot.service import ApprovalService
from bot.settings import Settings
from bot.store import Store
from bot.trust import TrustService

log = logging.getLogger(__name__)


def redis_client(url: str, max_connections: int = 200) -> Redis:
    """A client whose pool waits for a free connection (redis-py's default pool raises at its limit),
    and retries on a dropped connection: after a Redis restart each pooled connection fails once.

    It decodes every reply to text once, here: everything the service stores is UTF-8 text (bytes that are not,
    written by someone else with access to Redis, read as U+FFFD rather than stop a reader). RQ needs bytes
    and gets a client of its own (jobs/scheduling.py `sync_redis`, jobs/context.py)."""
    retry = Retry(ExponentialBackoff(cap=1, base=0.05), 3)
    errors = [RedisConnectionError, RedisTimeoutError]
    return async_client(
        url,
        max_connections=max_connections,
        timeout=10,
        decode_responses=True,
        encoding_errors="replace",
        health_check_interval=30,
        retry=retry,
        retry_on_error=errors,
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
    sweep_expiry: bool = False  # `countersign serve` expires requests itself too (bot/expiry.py)
    _sweeper: Any = None
    _trust: TrustService | None = None

    @property
    def trust(self) -> TrustService:
        """Standing grants, suggestions and outcomes (bot/trust.py), over the same service."""
        if self._trust is None or self._trust.service is not self.service:
            self._trust = TrustService(self.service)
        return self._trust

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
