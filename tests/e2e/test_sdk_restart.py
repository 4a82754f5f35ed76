"""The SDK rides out a server that is down at first and restarts mid-wait, filing the request once."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager

from aiohttp.test_utils import TestServer

from bot.bootstrap import build_runtime
from bot.server import build_application
from countersign_sdk import Countersign
from countersign_sdk.protocol import RetryPolicy
from tests.support.agents import filed
from tests.support.servers import AGENT_KEY, APPROVER_KEY, RunningApp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve_on(settings, port: int):
    runtime = build_runtime(settings, settings.redis_url or "")
    server = TestServer(build_application(runtime), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield RunningApp(runtime, None, server)  # type: ignore[arg-type]
    finally:
        await server.close()


async def test_down_then_restarted_mid_wait(settings):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    gate = Countersign(url=url, api_key=AGENT_KEY, retry=RetryPolicy(attempts=40, base=0.05, cap=0.2))
    approver = Countersign(url=url, api_key=APPROVER_KEY)

    @gate.require_approval(idempotency_key="tool-call-77")
    async def deploy(env: str) -> str:
        return f"deployed {env}"

    # Nothing listens yet: the SDK backs off and retries.
    running = asyncio.create_task(deploy("prod"))
    async with serve_on(settings, port) as first, filed(first) as queue:
        approval_id = await queue.next()
    # The first server is gone while the SDK long-polls; a new process comes up on the same port.
    async with serve_on(settings, port):
        decided = await approver.aio.decide(approval_id, "approve", "go")
        assert decided.status == "approved"
        assert await asyncio.wait_for(running, 20) == "deployed prod"
        listed = await approver.aio.list(status=None)
    assert [a.id for a in listed] == [approval_id]  # filed exactly once
