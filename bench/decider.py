"""Second process for the wake-up benchmark: decides approvals it is told about, reports commit times."""

import asyncio
import sys
import time

from bot.bootstrap import build_runtime
from bot.clock import SystemClock
from bot.service import Decider
from bot.settings import load_settings


async def main() -> None:
    settings = load_settings()
    runtime = build_runtime(settings, settings.redis_url or "", clock=SystemClock())
    decider = Decider(channel="api", id="bench", name="bench", admin=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        await runtime.service.decide(line, decider, "approve")
        sys.stdout.write(f"{time.monotonic_ns()}\n")
        sys.stdout.flush()
    await runtime.redis.aclose()


asyncio.run(main())
