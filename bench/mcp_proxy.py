"""Benchmark: the latency `countersign mcp-proxy` adds to a tool call the policy auto-approves.

A real `countersign serve` (valkey behind it) with a policy that makes `mcp.fs.read_text_file` low (auto-
approved), the reference filesystem MCP server from npm (tests/fixtures/mcp_upstream, `npm ci` there first),
and the official `mcp` client. The same N `read_text_file` calls go (a) to the upstream directly and (b)
through the proxy, interleaved in rounds so that the machine's load weighs on both alike.

Run: .venv/bin/python bench/mcp_proxy.py [--n 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client

from bench.sdk import AGENT_KEY, free_port, start_server
from bot.embedded import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT / "tests" / "fixtures" / "mcp_upstream" / "node_modules" / ".bin" / "mcp-server-filesystem"
POLICY = """
default_level: medium
levels:
  low: {auto_approve: true}
  medium: {channels: [{web: queue}], timeout: 1h}
rules:
  - {name: reads, match: {action: "mcp.fs.read_text_file"}, level: low}
"""
ROUND = 50


async def session(stack: AsyncExitStack, params: StdioServerParameters) -> ClientSession:
    read, write = await stack.enter_async_context(stdio_client(params))
    client = await stack.enter_async_context(ClientSession(read, write))
    await client.initialize()
    return client


async def timed_calls(client: ClientSession, path: str, count: int, into: list[float]) -> None:
    for _ in range(count):
        started = time.perf_counter()
        result = await client.call_tool("read_text_file", {"path": path})
        into.append((time.perf_counter() - started) * 1000)
        if result.is_error:
            raise SystemExit(f"call failed: {result.content}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(n: int) -> None:
    if not UPSTREAM.exists():
        raise SystemExit(f"{UPSTREAM} missing: run `npm ci` in tests/fixtures/mcp_upstream")
    workdir = Path(tempfile.mkdtemp(prefix="cs-bench-mcp-"))
    (workdir / "files").mkdir()
    target = workdir / "files" / "notes.txt"
    target.write_text("hello\n" * 20)
    redis = EmbeddedRedis(workdir / "redis", persist=False)
    redis_url = redis.start()
    port = free_port()
    server = start_server(redis_url, port, workdir, POLICY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERSIGN_")}
    env.update(COUNTERSIGN_URL=f"http://127.0.0.1:{port}", COUNTERSIGN_API_KEY=AGENT_KEY, PYTHONPATH=str(ROOT))
    direct_params = StdioServerParameters(command=str(UPSTREAM), args=[str(workdir / "files")])
    proxy_params = StdioServerParameters(
        command=sys.executable,
        env=env,
        args=["-m", "bot.cli", "mcp-proxy", "--name", "fs", "--", str(UPSTREAM), str(workdir / "files")],
    )
    direct_ms: list[float] = []
    proxied_ms: list[float] = []
    try:
        async with AsyncExitStack() as stack:
            direct = await session(stack, direct_params)
            proxied = await session(stack, proxy_params)
            await timed_calls(direct, str(target), 20, [])  # warm-up: imports, connections, JIT
            await timed_calls(proxied, str(target), 20, [])
            for _ in range(max(1, n // ROUND)):
                await timed_calls(direct, str(target), ROUND, direct_ms)
                await timed_calls(proxied, str(target), ROUND, proxied_ms)
    finally:
        server.terminate()
        server.wait(10)
        redis.stop()
    d50, p50 = statistics.median(direct_ms), statistics.median(proxied_ms)
    d99, p99 = pct(direct_ms, 0.99), pct(proxied_ms, 0.99)
    print(
        f"machine: {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )
    print(f"{len(direct_ms)} calls each, read_text_file auto-approved by policy")
    print(f"upstream directly:  p50 {d50:.2f} ms  p99 {d99:.2f} ms")
    print(f"through mcp-proxy:  p50 {p50:.2f} ms  p99 {p99:.2f} ms")
    print(f"added by the proxy: p50 {p50 - d50:.2f} ms  p99 {p99 - d99:.2f} ms (target: p50 <= 10 ms added)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500)
    asyncio.run(main(parser.parse_args().n))
