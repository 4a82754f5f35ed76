"""Benchmark of the agent SDK against a real `countersign serve` process (its own process, valkey behind it).

Measures, from the agent's side:
  0. baseline: the same POST the fast path makes, over one kept-alive httpx client (no SDK);
  1. fast path: a call the policy approves at once (one POST) — decorator overhead;
  2. human path: a call decided by an approver as soon as it is filed (approver = this script, told by
     Redis pub/sub and deciding through the HTTP API) — file + long-poll wake-up + decide latency;
  3. the same, sync decorator;
  4. N concurrent async gated calls, all decided by the approver.

Run: .venv/bin/python bench/sdk.py [--n 200] [--concurrent 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from redis.asyncio import Redis

from bot.embedded import EmbeddedRedis
from countersign_sdk import Countersign

AGENT_KEY = "bench-agent-key-0123456789abcdef"
APPROVER_KEY = "bench-approver-key-0123456789abcd"
PREFIX = "bench:"
POLICY = """
default_level: medium
levels:
  low: {auto_approve: true}
  medium: {channels: [{web: queue}], timeout: 1h}
rules:
  - name: fast
    match: {action: noop}
    level: low
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(redis_url: str, port: int, workdir: Path, policy_text: str = POLICY) -> subprocess.Popen[bytes]:
    policy = workdir / "policy.yaml"
    policy.write_text(policy_text)
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "COUNTERSIGN_API_KEYS": f"bench:{AGENT_KEY}",
        "COUNTERSIGN_APPROVER_KEYS": f"boss:{APPROVER_KEY}",
        "COUNTERSIGN_REDIS_PREFIX": PREFIX,
        "COUNTERSIGN_POLICY": str(policy),
        "COUNTERSIGN_LOG_LEVEL": "WARNING",
        "COUNTERSIGN_AGENT_RATE": "0",
        "COUNTERSIGN_AGENT_MAX_PENDING": "0",
    }
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env, cwd=workdir)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)  # start-up only: nothing to await yet
    process.kill()
    raise SystemExit("server did not start")


async def approve(client: httpx.AsyncClient, approval_id: str) -> None:
    for attempt in range(20):
        response = await client.post(f"/v1/approvals/{approval_id}/decision", json={"outcome": "approve"})
        if response.status_code in (200, 409):
            return
        await asyncio.sleep(0.05 * (attempt + 1))  # the server refused under load: try again
    print(f"could not approve {approval_id}", file=sys.stderr)


async def approver(redis_url: str, url: str, ready: asyncio.Event) -> None:
    """Approve every request the moment it is filed (pushed by pub/sub, decided over HTTP)."""
    redis = Redis.from_url(redis_url)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(f"{PREFIX}changes")
    ready.set()
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {APPROVER_KEY}"}) as client:
        tasks = set()
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if not message or message.get("type") != "message":
                    continue
                approval_id, _, status = message["data"].decode().partition(" ")
                if status == "pending":
                    task = asyncio.create_task(approve(client, approval_id))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            await pubsub.aclose()
            await redis.aclose()


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    median, mean = statistics.median(ms), statistics.mean(ms)
    return f"p50 {median:.1f} ms, p95 {p95:.1f} ms, mean {mean:.1f} ms (n={len(ms)})"


async def main(n: int, concurrent: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="cs-bench-sdk-"))
    redis = EmbeddedRedis(workdir / "redis", persist=False)
    redis_url = redis.start()
    port = free_port()
    server = start_server(redis_url, port, workdir)
    url = f"http://127.0.0.1:{port}"
    ready = asyncio.Event()
    decider = asyncio.create_task(approver(redis_url, url, ready))
    await ready.wait()
    gate = Countersign(url=url, api_key=AGENT_KEY)

    @gate.require_approval()
    async def noop(i: int) -> int:
        return i

    @gate.require_approval()
    async def deploy(i: int) -> int:
        return i

    @gate.require_approval()
    def deploy_sync(i: int) -> int:
        return i

    try:
        results: dict[str, str] = {}
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {AGENT_KEY}"}) as raw:
            samples = []
            for i in range(n):
                start = time.perf_counter()
                response = await raw.post("/v1/approvals", json={"action": "noop", "args": {"i": i}})
                assert response.status_code == 201
                samples.append(time.perf_counter() - start)
            results["baseline: raw POST (auto-approved), one persistent httpx client"] = summary(samples)
        for label, fn in (
            ("fast path (policy auto-approve), async", noop),
            ("human path (approver decides at once), async", deploy),
        ):
            samples = []
            for i in range(n):
                start = time.perf_counter()
                assert await fn(i) == i
                samples.append(time.perf_counter() - start)
            results[label] = summary(samples)

        samples = []
        for i in range(n):
            start = time.perf_counter()
            assert await asyncio.to_thread(deploy_sync, i) == i
            samples.append(time.perf_counter() - start)
        results["human path, sync decorator"] = summary(samples)

        start = time.perf_counter()
        done = await asyncio.gather(*(deploy(i) for i in range(concurrent)))
        elapsed = time.perf_counter() - start
        assert done == list(range(concurrent))
        results[f"{concurrent} concurrent async gated calls"] = (
            f"all decided and run in {elapsed:.2f} s ({concurrent / elapsed:.0f} calls/s)"
        )
    finally:
        decider.cancel()
        server.terminate()
        server.wait(10)
        redis.stop()

    print(
        f"machine: {os.cpu_count()} cores (nproc), {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.machine()}"
    )
    for label, figure in results.items():
        print(f"- {label}: {figure}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=50)
    options = parser.parse_args()
    asyncio.run(main(options.n, options.concurrent))
