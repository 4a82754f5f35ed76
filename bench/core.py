"""Core benchmark: (a) POST /v1/approvals req/s vs a bare aiohttp hello-world under wrk, 50 connections;
(b) decision → long-poll wake-up latency over 1,000 decisions made in a second process;
(c) Redis memory per pending request at 10,000 pending.

Run: .venv/bin/python bench/core.py [--throughput-only]   (needs `wrk`: apt-get install wrk)
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bodies import BARE, sdk_body  # noqa: E402
from bot.embedded import EmbeddedRedis, free_port  # noqa: E402

AGENT = "bench-agent-secret-0123456789"
APPROVER = "bench-approver-secret-0123456789"
REQUEST = BARE
SDK_REQUEST = sdk_body()
WRK_LUA = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""
# Every request carries different SQL, so the SQL classification cache never helps.
WRK_LUA_UNIQUE = (
    WRK_LUA
    + """
counter = 0
request = function()
  counter = counter + 1
  local body = string.gsub(wrk.body, "user_123'", "user_" .. counter .. "-" .. math.random(1e9) .. "'")
  return wrk.format(nil, nil, nil, body)
end
"""
)


def env_for(redis_url: str, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "COUNTERSIGN_REDIS_PREFIX": prefix,
        "COUNTERSIGN_API_KEYS": f"bench:{AGENT}",
        "COUNTERSIGN_APPROVER_KEYS": f"boss:{APPROVER}",
        "COUNTERSIGN_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        # The benchmark files far more than one agent may: per-agent limits off.
        "COUNTERSIGN_AGENT_RATE": "0",
        "COUNTERSIGN_AGENT_MAX_PENDING": "0",
    }


def wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def wrk(port: int, body: dict, seconds: int = 10, unique: bool = False) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write((WRK_LUA_UNIQUE if unique else WRK_LUA) % (json.dumps(body), AGENT))
    out = subprocess.run(
        ["wrk", "-t2", "-c50", f"-d{seconds}s", "-s", script.name, f"http://127.0.0.1:{port}/v1/approvals"],
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(out)


def throughput(redis_url: str) -> dict[str, float]:
    """req/s for hello-world, then one `countersign serve` and `serve --workers 2`, each with both bodies."""
    port = free_port()
    hello = start([sys.executable, str(ROOT / "bench" / "hello.py"), str(port)], dict(os.environ), port)
    try:
        wrk(port, REQUEST, 3)
        figures = {"hello": wrk(port, REQUEST)}
    finally:
        hello.terminate()
        hello.wait()
    for workers in (1, 2):
        port = free_port()
        env = {**env_for(redis_url, f"bench-a{workers}:"), "PORT": str(port)}
        serve = start([sys.executable, "-m", "bot.cli", "serve", "--workers", str(workers)], env, port)
        try:
            wrk(port, SDK_REQUEST, 3)
            figures[f"bare-{workers}"] = wrk(port, REQUEST)
            figures[f"sdk-{workers}"] = wrk(port, SDK_REQUEST)
            if workers == 1:
                figures["unique-1"] = wrk(port, REQUEST, unique=True)
        finally:
            serve.terminate()
            serve.wait()
    return figures


def report_throughput(figures: dict[str, float]) -> None:
    hello = figures["hello"]
    print(f"(a) hello-world (1 process): {hello:,.0f} req/s")
    for body in ("bare", "sdk"):
        one, two = figures[f"{body}-1"], figures[f"{body}-2"]
        print(
            f"    POST /v1/approvals, {body} body: 1 process {one:,.0f} req/s (ratio {one / hello:.2f}, target "
            f">= 0.20); --workers 2 {two:,.0f} req/s ({two / one:.2f}x, target >= 1.6x)"
        )
    print(
        f"    bare body, different SQL every request: {figures['unique-1']:,.0f} req/s "
        f"(ratio {figures['unique-1'] / hello:.2f})"
    )


async def wakeups(redis_url: str, count: int = 1000) -> list[float]:
    port = free_port()
    env = {**env_for(redis_url, "bench-b:"), "PORT": str(port)}
    serve = start([sys.executable, "-m", "bot.cli", "serve"], env, port)
    decider = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "decider.py")],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {AGENT}"}
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            for _ in range(count):
                async with http.post("/v1/approvals", json={"action": "deploy"}, headers=headers) as resp:
                    approval_id = (await resp.json())["id"]
                poll = asyncio.create_task(http.get(f"/v1/approvals/{approval_id}?wait=30", headers=headers))
                await asyncio.sleep(0.005)  # let the long-poll reach the server and register its waiter
                assert decider.stdin and decider.stdout
                decider.stdin.write(approval_id + "\n")
                decider.stdin.flush()
                resp = await poll
                returned = time.monotonic_ns()
                body = await resp.json()
                assert body["status"] == "approved", body
                committed = int(await asyncio.to_thread(decider.stdout.readline))
                latencies.append((returned - committed) / 1e6)
    finally:
        if decider.stdin:
            decider.stdin.close()
        decider.wait()
        serve.terminate()
        serve.wait()
    return latencies


async def memory(redis_url: str, count: int = 10_000, prefix: str = "bench-c:") -> float:
    from bot.bootstrap import build_runtime
    from bot.clock import SystemClock
    from bot.models import ApprovalCreate
    from bot.settings import load_settings

    os.environ.update(env_for(redis_url, prefix))
    settings = load_settings(_env_file=None)
    runtime = build_runtime(settings, redis_url, clock=SystemClock())
    client = redis.Redis.from_url(redis_url)
    request = ApprovalCreate.model_validate(REQUEST)
    before = client.info("memory")["used_memory"]
    sem = asyncio.Semaphore(50)

    async def one(i: int) -> None:
        async with sem:
            await runtime.service.submit(request.model_copy(update={"run_id": f"run-{i}"}), "bench")

    await asyncio.gather(*(one(i) for i in range(count)))
    after = client.info("memory")["used_memory"]
    assert (await runtime.store.pending_by_level()).get("high") == count
    await runtime.redis.aclose()
    return (after - before) / count


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="cs-bench-")), persist=False)
    url = server.start()
    try:
        figures = throughput(url)
        if "--throughput-only" in sys.argv:
            report_throughput(figures)
            return
        lat = asyncio.run(wakeups(url))
        per_request = asyncio.run(memory(url))
        # The same on Redis's default hash encoding threshold (what an untuned production Redis does).
        redis.Redis.from_url(url).config_set("hash-max-listpack-value", 64)
        per_request_default = asyncio.run(memory(url, prefix="bench-d:"))
    finally:
        server.stop()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    report_throughput(figures)
    print(
        f"(b) decision -> long-poll wake-up over {len(lat)} decisions: p50 {statistics.median(lat):.2f} ms, "
        f"p99 {pct(lat, 0.99):.2f} ms, max {max(lat):.2f} ms (target p99 <= 10 ms)"
    )
    print(
        f"(c) Redis memory per pending request at 10,000 pending: {per_request:,.0f} bytes "
        f"({per_request / 1024:.2f} KiB; target <= 2 KiB) with hash-max-listpack-value 2048 (the embedded "
        f"server's setting); {per_request_default:,.0f} bytes ({per_request_default / 1024:.2f} KiB) with "
        "Redis's default 64"
    )


if __name__ == "__main__":
    main()
