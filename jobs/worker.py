"""`countersign worker`: an RQ worker with the scheduler on, running the jobs in `jobs/`."""

from __future__ import annotations

import logging

from redis import Redis
from rq import Worker

from bot.settings import Settings
from jobs import context
from jobs.context import QUEUE_NAME, queue_for

log = logging.getLogger(__name__)
__all__ = ["QUEUE_NAME", "queue_for", "run_worker"]


def run_worker(settings: Settings, redis_url: str, burst: bool = False) -> int:
    from bot.logs import configure

    configure(settings.countersign_log_level)
    context.configure(settings, redis_url)
    redis = Redis.from_url(redis_url)
    worker = Worker([queue_for(redis, settings)], connection=redis)
    worker.work(with_scheduler=True, burst=burst)
    return 0
