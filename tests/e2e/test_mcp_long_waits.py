"""`countersign mcp` when a human takes longer than the MCP client waits: progress, a pending answer before
the client gives up, check_approval, permission_prompt retries, and the client's cancel."""

from __future__ import annotations

import asyncio
import importlib.metadata

from mcp.shared.exceptions import MCPError

from tests.support.agents import decide, fetch, filed
from tests.support.mcp_clients import countersign_session, result_json
from tests.support.servers import APPROVER_KEY, auth


async def test_server_version_is_the_package_version(app):
    async with countersign_session(app.url, "mcp") as session:
        info = session.server_info
    assert info is not None and info.name == "countersign"
    assert info.version == importlib.metadata.version("countersign")


async def test_pending_after_max_wait_then_check_approval(app):
    """The client's own timeout (5 s) is shorter than the human's answer time; max-wait (1 s) is shorter still."""
    async with countersign_session(app.url, "mcp", "--max-wait", "1") as session, filed(app) as queue:
        answer = result_json(
            await session.call_tool(
                "request_approval", {"action": "deploy", "args": {"env": "prod"}}, read_timeout_seconds=5
            )
        )
        approval_id = await queue.next()
        assert answer["outcome"] == "pending" and answer["approval_id"] == approval_id
        assert answer["dashboard"].endswith(f"/requests/{approval_id}")
        assert "check_approval" in answer["message"] and approval_id in answer["message"]

        again = result_json(await session.call_tool("check_approval", {"id": approval_id, "wait_s": 0}))
        assert again["outcome"] == "pending"

        check = asyncio.create_task(
            session.call_tool("check_approval", {"id": approval_id, "wait_s": 20}, read_timeout_seconds=30)
        )
        await asyncio.sleep(0.3)  # the check is waiting (a long-poll) when the human decides
        await decide(app, approval_id, "modify", "staging first", args={"env": "staging"})
        final = result_json(await asyncio.wait_for(check, 20))
    assert final["outcome"] == "approved" and final["modified"] and final["args"] == {"env": "staging"}


async def test_progress_notifications_while_waiting(app):
    seen: list[str | None] = []
    reported = asyncio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)
        reported.set()

    async with countersign_session(app.url, "mcp", "--progress-every", "1") as session, filed(app) as queue:
        call = asyncio.create_task(
            session.call_tool("request_approval", {"action": "deploy"}, progress_callback=on_progress)
        )
        approval_id = await queue.next()
        await asyncio.wait_for(reported.wait(), 20)
        await decide(app, approval_id, "approve")
        assert result_json(await asyncio.wait_for(call, 20))["outcome"] == "approved"
    assert approval_id in (seen[0] or "")


async def test_permission_prompt_denies_pending_and_a_retry_finds_the_same_request(app):
    call = {"tool_name": "Bash", "input": {"command": "make deploy"}, "tool_use_id": "toolu_1"}
    async with countersign_session(app.url, "mcp", "--max-wait", "1") as session, filed(app) as queue:
        first = result_json(await session.call_tool("permission_prompt", call))
        approval_id = await queue.next()
        assert first["behavior"] == "deny" and "still waiting" in first["message"] and approval_id in first["message"]
        await decide(app, approval_id, "approve", "ok")
        # The model retries the same call (Claude Code gives it a new tool_use_id).
        retried = result_json(await session.call_tool("permission_prompt", {**call, "tool_use_id": "toolu_2"}))
        assert retried == {"behavior": "allow", "updatedInput": {"command": "make deploy"}}
        # Once an outcome was handed out, the same command later is a new request, not a replayed approval.
        later = asyncio.create_task(session.call_tool("permission_prompt", {**call, "tool_use_id": "toolu_3"}))
        assert await queue.next() != approval_id
        assert result_json(await asyncio.wait_for(later, 20))["behavior"] == "deny"


async def _cancelled_call(app, *options: str) -> dict:
    settled: asyncio.Queue[str] = asyncio.Queue()
    stop = app.runtime.feed.listen(lambda approval_id, status: status != "pending" and settled.put_nowait(status))
    try:
        async with countersign_session(app.url, "mcp", "--max-wait", "30", *options) as session, filed(app) as queue:
            call = asyncio.create_task(
                session.call_tool("request_approval", {"action": "deploy"}, read_timeout_seconds=1)
            )
            approval_id = await queue.next()
            try:
                await asyncio.wait_for(call, 20)
            except MCPError as exc:
                assert "timed out" in str(exc).lower()
            if options:
                # The cancel notification was sent before the timeout error returned; a later call being
                # served proves the server handled it, and it must not have settled the request.
                await session.call_tool("check_approval", {"id": approval_id, "wait_s": 0})
                assert settled.empty()
            else:
                assert await asyncio.wait_for(settled.get(), 20) == "cancelled"
    finally:
        stop()
    return await fetch(app, approval_id)


async def test_client_cancel_cancels_the_request_and_is_audited(app):
    stored = await _cancelled_call(app)
    assert stored["status"] == "cancelled"
    resp = await app.client.get(f"/v1/approvals/{stored['id']}/events", headers=auth(APPROVER_KEY))
    events = [event["type"] for event in await resp.json()]
    assert "cancelled" in events


async def test_keep_on_cancel_leaves_the_request_pending(app):
    stored = await _cancelled_call(app, "--keep-on-cancel")
    assert stored["status"] == "pending"


async def test_mcp_major_version_mismatch_is_said_plainly(app, tmp_path):
    # A fake `mcp` 1.x distribution shadowing the real one.
    dist = tmp_path / "mcp-1.9.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mcp\nVersion: 1.9.0\n")
    from tests.support.processes import cli_env, countersign_cmd, finish

    env = cli_env(app.url)
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    process = await asyncio.create_subprocess_exec(
        *countersign_cmd("mcp"),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    done = await finish(process)
    assert done.code == 3
    assert "needs the `mcp` package 2.x, but mcp 1.9.0 is installed" in done.stderr
