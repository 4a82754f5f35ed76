"""Drive real RQ in tests: a SimpleWorker burst (scheduler on) in a thread; move scheduled jobs to now."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.timeouts import TimerDeathPenalty

from bot.clock import Clock
from bot.settings import Settings
from jobs import context
from jobs.worker import queue_for


def sync_redis(settings: Settings) -> Redis:
    return Redis.from_url(settings.redis_url or "")


class ThreadSimpleWorker(SimpleWorker):
    """RQ's SimpleWorker (jobs run in-process) made runnable off the main thread: no signal handlers,
    and job time limits enforced by a timer instead of SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def _burst(settings: Settings, clock: Clock | None) -> None:
    context.configure(settings, settings.redis_url or "", clock)
    redis = sync_redis(settings)
    try:
        worker = ThreadSimpleWorker([queue_for(redis, settings)], connection=redis)
        worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
    finally:
        redis.close()


async def run_burst(settings: Settings, clock: Clock | None = None) -> None:
    """Run what is due, in a thread: jobs call asyncio.run, and the test's emulators keep serving."""
    await asyncio.to_thread(_burst, settings, clock)


def make_due(settings: Settings, *job_ids: str) -> None:
    """Move time for these jobs: reschedule them into the past instead of sleeping until they are due."""
    redis = sync_redis(settings)
    try:
        registry = ScheduledJobRegistry(queue=queue_for(redis, settings))
        past = datetime.now(UTC) - timedelta(seconds=5)
        for job_id in job_ids:
            registry.schedule(Job.fetch(job_id, connection=redis), past)
    finally:
        redis.close()


def scheduled(settings: Settings) -> list[tuple[str, datetime]]:
    """(job id, due time) of every scheduled job, soonest first."""
    redis = sync_redis(settings)
    try:
        registry = ScheduledJobRegistry(queue=queue_for(redis, settings))
        rows = redis.zrange(registry.key, 0, -1, withscores=True)
        return [
            (raw.decode(), datetime.fromtimestamp(float(score), UTC))  # type: ignore[union-attr]
            for raw, score in rows
        ]
    finally:
        redis.close()


async def send_batches(settings: Settings) -> None:
    """End every open email/SMS batch window now (jobs/batches.py) and run the sends."""
    due = [job_id for job_id, _ in scheduled(settings) if "batch-" in job_id]
    if due:
        make_due(settings, *due)
        await run_burst(settings)
