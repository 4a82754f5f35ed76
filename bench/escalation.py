"""Escalation benchmark: N pending requests each holding a scheduled Slack-reminder step, run by real
`countersign worker` processes; reports how late steps fire (p50/p99) and notifications per second.

    .venv/bin/python bench/escalation.py [--requests 10000] [--workers 2] [--per-second 200]

Steps come due `--per-second` at a time (RQ stores due times to the second); `--per-second 0` makes all
of them due at once (a pure throughput run). Reminders go to a local Slack Web API stand-in over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from redis import Redis
from rq.registry import ScheduledJobRegistry

from bot.bootstrap import build_runtime
from bot.embedded import EmbeddedRedis
from bot.keys import Keys
from bot.models import Approval, ApprovalCreate
from bot.policy import parse_policy
from bot.settings import Settings, load_settings
from jobs.scheduling import Scheduler, step_job_id
from jobs.worker import queue_for

POLICY = """
levels:
  high:
    channels: [{slack: "#ops"}]
    approvers: [U0ALICE]
    timeout: 6h
    escalate:
      - {after: 1h, slack: "#ops"}
rules:
  - {name: all, match: {action: bench_action}, level: high}
"""


def start_slack_stand_in() -> tuple[str, list[float]]:
    """A minimal Slack Web API (chat.postMessage) on loopback, in its own thread; returns (url, arrivals)."""
    from aiohttp import web

    arrivals: list[float] = []
    ready = threading.Event()
    holder: dict[str, str] = {}

    async def post_message(request: web.Request) -> web.Response:
        await request.read()
        arrivals.append(time.time())
        return web.json_response({"ok": True, "ts": f"{time.time():.6f}"})

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/api/chat.postMessage", post_message)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["url"] = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/api/"  # type: ignore[union-attr]
        ready.set()
        await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    ready.wait(10)
    return holder["url"], arrivals


async def create_requests(settings_kwargs: dict[str, str], count: int) -> list[tuple[str, datetime]]:
    settings = load_settings(**settings_kwargs, _env_file=None)
    runtime = build_runtime(settings, settings.redis_url or "", policy=parse_policy(POLICY, "<bench>"))
    created = []
    try:
        for index in range(count):
            approval, _ = await runtime.service.submit(
                ApprovalCreate(action="bench_action", args={"n": index}), "bench-agent"
            )
            created.append((approval.id, approval.created_at))
    finally:
        await runtime.redis.aclose()
    return created


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-second", type=int, default=200)
    args = parser.parse_args()

    redis_server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="cs-bench-redis-")), persist=False)
    redis_url = redis_server.start()
    slack_url, arrivals = start_slack_stand_in()
    env_settings = {
        "redis_url": redis_url,
        "countersign_redis_prefix": "bench:",
        "countersign_api_keys": "bench-agent:bench-agent-secret-0123456789",
        "slack_bot_token": "xoxb-bench",
        "slack_api_url": slack_url,
        "countersign_secret_key": "bench-secret-key-0123456789abcdef",
        "countersign_agent_rate": "0",
        "countersign_agent_max_pending": "0",  # one agent files them all
    }
    settings = load_settings(**env_settings, _env_file=None)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        started = time.perf_counter()
        created = asyncio.run(create_requests(env_settings, args.requests))
        print(f"created {len(created)} pending requests in {time.perf_counter() - started:.1f} s")

        redis = Redis.from_url(redis_url)
        queue = queue_for(redis, settings)
        scheduler = Scheduler(redis, queue, settings_keys(settings), settings.retention_seconds)
        started = time.perf_counter()
        runtime_view = asyncio.run(load_stored(env_settings, [approval_id for approval_id, _ in created]))
        for approval, route in runtime_view:
            scheduler.schedule(approval, route)
        print(f"scheduled {2 * len(created)} jobs (step + expiry) in {time.perf_counter() - started:.1f} s")

        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "COUNTERSIGN_", "SMTP_"))}
        env.update(
            {
                "REDIS_URL": redis_url,
                "COUNTERSIGN_REDIS_PREFIX": "bench:",
                "COUNTERSIGN_API_KEYS": env_settings["countersign_api_keys"],
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_API_URL": slack_url,
                "COUNTERSIGN_SECRET_KEY": env_settings["countersign_secret_key"],
                "COUNTERSIGN_LOG_LEVEL": "WARNING",
            }
        )
        command = [str(Path(sys.executable).parent / "countersign"), "worker"]
        for _ in range(args.workers):
            workers.append(
                subprocess.Popen(
                    command, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL, start_new_session=True
                )
            )
        time.sleep(3)  # let the workers start and one of them take the scheduler lock

        # Re-time the steps: from a whole second 3 s ahead, `per_second` of them per second.
        registry = ScheduledJobRegistry(queue=queue)
        first_due = int(time.time()) + 3
        due: dict[str, float] = {}
        with redis.pipeline(transaction=False) as pipe:
            for index, (approval_id, _) in enumerate(created):
                offset = index // args.per_second if args.per_second else 0
                due[approval_id] = first_due + offset
                job_id = step_job_id(settings_keys(settings), approval_id, 0, 0)
                pipe.zadd(registry.key, {job_id: first_due + offset})
            pipe.execute()
        deadline = time.time() + 600
        while len(arrivals) < len(created) and time.time() < deadline:
            time.sleep(0.5)
        wall = time.time()
        lateness = []
        notified_at = []
        prefix = "bench:"
        for _entry_id, fields in redis.xrange(f"{prefix}audit"):  # type: ignore[union-attr]
            body = json.loads(fields[b"body"])  # type: ignore[index]
            if body["type"] == "notified":
                at = datetime.fromisoformat(body["at"].replace("Z", "+00:00")).timestamp()
                lateness.append(at - due[body["approval_id"]])
                notified_at.append(at)
        sent = len(notified_at)
        span = max(notified_at) - min(notified_at) if sent > 1 else float("nan")
        busy_from = max(first_due, min(notified_at)) if notified_at else first_due
        print(f"notifications: {sent} of {len(created)} (Slack stand-in got {len(arrivals)})")
        print(
            f"lateness: p50 {statistics.median(lateness):.2f} s, p99 {percentile(lateness, 0.99):.2f} s, "
            f"max {max(lateness):.2f} s"
        )
        print(
            f"throughput: {sent / max(span, 1e-9):.0f} notifications/s over {span:.1f} s "
            f"({args.workers} worker processes); finished {wall - busy_from:.1f} s after the first was due"
        )
        print(f"machine: {os.cpu_count()} cores (nproc), Python {platform.python_version()}, {platform.machine()}")
        return 0
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        redis_server.stop()


def settings_keys(settings: Settings) -> Keys:
    return Keys(settings.countersign_redis_prefix)


async def load_stored(settings_kwargs: dict[str, str], ids: list[str]) -> list[tuple[Approval, dict[str, Any]]]:
    settings = load_settings(**settings_kwargs, _env_file=None)
    runtime = build_runtime(settings, settings.redis_url or "", policy=parse_policy(POLICY, "<bench>"))
    try:
        stored = [await runtime.service.get_stored(approval_id) for approval_id in ids]
        return [(one.approval, one.route) for one in stored]
    finally:
        await runtime.redis.aclose()


if __name__ == "__main__":
    sys.exit(main())
