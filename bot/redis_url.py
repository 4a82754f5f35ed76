"""Redis clients from a `REDIS_URL`: plain `redis://`, `rediss://`, `unix://`, or Redis Sentinel as
`redis+sentinel://[:password@]host:port[,host:port…]/service_name[/db]`, for the server (asyncio) and for
RQ and the worker (sync). Behind Sentinel every connection asks it for the current primary, so after a
failover the pools reconnect to the new one (the clients retry a dropped connection)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
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
    confirm_replicas: int = 0  # `?confirm_replicas=N`: a state change is acknowledged once N replicas have it
    confirm_timeout_ms: int = 1000  # `?confirm_timeout_ms=…`: how long to wait for them

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
            raise ConfigError(
                "REDIS_URL: expected redis+sentinel://[:password@]host:port[,host:port…]/service_name[/db]"
            )
        username, _, password = parts.netloc.rpartition("@")[0].partition(":")
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        counts = {
            name: query.get(name, default)
            for name, default in (("confirm_replicas", "0"), ("confirm_timeout_ms", "1000"))
        }
        if not all(value.isdigit() for value in counts.values()):
            raise ConfigError("REDIS_URL: confirm_replicas and confirm_timeout_ms must be whole numbers")
        return cls(
            sentinels,
            path[0],
            int(path[1]) if len(path) == 2 else 0,
            unquote(username) or None,
            unquote(password) or None,
            query.get("sentinel_password") or None,
            int(counts["confirm_replicas"]),
            int(counts["confirm_timeout_ms"]),
        )

    def sentinel_kwargs(self) -> dict[str, Any]:
        return {
            "socket_timeout": SENTINEL_TIMEOUT_S,
            "socket_connect_timeout": SENTINEL_TIMEOUT_S,
            "password": self.sentinel_password,
        }

    def node_kwargs(self) -> dict[str, Any]:
        return {"db": self.db, "username": self.username, "password": self.password}


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME + "://")


class ReplicationUnconfirmed(RedisError):
    """A state change reached the primary but not enough replicas in time: it is not acknowledged."""


class _ConfirmedRedis(Redis):
    """After each script (every state change is one), WAIT on the same connection until `confirm_replicas`
    replicas have it: a decision acknowledged to anyone then survives the primary's loss."""

    confirm_replicas = 0
    confirm_timeout_ms = 1000

    async def _send_command_parse_response(self, conn: Any, command_name: str, *args: Any, **options: Any) -> Any:
        response = await super()._send_command_parse_response(conn, command_name, *args, **options)
        if self.confirm_replicas and command_name in ("EVALSHA", "EVAL"):
            try:
                await conn.send_command("WAIT", self.confirm_replicas, self.confirm_timeout_ms)
                confirmed = int(await self.parse_response(conn, "WAIT"))
            except (RedisConnectionError, RedisTimeoutError) as exc:
                # Not a retryable error here: a retry would run the script a second time.
                raise ReplicationUnconfirmed(f"the primary went away before replicas confirmed: {exc}") from None
            if confirmed < self.confirm_replicas:
                raise ReplicationUnconfirmed(
                    f"{confirmed} of {self.confirm_replicas} replicas confirmed the "
                    f"write within {self.confirm_timeout_ms} ms"
                )
        return response


class _BlockingSentinelPool(AsyncSentinelPool, BlockingConnectionPool):
    """Sentinel's primary lookup with the blocking pool's wait for a free connection (the plain pool raises
    at its limit: 500 held long-polls would fail)."""


def async_client(url: str, retry: Retry, retry_on_error: Sequence[type[Exception]], **pool_options: Any) -> Redis:
    """An asyncio client that retries on `retry_on_error`; `pool_options`: max_connections, timeout, …"""
    errors = list(retry_on_error)
    if not is_sentinel(url):
        pool = BlockingConnectionPool.from_url(url, retry=retry, retry_on_error=errors, **pool_options)
        return Redis(connection_pool=pool, retry=retry, retry_on_error=errors)
    target = SentinelUrl.parse(url)
    manager = AsyncSentinel(target.sentinels, sentinel_kwargs=target.sentinel_kwargs())
    client = manager.master_for(
        target.service,
        redis_class=_ConfirmedRedis,
        connection_pool_class=_BlockingSentinelPool,
        retry=retry,
        retry_on_error=errors,
        **target.node_kwargs(),
        **pool_options,
    )
    client = cast(_ConfirmedRedis, client)
    client.confirm_replicas, client.confirm_timeout_ms = target.confirm_replicas, target.confirm_timeout_ms
    return client


def sync_client(url: str) -> redis.Redis:
    """A sync client (RQ, the worker) on the same server."""
    if not is_sentinel(url):
        return redis.Redis.from_url(url)
    target = SentinelUrl.parse(url)
    manager = Sentinel(target.sentinels, sentinel_kwargs=target.sentinel_kwargs())
    client: redis.Redis = manager.master_for(target.service, **target.node_kwargs())
    return client
