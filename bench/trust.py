"""Trust benchmark: (a) intake throughput with 1,000 active standing grants compared to none (grant
matching may cost at most 20 % of it); (b) a burst of 100 requests to one Slack channel: messages posted,
and the time until all 100 are visible in Slack (target: ≤ 3 messages within 5 s).

(a) runs the service's intake (`ApprovalService.submit`: checks, classification, grant look-up, the create
script) in this process, 32 concurrent agents, against the embedded valkey-server; rounds alternate between
a key prefix with no grants and one with 1,000, so drift on the shared machine hits both alike. Requests
match no grant (every one still looks, and goes to people); a last figure files requests a grant approves.
(b) runs `countersign serve` as its own process with the Slack emulator in this one, as bench/slack.py.

Run: .venv/bin/python bench/trust.py
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.core import AGENT, env_for, start  # noqa: E402
from bot.bootstrap import build_runtime  # noqa: E402
from bot.deciders import Decider  # noqa: E402
from bot.embedded import EmbeddedRedis, free_port  # noqa: E402
from bot.grants import GrantCreate  # noqa: E402
from bot.models import ApprovalCreate  # noqa: E402
from bot.policy import parse_policy  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from tests.support.slack_emulator import BOT_TOKEN, SIGNING_SECRET, SlackEmulator  # noqa: E402

GRANTS = 1000
PER_ROUND = 2000
ROUNDS = 5
CONCURRENCY = 32
BURST = 100
POLICY = """
default_level: medium
levels:
  medium: {channels: [{slack: "#approvals"}], timeout: 1h}
  high: {channels: [{slack: "#approvals"}], timeout: 1h}
rules:
  - {name: prod, match: {args: {env: prod}}, level: high}
"""
REQUEST = {
    "action": "deploy",
    "args": {"service": "billing", "env": "staging", "replicas": 3},
    "context": {"why": "release 4.2"},
}


def runtime_for(redis_url: str, prefix: str, policy: str = POLICY) -> Runtime:
    settings = load_settings(
        _env_file=None,
        redis_url=redis_url,
        countersign_redis_prefix=prefix,
        countersign_secret_key="bench-secret-key-0123456789abcdef0123456789",
        countersign_agent_rate="0",
        countersign_agent_max_pending=0,
        countersign_callback_allow="",
    )
    return build_runtime(settings, redis_url, policy=parse_policy(policy, "bench"))


async def add_grants(runtime: Runtime) -> None:
    """1,000 grants as a real deployment might hold them: most for named agents and actions, some globs,
    a few covering the bench agent's action with conditions its requests fail (so they are evaluated)."""
    admin = Decider("api", "boss", "boss", admin=True)
    expires = runtime.clock.now() + timedelta(days=7)
    for n in range(GRANTS):
        if n % 10 == 0:
            agent, action = f"team-{n}-*", f"job.{n}.*"
        elif n % 50 == 1:
            agent, action = "bench", "deploy"  # the bench agent's action; a condition it fails
        else:
            agent, action = f"agent-{n}", f"action-{n}"
        await runtime.trust.create(
            GrantCreate.model_validate(
                {
                    "agent": agent,
                    "action": action,
                    "max_level": "high",
                    "expires_at": expires.isoformat(),
                    "args": {"service": {"eq": f"svc-{n}"}, "env": {"in": ["dev", "staging"]}, "replicas": {"lte": 5}},
                }
            ),
            admin,
        )


async def intake_rate(runtime: Runtime, count: int, body: dict[str, object] = REQUEST) -> float:
    request = ApprovalCreate.model_validate(body)
    service = runtime.service
    queue = iter(range(count))

    async def agent() -> None:
        for _ in queue:
            await service.submit(request, "bench")

    before_cpu, before_redis = time.process_time(), await redis_cpu(runtime)
    started = time.perf_counter()
    await asyncio.gather(*(agent() for _ in range(CONCURRENCY)))
    wall = time.perf_counter() - started
    cpu = time.process_time() - before_cpu + await redis_cpu(runtime) - before_redis
    CPU_US[id(runtime)].append(cpu / count * 1e6)
    return count / wall


CPU_US: dict[int, list[float]] = defaultdict(list)


