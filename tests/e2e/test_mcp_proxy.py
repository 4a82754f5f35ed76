"""`countersign mcp-proxy` in front of a real third-party MCP server (the reference filesystem server
from npm), driven by the official `mcp` client over stdio."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from bot.settings import Settings
from tests.support.agents import decide, fetch, filed
from tests.support.mcp_clients import countersign_session, filesystem_server, result_text
from tests.support.servers import RunningApp, running_app

POLICY = """
default_level: medium
levels:
  low: {auto_approve: true}
  medium: {channels: [{web: queue}], timeout: 4h}
rules:
  - name: fs-reads
    match: {action: ["mcp.fs.read_text_file", "mcp.fs.list_directory"]}
    level: low
"""


@pytest.fixture
async def fs_app(settings: Settings) -> AsyncIterator[RunningApp]:
    async with running_app(settings, POLICY) as app:
        yield app


def proxy_argv(root: Path, *options: str) -> tuple[str, ...]:
    return ("mcp-proxy", "--name", "fs", *options, "--", str(filesystem_server()), str(root))


async def test_tools_pass_through_unchanged_plus_check_approval(fs_app, tmp_path):
    params = StdioServerParameters(command=str(filesystem_server()), args=[str(tmp_path)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as direct:
        await direct.initialize()
        upstream = {tool.name: tool for tool in (await direct.list_tools()).tools}
    async with countersign_session(fs_app.url, *proxy_argv(tmp_path)) as session:
        proxied = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(proxied) == set(upstream) | {"check_approval"}
    for name, tool in upstream.items():
        assert proxied[name].model_dump() == tool.model_dump()


async def test_read_auto_approved_passes_at_once(fs_app, tmp_path):
    (tmp_path / "notes.txt").write_text("hello from disk")
    async with countersign_session(fs_app.url, *proxy_argv(tmp_path)) as session:
        result = await asyncio.wait_for(session.call_tool("read_text_file", {"path": str(tmp_path / "notes.txt")}), 20)
    assert not result.is_error and "hello from disk" in result_text(result)
    assert result.structured_content == {"content": "hello from disk"}


async def test_write_rejected_never_writes(fs_app, tmp_path):
    target = tmp_path / "out.txt"
    async with countersign_session(fs_app.url, *proxy_argv(tmp_path)) as session, filed(fs_app) as queue:
        call = asyncio.create_task(session.call_tool("write_file", {"path": str(target), "content": "bad"}))
        approval_id = await queue.next()
        stored = await fetch(fs_app, approval_id)
        assert stored["action"] == "mcp.fs.write_file"
        assert stored["args"] == {"path": str(target), "content": "bad"}
        assert stored["context"]["why"].startswith("Create a new file or completely overwrite")
        assert stored["args_schema"]["required"] == ["path", "content"]
        await decide(fs_app, approval_id, "reject", "not that file")
        result = await asyncio.wait_for(call, 20)
    assert result.is_error
    assert result_text(result).startswith("write_file was rejected by ada: not that file")
    assert not target.exists()


async def test_write_modified_writes_the_approvers_content(fs_app, tmp_path):
    target = tmp_path / "out.txt"
    async with countersign_session(fs_app.url, *proxy_argv(tmp_path)) as session, filed(fs_app) as queue:
        call = asyncio.create_task(session.call_tool("write_file", {"path": str(target), "content": "draft"}))
        approval_id = await queue.next()
        await decide(fs_app, approval_id, "modify", "tidier", args={"path": str(target), "content": "final"})
        result = await asyncio.wait_for(call, 20)
    assert not result.is_error, result_text(result)
    assert target.read_text() == "final"


async def test_approval_after_the_client_timeout_runs_once_through_check_approval(fs_app, tmp_path):
    """The human answers after the gateway's max-wait (the client's own timeout is shorter than the human's
    answer time but longer than max-wait): the call answers 'pending', and check_approval runs it once."""
    source, target = tmp_path / "a.txt", tmp_path / "b.txt"
    source.write_text("moved")
    async with (
        countersign_session(fs_app.url, *proxy_argv(tmp_path, "--max-wait", "1")) as session,
        filed(fs_app) as queue,
    ):
        pending = await session.call_tool(
            "move_file", {"source": str(source), "destination": str(target)}, read_timeout_seconds=8
        )
        approval_id = await queue.next()
        text = result_text(pending)
        assert approval_id in text and "check_approval" in text and f"/requests/{approval_id}" in text
        assert pending.is_error  # move_file declares an output schema: pending must not pose as its result
        assert source.exists() and not target.exists()

        await decide(fs_app, approval_id, "approve", "go")
        first, second = await asyncio.gather(
            session.call_tool("check_approval", {"id": approval_id, "wait_s": 5}),
            session.call_tool("check_approval", {"id": approval_id, "wait_s": 5}),
        )
    assert not first.is_error, result_text(first)
    # Run once: a second move would fail (the source is gone); both answers are the one result.
    assert result_text(first) == result_text(second)
    assert target.read_text() == "moved" and not source.exists()


async def test_progress_is_reported_while_waiting(fs_app, tmp_path):
    seen: list[tuple[float, str | None]] = []
    reported = asyncio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message))
        reported.set()

    async with (
        countersign_session(fs_app.url, *proxy_argv(tmp_path, "--progress-every", "1")) as session,
        filed(fs_app) as queue,
    ):
        call = asyncio.create_task(
            session.call_tool("create_directory", {"path": str(tmp_path / "d")}, progress_callback=on_progress)
        )
        approval_id = await queue.next()
        await asyncio.wait_for(reported.wait(), 20)
        await decide(fs_app, approval_id, "approve")
        result = await asyncio.wait_for(call, 20)
    assert not result.is_error and (tmp_path / "d").is_dir()
    assert approval_id in (seen[0][1] or "")


async def test_default_name_is_the_upstreams_server_name(fs_app, tmp_path):
    argv = ("mcp-proxy", "--max-wait", "1", "--", str(filesystem_server()), str(tmp_path))
    async with countersign_session(fs_app.url, *argv) as session, filed(fs_app) as queue:
        await session.call_tool("create_directory", {"path": str(tmp_path / "x")})
        stored = await fetch(fs_app, await queue.next())
    assert stored["action"] == "mcp.secure-filesystem-server.create_directory"
