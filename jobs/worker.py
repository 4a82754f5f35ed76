"""`countersign worker`: an RQ worker with the scheduler on, running the jobs in `jobs/`, plus the expiry
sweeper (bot/expiry.py, the same one `serve` runs) on an event loop of its own in a thread."""

from __future__ import annotations

import asyncio
import logging
import threading

from rq import SimpleWorker, Worker

from bot.bootstrap import build_runtime
from bot.redis_url import sync_client
from bot.settings import Settings
from jobs import context
from jobs.context import QUEUE_NAME, queue_for

log = logging.getLogger(__name__)
__all__ = ["QUEUE_NAME", "queue_for", "run_worker"]


def check_settings(settings: Settings) -> None:
    """Refuse to start (exit 2, one line) on a malformed delivery setting rather than fail every job."""
    from bot.channels.common.smtp import SmtpConfig

    if settings.smtp_url:
        SmtpConfig.parse(settings.smtp_url)


def preload() -> None:
    """Load the policy and import every job module once in the worker, so that each forked work horse
    inherits them instead of paying for them on every job."""
    import jobs.callbacks
    import jobs.escalation  # noqa: F401

    context.load_policy_once()


def run_worker(settings: Settings, redis_url: str, burst: bool = False, fork: bool = False) -> int:
    """Jobs run in the worker process (SimpleWorker) unless `fork`: they are short and build a fresh
    runtime each time, and skipping a fork per job is what lets one process send ~80 notifications/s."""
    from bot.logs import configure

    configure(settings.countersign_log_level)
    check_settings(settings)
    context.configure(settings, redis_url)
    preload()
    redis = sync_client(redis_url)
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class([queue_for(redis, settings)], connection=redis)
    sweeper = SweeperThread(settings, redis_url) if not burst else None
    if sweeper is not None:
        sweeper.start()
    try:
        worker.work(with_scheduler=True, burst=burst, logging_level=settings.countersign_log_level.upper())
    finally:
        if sweeper is not None:
            sweeper.stop()
    return 0


class SweeperThread(threading.Thread):
    """The expiry sweeper on an event loop of its own, beside RQ's (sync) work loop."""

    def __init__(self, settings: Settings, redis_url: str) -> None:
        super().__init__(name="expiry-sweeper", daemon=True)
        self.settings, self.redis_url = settings, redis_url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:  # the RQ worker goes on; expiry still runs in every other process
            log.exception("the expiry sweeper stopped")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        runtime = build_runtime(self.settings, self.redis_url, policy=context.current_policy())
        runtime.sweep_expiry = True
        await runtime.start()
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runtime.stop()

    def stop(self, timeout_s: float = 5) -> None:
        self._ready.wait(timeout_s)
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self.join(timeout_s)
