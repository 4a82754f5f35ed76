"""`countersign mcp` as a real stdio subprocess, driven by the official `mcp` client."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp import ClientSession, StdioServerParameters, stdio_client

from tests.support.agents import decide, fetch, filed
from tests.support.processes import cli_env


@asynccontextmanager
async def mcp_session(url: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "bot.cli", "mcp"], env=cli_env(url))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def result_json(result) -> dict:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


async def test_tools_are_listed(app):
    async with mcp_session(app.url) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == {"request_approval", "permission_prompt", "check_approval"}
    assert tools["request_approval"].input_schema["required"] == ["action"]
    assert set(tools["permission_prompt"].input_schema["required"]) == {"tool_name", "input"}


async def test_request_approval_approve_reject_modify(app):
    async with mcp_session(app.url) as session, filed(app) as queue:
        call = asyncio.create_task(
            session.call_tool(
                "request_approval",
                {
                    "action": "send_invoice",
                    "args": {"customer": "acme", "amount": 1200},
                    "why": "month end",
                    "affected": "acme corp",
                    "reversible": False,
                    "alternatives": "wait a week",
                },
            )
        )
        approval_id = await queue.next()
        stored = await fetch(app, approval_id)
        assert stored["context"] == {
            "why": "month end",
            "affected": "acme corp",
            "reversible": False,
            "alternatives": "wait a week",
        }
        await decide(app, approval_id, "approve", "ok")
        answer = result_json(await asyncio.wait_for(call, 20))
        assert answer["outcome"] == "approved" and answer["comment"] == "ok"
        assert answer["args"] == {"customer": "acme", "amount": 1200}

        call = asyncio.create_task(
            session.call_tool("request_approval", {"action": "drop_table", "args": {"table": "users"}})
        )
        await decide(app, await queue.next(), "reject", "never")
        answer = result_json(await asyncio.wait_for(call, 20))
        assert answer["outcome"] == "rejected" and not answer["approved"] and answer["args"] is None
        assert answer["comment"] == "never" and answer["decided_by"] == "ada"

        call = asyncio.create_task(session.call_tool("request_approval", {"action": "scale", "args": {"replicas": 40}}))
        await decide(app, await queue.next(), "modify", "10 max", args={"replicas": 10})
        answer = result_json(await asyncio.wait_for(call, 20))
        assert answer["outcome"] == "approved" and answer["modified"] and answer["args"] == {"replicas": 10}


async def test_permission_prompt_allow_deny_update(app):
    async with mcp_session(app.url) as session, filed(app) as queue:
        call = asyncio.create_task(
            session.call_tool(
                "permission_prompt",
                {"tool_name": "Bash", "input": {"command": "rm -rf build"}, "tool_use_id": "toolu_1"},
            )
        )
        approval_id = await queue.next()
        stored = await fetch(app, approval_id)
        assert stored["action"] == "Bash" and stored["idempotency_key"].startswith("mcp-permission-")
        await decide(app, approval_id, "approve")
        assert result_json(await asyncio.wait_for(call, 20)) == {
            "behavior": "allow",
            "updatedInput": {"command": "rm -rf build"},
        }

        call = asyncio.create_task(
            session.call_tool(
                "permission_prompt",
                {"tool_name": "Bash", "input": {"command": "git push --force"}, "tool_use_id": "toolu_2"},
            )
        )
        await decide(app, await queue.next(), "reject", "no force pushes")
        assert result_json(await asyncio.wait_for(call, 20)) == {
            "behavior": "deny",
            "message": "Bash rejected by ada: no force pushes",
        }

        call = asyncio.create_task(
            session.call_tool(
                "permission_prompt",
                {"tool_name": "Write", "input": {"path": "/etc/hosts", "content": "x"}, "tool_use_id": "toolu_3"},
            )
        )
        await decide(app, await queue.next(), "modify", "write it in tmp", args={"path": "/tmp/hosts", "content": "x"})
        assert result_json(await asyncio.wait_for(call, 20)) == {
            "behavior": "allow",
            "updatedInput": {"path": "/tmp/hosts", "content": "x"},
        }


async def test_server_errors_are_tool_errors(app):
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "bot.cli", "mcp"], env=cli_env(app.url, key="not-a-key-0123456789")
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("request_approval", {"action": "deploy"})
    assert result.is_error and "401" in result.content[0].text
