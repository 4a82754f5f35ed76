"""Slack benchmark: (a) acknowledgement latency of a signed Approve click at POST /slack/events;
(b) time from `POST /v1/approvals` returning to `chat.postMessage` arriving at a local Slack emulator;
(c) a burst of 20 requests to one channel: how it is spread, and how many 429s it causes.

`countersign serve` runs as its own process (uvloop, as in production) against the embedded valkey-server;
the Slack Web API emulator and the clicking client run in this process.

Run: .venv/bin/python bench/slack.py
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.core import AGENT, env_for, pct, start  # noqa: E402
from blocks.approval import APPROVE  # noqa: E402
from bot.embedded import EmbeddedRedis, free_port  # noqa: E402
from tests.support.slack_emulator import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    SlackEmulator,
    SlackPlayer,
    signature,
)

POLICY = """
default_level: medium
levels:
  medium: {channels: [{slack: "#approvals"}], timeout: 1h, digest_after: 1000}
"""  # digests off: (c) measures the pacing of individual posts (bench/trust.py measures a burst as a digest)
CLICKS = 300
POSTS = 30


async def signed_post(http: aiohttp.ClientSession, payload: dict) -> float:
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(SIGNING_SECRET, timestamp, body),
    }
    started = time.perf_counter()
    async with http.post("/slack/events", data=body.encode(), headers=headers) as response:
        await response.read()
        assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000


async def file(http: aiohttp.ClientSession, action: str) -> tuple[str, float]:
    async with http.post(
        "/v1/approvals", json={"action": action, "args": {"n": 1}}, headers={"Authorization": f"Bearer {AGENT}"}
    ) as response:
        body = await response.json()
        return body["id"], time.monotonic()


async def run(redis_url: str) -> dict[str, object]:
    emulator = SlackEmulator()
    emulator.channel_members["C0APPROVALS"] = ["U0WARM", *(f"U0C{i:04d}" for i in range(CLICKS))]
    await emulator.start()
    policy = Path(tempfile.mkdtemp(prefix="cs-bench-slack-")) / "policy.yaml"
    policy.write_text(POLICY)
    port = free_port()
    env = {
        **env_for(redis_url, "bench-slack:"),
        "PORT": str(port),
        "COUNTERSIGN_POLICY": str(policy),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emulator.api_url,
    }
    serve = await asyncio.to_thread(start, [sys.executable, "-m", "bot.cli", "serve"], env, port)
    results: dict[str, object] = {}
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            player = SlackPlayer(None, emulator)  # type: ignore[arg-type]  # only builds payloads here
            # (b) one request at a time, spaced past the channel's 1 s pacing so none is queued.
            post_ms = []
            for i in range(POSTS):
                before = time.monotonic()
                approval_id, _ = await file(http, f"post-{i}")
                [call] = await emulator.wait_for(
                    "chat.postMessage", seconds=10, where=lambda c, a=approval_id: a in str(c.args.get("blocks"))
                )
                post_ms.append((call.at - before) * 1000)
                await asyncio.sleep(1.05)
            results["post"] = post_ms
            # (a) Approve clicks by different people on different pending requests, one at a time.
            ids = [(await file(http, f"click-{i}"))[0] for i in range(CLICKS)]
            await signed_post(http, player.block_action("U0WARM", APPROVE, ids.pop()))  # auth.test, once
            ack_ms = [
                await signed_post(http, player.block_action(f"U0C{i:04d}", APPROVE, approval_id))
                for i, approval_id in enumerate(ids)
            ]
            results["ack"] = ack_ms
            # (c) a burst of 20 to one channel (the clicks above were all decided, so nothing is queued).
            await asyncio.sleep(1.1)
            first_call = len(emulator.calls)
            burst_started = time.monotonic()
            burst_ids = await asyncio.gather(*[file(http, f"burst-{i}") for i in range(20)])
            wanted = {approval_id for approval_id, _ in burst_ids}
            await emulator.wait_for(
                "chat.postMessage",
                seconds=60,
                where=lambda c: any(a in str(c.args.get("blocks")) for a in wanted),
                count=20,
            )
            posts = [c for c in emulator.calls[first_call:] if c.method == "chat.postMessage"]
            # Only the burst's own messages: other posts (e.g. thread replies after the clicks' decisions)
            # share the channel's pacing and are counted apart, not mistaken for the burst's spread.
            burst_calls = [c for c in posts if any(a in str(c.args.get("blocks")) for a in wanted)]
            results["burst_spread_s"] = burst_calls[-1].at - burst_calls[0].at
            results["burst_since_filing_s"] = burst_calls[-1].at - burst_started
            results["burst_other_posts"] = len(posts) - len(burst_calls)
            results["burst_429"] = sum(1 for c in posts if c.status == 429)
    finally:
        serve.terminate()
        await asyncio.to_thread(serve.wait)
        await emulator.stop()
    return results


def main() -> None:
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="cs-bench-")), persist=False)
    url = server.start()
    try:
        results = asyncio.run(run(url))
    finally:
        server.stop()
    ack, post = results["ack"], results["post"]
    assert isinstance(ack, list) and isinstance(post, list)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    print(
        f"(a) Approve click ack over {len(ack)} clicks: p50 {statistics.median(ack):.1f} ms, "
        f"p99 {pct(ack, 0.99):.1f} ms, max {max(ack):.1f} ms (target p99 <= 50 ms)"
    )
    print(
        f"(b) POST /v1/approvals -> chat.postMessage at the emulator over {len(post)} requests: "
        f"p50 {statistics.median(post):.1f} ms, p99 {pct(post, 0.99):.1f} ms (target p50 <= 50 ms)"
    )
    print(
        f"(c) burst of 20 to one channel: posted over {results['burst_spread_s']:.1f} s "
        f"(last {results['burst_since_filing_s']:.1f} s after filing; {results['burst_other_posts']} other posts "
        f"in that time), {results['burst_429']} responses were 429"
    )


if __name__ == "__main__":
    main()
