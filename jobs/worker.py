"""`countersign worker`: an RQ worker with the scheduler on, running the jobs in `jobs/`, plus the expiry
sweep (a thread) that catches any overdue request whose expiry job never ran."""

from __future__ import annotations

import logging
import threading

from rq import SimpleWorker, Worker

from bot.redis_url import sync_client
from bot.settings import Settings
from jobs import context
from jobs.context import QUEUE_NAME, queue_for
from jobs.expiry import sweep_forever

log = logging.getLogger(__name__)
__all__ = ["QUEUE_NAME", "queue_for", "run_worker"]


def check_settings(settings: Settings) -> None:
    """Refuse to start (exit 2, one line) on a malformed delivery setting rather than fail every job."""
    from bot.notify.email import SmtpConfig

    if settings.smtp_url:
        SmtpConfig.parse(settings.smtp_url)


def run_worker(settings: Settings, redis_url: str, burst: bool = False, fork: bool = False) -> int:
    """Jobs run in the worker process (SimpleWorker) unless `fork`: they are short and build a fresh
    runtime each time, and skipping a fork per job is what lets one process send ~80 notifications/s."""
    from bot.logs import configure

    configure(settings.countersign_log_level)
    check_settings(settings)
    context.configure(settings, redis_url)
    context.preload()
    redis = sync_client(redis_url)
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class([queue_for(redis, settings)], connection=redis)
    stop = threading.Event()
    if not burst:
        threading.Thread(target=sweep_forever, args=(stop,), name="expiry-sweep", daemon=True).start()
    try:
        worker.work(with_scheduler=True, burst=burst, logging_level=settings.countersign_log_level.upper())
    finally:
        stop.set()
    return 0
