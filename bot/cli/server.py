"""Server commands: `serve` (the web service) and `worker` (the RQ worker)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.errors import ConfigError
from bot.settings import load_settings

log = logging.getLogger("countersign")


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.bootstrap import build_runtime, serving_redis_url
    from bot.logs import configure
    from bot.policy import load_policy
    from bot.server import build_application, run
    from bot.supervisor import serve_workers, worker_count

    settings = load_settings()
    configure(settings.countersign_log_level)
    warn_unknown_variables()
    policy = load_policy(settings.countersign_policy)
    host, port = args.host or settings.host, args.port if args.port is not None else settings.port
    if (workers := worker_count(args.workers)) > 1:
        return serve_workers(settings, host, port, workers)
    with serving_redis_url(settings) as url:
        runtime = build_runtime(settings, url, policy=policy)
        runtime.sweep_expiry = True  # one `countersign serve` expires requests even without a worker
        app = build_application(runtime)
        log.info("Countersign listening on http://%s:%s", host, port)
        try:
            run(app, settings, host, port, new_event_loop(), reuse_port=args.reuse_port)
        except OSError as exc:  # address in use, unknown host, no permission
            raise ConfigError(f"HOST/PORT: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return 0


def warn_unknown_variables() -> None:
    import os

    from bot.envcheck import unknown_variables

    for line in unknown_variables(os.environ):
        log.warning("%s", line)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (20-50 % more requests/s), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def cmd_worker(args: argparse.Namespace) -> int:
    from bot.bootstrap import resolve_redis_url
    from jobs.worker import run_worker

    settings = load_settings()
    warn_unknown_variables()
    return run_worker(settings, resolve_redis_url(settings), burst=args.burst, fork=args.fork)