async def redis_cpu(runtime: Runtime) -> float:
    """CPU seconds the Redis server has used: with this process's, what one request costs whatever else
    the shared machine is doing (the wall-clock rate swings with other load)."""
    info = await runtime.redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def intake(redis_url: str) -> dict[str, float]:
    plain, granted = runtime_for(redis_url, "bt-none:"), runtime_for(redis_url, "bt-grants:")
    # Reference for the approved-at-once path: policy auto-approve writes the same two audit entries.
    auto = runtime_for(redis_url, "bt-auto:", POLICY.replace("medium: {", "medium: {auto_approve: true, "))
    for runtime in (plain, granted, auto):
        await runtime.feed.start()
    try:
        await add_grants(granted)
        await intake_rate(plain, 300)  # warm both: scripts loaded, index built
        await intake_rate(granted, 300)
        none_rates, grant_rates = [], []
        for _ in range(ROUNDS):
            none_rates.append(await intake_rate(plain, PER_ROUND))
            grant_rates.append(await intake_rate(granted, PER_ROUND))
        await granted.trust.create(
            GrantCreate.model_validate(
                {
                    "agent": "bench",
                    "action": "deploy",
                    "max_level": "high",
                    "extra_args": True,
                    "expires_at": (granted.clock.now() + timedelta(days=7)).isoformat(),
                }
            ),
            Decider("api", "b", admin=True),
        )
        await intake_rate(auto, 300)
        matched, policy_approved = [], []
        for _ in range(ROUNDS):
            matched.append(await intake_rate(granted, PER_ROUND))
            policy_approved.append(await intake_rate(auto, PER_ROUND))
        return {
            "none": statistics.median(none_rates),
            "grants": statistics.median(grant_rates),
            "matched": statistics.median(matched),
            "auto": statistics.median(policy_approved),
            "cpu_none": statistics.median(CPU_US[id(plain)][1:]),
            "cpu_grants": statistics.median(CPU_US[id(granted)][1 : ROUNDS + 1]),
            "cpu_matched": statistics.median(CPU_US[id(granted)][ROUNDS + 1 :]),
            "cpu_auto": statistics.median(CPU_US[id(auto)][1:]),
        }
    finally:
        for runtime in (plain, granted, auto):
            await runtime.feed.stop()
            await runtime.redis.aclose()


async def burst(redis_url: str) -> dict[str, float]:
    emulator = SlackEmulator()
    await emulator.start()
    policy = Path(tempfile.mkdtemp(prefix="cs-bench-trust-")) / "policy.yaml"
    policy.write_text(POLICY)
    port = free_port()
    env = {
        **env_for(redis_url, "bench-burst:"),
        "PORT": str(port),
        "COUNTERSIGN_POLICY": str(policy),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emulator.api_url,
    }
    serve = await asyncio.to_thread(start, [sys.executable, "-m", "bot.cli", "serve"], env, port)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:

            async def file(n: int) -> str:
                async with http.post(
                    "/v1/approvals",
                    json={"action": "deploy", "args": {"n": n}},
                    headers={"Authorization": f"Bearer {AGENT}"},
                ) as response:
                    return str((await response.json())["id"])

            started = time.monotonic()
            ids = await asyncio.gather(*(file(n) for n in range(BURST)))

            def visible() -> int:
                """Requests a person can see: in their own message, or counted in a digest."""
                alone = {i for m in emulator.posted() if "(digest)" not in m.text for i in ids if i in m.all_text}
                digested = sum(int(m.text.split()[0]) for m in emulator.posted() if "(digest)" in m.text)
                return len(alone) + digested

            while visible() < BURST and time.monotonic() - started < 30:
                await asyncio.sleep(0.02)  # watching the emulator from outside; the server itself is pushed
            seen_s = time.monotonic() - started
            await asyncio.sleep(2.0)  # anything else the burst still causes
            posts = [c for c in emulator.calls if c.method == "chat.postMessage"]
            updates = [c for c in emulator.calls if c.method == "chat.update"]
            return {
                "seen_s": seen_s,
                "visible": visible(),
                "posts": len(posts),
                "updates": len(updates),
                "r429": sum(1 for c in posts if c.status == 429),
            }
    finally:
        serve.terminate()
        await asyncio.to_thread(serve.wait)
        await emulator.stop()


def main() -> None:
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="cs-bench-")), persist=False)
    url = server.start()
    try:
        rates = asyncio.run(intake(url))
        flood = asyncio.run(burst(url))
    finally:
        server.stop()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}, load {os.getloadavg()[0]:.2f}"
    )
    ratio = rates["grants"] / rates["none"]
    print(
        f"(a) intake, {CONCURRENCY} concurrent, median of {ROUNDS} rounds of {PER_ROUND}: no grants "
        f"{rates['none']:.0f}/s; {GRANTS} grants (none matching) {rates['grants']:.0f}/s = {ratio:.1%} "
        f"(target >= 80%); approved by a grant {rates['matched']:.0f}/s vs auto-approved by policy "
        f"{rates['auto']:.0f}/s = {rates['matched'] / rates['auto']:.1%}"
    )
    print(
        f"    CPU per request (this process + the Redis server): no grants {rates['cpu_none']:.0f} µs; "
        f"1,000 grants {rates['cpu_grants']:.0f} µs → throughput ratio {rates['cpu_none'] / rates['cpu_grants']:.1%} "
        f"(target >= 80%); approved by a grant {rates['cpu_matched']:.0f} µs vs by policy {rates['cpu_auto']:.0f} µs"
    )
    print(
        f"(b) burst of {BURST} to one channel: {flood['visible']:.0f} visible after {flood['seen_s']:.2f} s "
        f"in {flood['posts']:.0f} chat.postMessage ({flood['updates']:.0f} chat.update, {flood['r429']:.0f} "
        "429s) (target: <= 3 messages within 5 s)"
    )


if __name__ == "__main__":
    main()
