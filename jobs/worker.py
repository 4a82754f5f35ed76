"""`countersign worker`: an RQ worker with the scheduler on, plus the expiry sweep."""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue, Worker

from bot.settings import Settings

log = logging.getLogger(__name__)
QUEUE_NAME = "countersign"


def queue_for(redis: Redis, settings: Settings) -> Queue:
    return Queue(f"{settings.countersign_redis_prefix}{QUEUE_NAME}", connection=redis)


def run_worker(settings: Settings, redis_url: str, burst: bool = False) -> int:
    from bot.logs import configure

    configure(settings.countersign_log_level)
    redis = Redis.from_url(redis_url)
    worker = Worker([queue_for(redis, settings)], connection=redis)
    worker.work(with_scheduler=True, burst=burst)
    return 0
