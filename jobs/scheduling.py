"""Plans and schedules a request's RQ jobs (channel notifications, escalation steps, agent callback) from
outbox events. Expiry is not a job: the sweeper (bot/expiry.py) in every process does it."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from bot.errors import NotFound
from bot.events import OutboxHandler
from bot.keys import Keys
from bot.models import Approval, Status
from bot.policy.schema import LevelPolicy
from bot.redis_url import sync_client
from bot.runtime import Runtime
from jobs.context import queue_for

log = logging.getLogger(__name__)
# A notification step that failed (provider down) is retried by RQ; the send-once records make it safe.
STEP_RETRY = Retry(max=8, interval=[5, 15, 30, 60, 120, 300, 600, 1200])


@dataclass(frozen=True)
class PlannedStep:
    """One firing of one escalation step: the `repeat`-th repetition (0 = first) of step `index`."""

    index: int
    repeat: int
    at: datetime


def plan_steps(route: LevelPolicy, created_at: datetime, expires_at: datetime) -> list[PlannedStep]:
    """Every firing of the route's escalation steps that falls before the request expires."""
    planned = []
    for index, step in enumerate(route.escalate):
        firings = 1 + (step.repeat.times if step.repeat else 0)
        for repeat in range(firings):
            at = created_at + step.after + (step.repeat.every * repeat if step.repeat else timedelta(0))
            if at < expires_at:
                planned.append(PlannedStep(index, repeat, at))
    return sorted(planned, key=lambda p: (p.at, p.index, p.repeat))


def job_prefix(keys: Keys) -> str:
    # RQ job ids allow letters, digits, `_` and `-` only; the key prefix usually ends in `:`.
    return re.sub(r"[^A-Za-z0-9_-]", "_", keys.prefix)


def step_job_id(keys: Keys, approval_id: str, index: int, repeat: int) -> str:
    """Deterministic, so that scheduling the same request twice replaces rather than duplicates."""
    return f"{job_prefix(keys)}esc-{approval_id}-{index}-{repeat}"


def channels_job_id(keys: Keys, approval_id: str) -> str:
    return f"{job_prefix(keys)}ch-{approval_id}"


def callback_job_id(keys: Keys, approval_id: str, attempt: int) -> str:
    return f"{job_prefix(keys)}cb-{approval_id}-{attempt}"


def jobs_key(keys: Keys, approval_id: str) -> str:
    return keys.named(f"jobs:{approval_id}")


class Scheduler:
    """The web process's side of RQ: enqueue and cancel a request's jobs (sync Redis, run in a thread)."""

    def __init__(self, redis: Redis, queue: Queue, keys: Keys, retention_s: int) -> None:
        self.redis = redis
        self.queue = queue
        self.keys = keys
        self.retention_s = retention_s

    def schedule(self, approval: Approval, route: LevelPolicy) -> list[str]:
        job_ids: list[str] = []
        if any(channel.kind in ("email", "sms") for channel in route.channels):
            job = self.queue.enqueue(
                "jobs.escalation.run_channels",
                approval.id,
                job_id=channels_job_id(self.keys, approval.id),
                retry=STEP_RETRY,
                result_ttl=3600,
            )
            job_ids.append(job.id)
        for planned in plan_steps(route, approval.created_at, approval.expires_at):
            job = self.queue.enqueue_at(
                planned.at,
                "jobs.escalation.run_step",
                approval.id,
                planned.index,
                planned.repeat,
                job_id=step_job_id(self.keys, approval.id, planned.index, planned.repeat),
                retry=STEP_RETRY,
                result_ttl=3600,
            )
            job_ids.append(job.id)
        if not job_ids:
            return job_ids
        key = jobs_key(self.keys, approval.id)
        with self.redis.pipeline() as pipe:
            pipe.sadd(key, *job_ids)
            pipe.expire(key, self.retention_s)
            pipe.execute()
        return job_ids

    def cancel(self, approval_id: str) -> int:
        """Cancel every job still waiting for this request; a running one re-checks status itself."""
        cancelled = 0
        for raw in self.redis.smembers(jobs_key(self.keys, approval_id)):
            job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
            try:
                job = Job.fetch(job_id, connection=self.redis)
                if job.get_status() in (JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.DEFERRED):
                    # Deleted rather than only cancelled: nothing of it stays behind in Redis.
                    job.delete()
                    cancelled += 1
            except (NoSuchJobError, InvalidJobOperation):
                continue
        self.redis.delete(jobs_key(self.keys, approval_id))
        return cancelled

    def enqueue_callback(self, approval_id: str) -> None:
        self.queue.enqueue(
            "jobs.callbacks.deliver_callback",
            approval_id,
            1,
            job_id=callback_job_id(self.keys, approval_id, 1),
            result_ttl=3600,
        )


SCHEDULER = web.AppKey("escalation_scheduler", Scheduler)


def sync_redis(runtime: Runtime) -> Redis:
    """A sync client for RQ on the same server as the runtime's (also the embedded one `serve` starts)."""
    if runtime.settings.redis_url:
        return sync_client(runtime.settings.redis_url)
    params = runtime.redis.connection_pool.connection_kwargs
    if "path" in params:
        return Redis(unix_socket_path=params["path"], db=params.get("db", 0), password=params.get("password"))
    return Redis(
        host=params.get("host", "127.0.0.1"),
        port=params.get("port", 6379),
        db=params.get("db", 0),
        username=params.get("username"),
        password=params.get("password"),
    )


def make_handler(runtime: Runtime, scheduler: Scheduler) -> OutboxHandler:
    async def on_change(event_type: str, approval_id: str, status: str) -> None:
        if event_type not in ("created", "decided"):
            return
        try:
            stored = await runtime.service.get_stored(approval_id)
        except NotFound:
            return
        approval = stored.approval
        if approval.status == Status.pending:
            if event_type == "created":
                job_ids = await asyncio.to_thread(scheduler.schedule, approval, stored.route)
                log.info("scheduled %d jobs for %s", len(job_ids), approval_id)
                # Decided while we were scheduling (another process took that event): undo.
                if (await runtime.service.get(approval_id)).status != Status.pending:
                    await asyncio.to_thread(scheduler.cancel, approval_id)
            return
        await asyncio.to_thread(scheduler.cancel, approval_id)
        if approval.callback_url:
            await asyncio.to_thread(scheduler.enqueue_callback, approval_id)

    return on_change


def install(app: web.Application, runtime: Runtime) -> None:
    settings = runtime.settings
    redis = sync_redis(runtime)
    scheduler = Scheduler(redis, queue_for(redis, settings), runtime.keys, settings.retention_seconds)
    app[SCHEDULER] = scheduler
    runtime.outbox.subscribe(make_handler(runtime, scheduler))

    async def close(app: web.Application) -> None:
        await asyncio.to_thread(redis.close)

    app.on_cleanup.append(close)
