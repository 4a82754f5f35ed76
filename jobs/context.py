"""What a job runs in: the worker's settings, an RQ queue, and a fresh async runtime per job."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis import Redis
from rq import Queue

from bot.bootstrap import build_runtime, resolve_redis_url
from bot.clock import Clock
from bot.policy import Policy, load_policy
from bot.redis_url import sync_client
from bot.runtime import Runtime
from bot.settings import Settings, load_settings

T = TypeVar("T")
QUEUE_NAME = "countersign"


class _Context:
    settings: Settings | None = None
    redis_url: str | None = None
    clock: Clock | None = None
    policy: Policy | None = None


_context = _Context()


def configure(settings: Settings, redis_url: str, clock: Clock | None = None) -> None:
    """Called once by `countersign worker` (and by tests running a worker in-process)."""
    _context.settings, _context.redis_url, _context.clock = settings, redis_url, clock
    _context.policy = None


def load_policy_once() -> None:
    """Load the policy into the context (the worker does it once, before forking work horses)."""
    current_policy()


def current_policy() -> Policy:
    """The policy, loaded once per process."""
    settings, _url = current()
    if _context.policy is None:
        _context.policy = load_policy(settings.countersign_policy)
    return _context.policy


def current() -> tuple[Settings, str]:
    if _context.settings is None or _context.redis_url is None:
        settings = load_settings()
        url = resolve_redis_url(settings)
        configure(settings, url)
        return settings, url
    return _context.settings, _context.redis_url


def queue_for(redis: Redis, settings: Settings) -> Queue:
    return Queue(f"{settings.countersign_redis_prefix}{QUEUE_NAME}", connection=redis)


def job_queue() -> Queue:
    """The queue a running job re-enqueues into (for follow-up attempts)."""
    settings, url = current()
    return queue_for(sync_client(url), settings)


def run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run one job's async work on a runtime of its own: the same service code the web process uses."""
    settings, url = current()
    # Jobs act on stored routes; the policy is loaded once only so that the runtime is complete.
    policy = current_policy()

    async def main() -> T:
        runtime = build_runtime(settings, url, clock=_context.clock, policy=policy)
        try:
            return await work(runtime)
        finally:
            await runtime.redis.aclose()

    return asyncio.run(main())
