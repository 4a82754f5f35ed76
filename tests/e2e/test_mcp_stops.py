"""`countersign mcp` exits promptly while a tool call is still waiting for a human: on SIGTERM, and when
its client closes stdin."""

from __future__ import annotations

import asyncio
import json
import signal
import time

from tests.support.agents import filed
from tests.support.processes import cli_env, countersign_cmd

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
}
CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "request_approval", "arguments": {"action": "deploy"}},
}


async def _waiting_mcp(app) -> asyncio.subprocess.Process:
    """An MCP server with one tool call filed and waiting for a decision."""
    process = await asyncio.create_subprocess_exec(
        *countersign_cmd("mcp"),
        env=cli_env(app.url),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    async with filed(app) as queue:
        process.stdin.write(json.dumps(INIT).encode() + b"\n")
        assert json.loads(await asyncio.wait_for(process.stdout.readline(), 20))["id"] == 1
        notice = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        process.stdin.write(json.dumps(notice).encode() + b"\n" + json.dumps(CALL).encode() + b"\n")
        await process.stdin.drain()
        await asyncio.wait_for(queue.next(), 20)  # the call is filed and now waits for a human
    return process


async def _exit_time(process: asyncio.subprocess.Process) -> float:
    started = time.monotonic()
    try:
        await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return time.monotonic() - started


async def test_mcp_server_exits_on_sigterm_with_a_call_waiting(app):
    process = await _waiting_mcp(app)
    process.send_signal(signal.SIGTERM)
    assert await _exit_time(process) < 5


async def test_mcp_server_exits_when_stdin_closes_with_a_call_waiting(app):
    process = await _waiting_mcp(app)
    assert process.stdin is not None
    process.stdin.close()
    assert await _exit_time(process) < 5
