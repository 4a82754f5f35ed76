"""Attacks on `countersign mcp-proxy`: the upstream server's names and descriptions are hostile too, and
the upstream must never run a call that was not approved, however the client retries or races."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FrozenClock
from bot.settings import Settings
from tests.support.agents import decide, fetch, filed
from tests.support.mcp_clients import countersign_session, result_text
from tests.support.servers import AGENT_KEY, RunningApp, auth, running_app

VALID_ACTION = re.compile(r"^mcp\.[A-Za-z0-9_~-]+\.[A-Za-z0-9_.~-]+$")
POLICY = """
default_level: medium
levels:
  low: {auto_approve: true}
  medium: {channels: [{web: queue}], timeout: 1h}
rules:
  - {name: real-read, match: {action: "mcp.*.read_file"}, level: low}
"""


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC))


@pytest.fixture
async def gw_app(settings: Settings, clock: FrozenClock) -> AsyncIterator[RunningApp]:
    async with running_app(settings, POLICY, clock=clock) as app:
        yield app


def upstream_calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def proxy(app: RunningApp, log: Path, *options: str, hostile: bool = False, name: str | None = "rec"):
    argv = [
        "mcp-proxy",
        *(["--name", name] if name else []),
        *options,
        "--",
        sys.executable,
        "-m",
        "tests.support.mcp_upstream",
    ]
    env = {"UPSTREAM_LOG": str(log), **({"UPSTREAM_HOSTILE": "1"} if hostile else {})}
    return countersign_session(app.url, *argv, env=env)


async def test_hostile_upstream_tool_names_become_valid_distinct_actions(gw_app, tmp_path):
    log = tmp_path / "calls.jsonl"
    async with proxy(gw_app, log, "--max-wait", "0", hostile=True, name=None) as session, filed(gw_app) as queue:
        names = [tool.name for tool in (await session.list_tools()).tools]
        hostile = [name for name in names if name not in ("record", "env_names", "check_approval")]
        actions = {}
        for name in hostile:
            result = await session.call_tool(name, {"text": "x"})
            if name == "read_file":  # the real one, auto-approved by policy
                assert not result.is_error
                continue
            stored = await fetch(gw_app, await queue.next())
            actions[name] = stored["action"]
            assert VALID_ACTION.match(stored["action"]) and len(stored["action"]) <= 200, stored["action"]
            why = stored["context"].get("why", "")
            assert len(why) <= 300 and not any(ord(ch) < 32 or 0x200B <= ord(ch) <= 0x202E for ch in why)
    # The server's own name ("github.evil\nname") cannot pose as the server `github`.
    assert all(action.startswith("mcp.github_evil_name~") for action in actions.values())
    # `read\x00file` must not become the auto-approved `read_file`: it was filed, and waits for a human.
    assert not actions["read\x00file"].endswith(".read_file")
    assert len(set(actions.values())) == len(actions)
    assert [call["tool"] for call in upstream_calls(log)] == ["read_file"]


async def test_rejected_call_never_reaches_upstream_when_retried_and_checked_twice(gw_app, tmp_path):
    log = tmp_path / "calls.jsonl"
    async with proxy(gw_app, log, "--max-wait", "0") as session, filed(gw_app) as queue:
        pending = await session.call_tool("record", {"text": "rm everything"})
        approval_id = await queue.next()
        assert "still waiting" in result_text(pending)
        await decide(gw_app, approval_id, "reject", "no")
        answers = await asyncio.gather(
            session.call_tool("check_approval", {"id": approval_id, "wait_s": 0}),
            session.call_tool("check_approval", {"id": approval_id, "wait_s": 0}),
            session.call_tool("record", {"text": "rm everything"}),
        )  # the client retries the call itself
        assert all(answer.is_error and "rejected by ada" in result_text(answer) for answer in answers[:2])
        # Racing the checks, the retry finds the same (rejected) request or, once the refusal was handed
        # out, files a new one that waits for a human: never the upstream.
        assert "rejected by ada" in result_text(answers[2]) or "still waiting" in result_text(answers[2])
        retry = await session.call_tool("record", {"text": "rm everything"})
        assert "still waiting" in result_text(retry)
    assert upstream_calls(log) == []


async def test_pending_call_never_reaches_upstream_and_approval_runs_once_under_racing_checks(gw_app, tmp_path):
    log = tmp_path / "calls.jsonl"
    async with proxy(gw_app, log, "--max-wait", "0") as session, filed(gw_app) as queue:
        await session.call_tool("record", {"text": "once"})
        approval_id = await queue.next()
        for answer in await asyncio.gather(
            *(session.call_tool("check_approval", {"id": approval_id, "wait_s": 0}) for _ in range(3))
        ):
            assert "still waiting" in result_text(answer)
        # A retry of the same call while it waits finds the same request (not a second one).
        retried = await session.call_tool("record", {"text": "once"})
        assert "still waiting" in result_text(retried) and approval_id in result_text(retried)
        assert upstream_calls(log) == []
        await decide(gw_app, approval_id, "approve")
        # Racing checks after the approval: every one gets the one result of the one upstream call. (A retry of
        # the call itself after an outcome was handed out files a new request by design, so it races no more.)
        answers = await asyncio.gather(
            *(session.call_tool("check_approval", {"id": approval_id, "wait_s": 0}) for _ in range(4))
        )
        assert {result_text(answer) for answer in answers} == {"recorded 'once'"}
    assert upstream_calls(log) == [{"tool": "record", "arguments": {"text": "once"}}]


async def test_expired_call_never_reaches_upstream(gw_app, tmp_path, clock):
    log = tmp_path / "calls.jsonl"
    async with proxy(gw_app, log, "--max-wait", "0") as session, filed(gw_app) as queue:
        await session.call_tool("record", {"text": "late"})
        approval_id = await queue.next()
        clock.advance(timedelta(hours=2))
        [expired] = await gw_app.runtime.service.expire_due()
        assert expired.id == approval_id
        answer = await session.call_tool("check_approval", {"id": approval_id, "wait_s": 0})
    assert answer.is_error and "expired without approval" in result_text(answer)
    assert upstream_calls(log) == []


async def test_check_approval_of_an_id_the_gateway_did_not_file_never_reaches_upstream(gw_app, tmp_path):
    log = tmp_path / "calls.jsonl"
    # Approved, for the same action, but filed by someone else (the API directly).
    resp = await gw_app.client.post(
        "/v1/approvals", headers=auth(AGENT_KEY), json={"action": "mcp.rec.record", "args": {"text": "smuggled"}}
    )
    approval_id = (await resp.json())["id"]
    await decide(gw_app, approval_id, "approve")
    async with proxy(gw_app, log) as session:
        answer = await session.call_tool("check_approval", {"id": approval_id, "wait_s": 0})
    assert answer.is_error and "not a request this gateway filed" in result_text(answer)
    assert upstream_calls(log) == []


async def test_upstream_server_never_sees_the_countersign_key(gw_app, tmp_path):
    log = tmp_path / "calls.jsonl"
    async with proxy(gw_app, log, "--max-wait", "0") as session, filed(gw_app) as queue:
        await session.call_tool("env_names", {})
        approval_id = await queue.next()
        await decide(gw_app, approval_id, "approve")
        answer = await session.call_tool("check_approval", {"id": approval_id, "wait_s": 0})
    assert json.loads(result_text(answer)) == []
