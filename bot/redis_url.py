"""Redis clients from a `REDIS_URL`: plain `redis://`, `rediss://`, `unix://`, or Redis Sentinel as
`redis+sentinel://[:password@]host:port[,host:port…]/service_name[/db]`, for the server (asyncio) and for
RQ and the worker (sync). Behind Sentinel every connection asks it for the current primary, so after a
failover the pools reconnect to the new one (the clients retry a dropped connection)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
from redis.sentinel import Sentinel

from bot.errors import ConfigError

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_TIMEOUT_S = 1.0  # asking a Sentinel is a short loopback/LAN round trip; a dead one is skipped fast


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: list[tuple[str, int]]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None  # the primary's and replicas' password
    sentinel_password: str | None = None  # `?sentinel_password=…` when the Sentinels require one

    @classmethod
    def parse(cls, url: str) -> SentinelUrl:
        parts = urlsplit(url)
        where = parts.netloc.rpartition("@")[2]
        sentinels = []
        for address in filter(None, where.split(",")):
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                raise ConfigError(f"REDIS_URL: Sentinel address {address!r} is not host:port")
            sentinels.append((host.strip("[]"), int(port)))
        path = [unquote(segment) for segment in parts.path.split("/") if segment]
        if not sentinels or not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
            raise ConfigError("REDIS_URL: expected redis+sentinel://[:password@]host:port[,host:port…]/"
                              "service_name[/db]")
        username, _, password = parts.netloc.rpartition("@")[0].partition(":")
        sentinel_password = parse_qs(parts.query).get("sentinel_password", [""])[0]
        return cls(sentinels, path[0], int(path[1]) if len(path) == 2 else 0, unquote(username) or None,
                   unquote(password) or None, sentinel_password or None)

    def sentinel_kwargs(self) -> dict[str, Any]:
        return {"socket_timeout": SENTINEL_TIMEOUT_S, "socket_connect_timeout": SENTINEL_TIMEOUT_S,
                "password": self.sentinel_password}

    def node_kwargs(self) -> dict[str, Any]:
        return {"db": self.db, "username": self.username, "password": self.password}


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME + "://")


class _BlockingSentinelPool(AsyncSentinelPool, BlockingConnectionPool):
    """Sentinel's primary lookup with the blocking pool's wait for a free connection (the plain pool raises
    at its limit: 500 held long-polls would fail)."""


def async_client(url: str, retry: Retry, retry_on_error: Sequence[type[Exception]],
                 **pool_options: Any) -> Redis:
    """An asyncio client that retries on `retry_on_error`; `pool_options`: max_connections, timeout, …"""
    errors = list(retry_on_error)
    if not is_sentinel(url):
        pool = BlockingConnectionPool.from_url(url, retry=retry, retry_on_error=errors, **pool_options)
        return Redis(connection_pool=pool, retry=retry, retry_on_error=errors)
    target = SentinelUrl.parse(url)
    manager = AsyncSentinel(target.sentinels, sentinel_kwargs=target.sentinel_kwargs())
    client: Redis = manager.master_for(target.service, connection_pool_class=_BlockingSentinelPool, retry=retry,
                                       retry_on_error=errors, **target.node_kwargs(), **pool_options)
    return client


def sync_client(url: str) -> redis.Redis:
    """A sync client (RQ, the worker) on the same server."""
    if not is_sentinel(url):
        return redis.Redis.from_url(url)
    target = SentinelUrl.parse(url)
    manager = Sentinel(target.sentinels, sentinel_kwargs=target.sentinel_kwargs())
    client: redis.Redis = manager.master_for(target.service, **target.node_kwargs())
    return client
