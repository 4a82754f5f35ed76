"""Builds what runs from settings: the Redis URL (REDIS_URL, or the embedded server) and the Runtime.

`countersign serve`, `countersign worker`, the admin commands and each RQ job all start here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from bot.audit import AuditLog
from bot.clock import Clock, SystemClock
from bot.embedded import EmbeddedRedis, discover_url
from bot.errors import ConfigError
from bot.events import ChangeFeed, OutboxDispatcher
from bot.keys import Keys
from bot.policy import Policy, load_policy
from bot.runtime import Runtime, mask_key, redis_client
from bot.secrets import audit_key
from bot.service import ApprovalService
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger("countersign")


def resolve_redis_url(settings: Settings) -> str:
    """REDIS_URL, or the embedded server a running `countersign serve` started under the data dir."""
    if settings.redis_url:
        return settings.redis_url
    url = discover_url(settings.countersign_data_dir)
    if url is None:
        looked = settings.countersign_data_dir.resolve()
        raise ConfigError(
            f"REDIS_URL: unset, and no embedded server is running under {looked} "
            "(COUNTERSIGN_DATA_DIR, relative to this directory). Run this command in the directory "
            "`countersign serve` runs in, or set COUNTERSIGN_DATA_DIR to that directory's "
            ".countersign (an absolute path), or set REDIS_URL; else start `countersign serve`."
        )
    return url


@contextmanager
def serving_redis_url(settings: Settings) -> Iterator[str]:
    """For `countersign serve`: REDIS_URL, or an embedded server started now and stopped on the way out."""
    if settings.redis_url is not None:
        yield settings.redis_url
        return
    embedded = EmbeddedRedis(settings.countersign_data_dir)
    url = embedded.start()
    log.info("no REDIS_URL: started the embedded server at %s (data in %s)", url, settings.countersign_data_dir)
    try:
        yield url
    finally:
        embedded.stop()


def build_runtime(
    settings: Settings, redis_url: str, clock: Clock | None = None, policy: Policy | None = None
) -> Runtime:
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
    return Runtime(
        settings,
        redis,
        keys,
        store,
        audit_log,
        feed,
        OutboxDispatcher(redis, keys),
        service,
        policy,
        clock,
        settings.agent_keys,
        settings.approver_keys,
    )
