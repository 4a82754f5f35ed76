"""`countersign hook claude-code` as a subprocess fed the JSON Claude Code sends to a PreToolUse hook, against
the app running the starter policy for coding agents from docs/."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.embedded import free_port
from bot.settings import Settings
from tests.support.agents import decide, fetch, filed
from tests.support.processes import ROOT, Finished, cli_env, countersign_cmd, finish
from tests.support.servers import RunningApp, running_app

STARTER_POLICY = (ROOT / "docs" / "coding-agents.policy.yaml").read_text()


@pytest.fixture
async def coding_app(settings: Settings) -> AsyncIterator[RunningApp]:
    async with running_app(settings, STARTER_POLICY) as app:
        yield app


def hook_event(tool_name: str, tool_input: dict[str, Any], tool_use_id: str = "toolu_01") -> dict[str, Any]:
    return {
        "session_id": "sess-42",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": "/work/repo",
        "hook_event_name": "PreToolUse",
        "tool_name": tool_name,
        "tool_input": tool_input,
        "tool_use_id": tool_use_id,
    }


async def start_hook(url: str, stdin: bytes, *options: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        *countersign_cmd("hook", "claude-code", *options),
        env=cli_env(url),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    try:
        process.stdin.write(stdin)
        await process.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the hook stops reading input over its size limit
    process.stdin.close()
    return process


def decision_of(done: Finished) -> dict[str, Any]:
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # exactly one JSON object
    output: dict[str, Any] = json.loads(lines[0])["hookSpecificOutput"]
    assert output["hookEventName"] == "PreToolUse"
    return output


async def run_hook(url: str, event: dict[str, Any], *options: str) -> Finished:
    return await finish(await start_hook(url, json.dumps(event).encode(), *options))


async def test_read_is_allowed_at_once_by_the_starter_policy(coding_app):
    output = decision_of(await run_hook(coding_app.url, hook_event("Read", {"file_path": "/work/repo/a.py"})))
    assert output["permissionDecision"] == "allow" and "updatedInput" not in output


async def test_approved_bash_is_allowed_and_filed_as_claude_code_action(coding_app):
    event = hook_event("Bash", {"command": "rm -rf build", "description": "Clean the build directory"})
    async with filed(coding_app) as queue:
        hook = await start_hook(coding_app.url, json.dumps(event).encode())
        approval_id = await queue.next()
        stored = await fetch(coding_app, approval_id)
        await decide(coding_app, approval_id, "approve", "fine")
        output = decision_of(await finish(hook))
    assert stored["action"] == "claude-code.Bash" and stored["risk_level"] == "high"
    assert stored["args"] == event["tool_input"] and stored["run_id"] == "sess-42"
    assert stored["idempotency_key"] == "claude-code-toolu_01"
    assert stored["context"]["why"] == "Clean the build directory" and stored["context"]["cwd"] == "/work/repo"
    assert output["permissionDecision"] == "allow" and "updatedInput" not in output
    assert "approved by ada: fine" in output["permissionDecisionReason"]


async def test_modified_bash_returns_updated_input(coding_app):
    async with filed(coding_app) as queue:
        hook = await start_hook(coding_app.url, json.dumps(hook_event("Bash", {"command": "rm -rf /"})).encode())
        await decide(coding_app, await queue.next(), "modify", "only build", args={"command": "rm -rf build"})
        output = decision_of(await finish(hook))
    assert output["permissionDecision"] == "allow" and output["updatedInput"] == {"command": "rm -rf build"}


async def test_rejected_bash_is_denied_with_the_reason(coding_app):
    event = hook_event("Bash", {"command": "git push --force origin main"})
    async with filed(coding_app) as queue:
        hook = await start_hook(coding_app.url, json.dumps(event).encode())
        await decide(coding_app, await queue.next(), "reject", "no force pushes")
        output = decision_of(await finish(hook))
    assert output["permissionDecision"] == "deny"
    assert "rejected by ada: no force pushes" in output["permissionDecisionReason"]


async def test_no_decision_in_time_asks_and_withdraws_the_request(coding_app):
    async with filed(coding_app) as queue:
        hook = await start_hook(
            coding_app.url, json.dumps(hook_event("Bash", {"command": "make"})).encode(), "--timeout", "1"
        )
        approval_id = await queue.next()
        output = decision_of(await finish(hook))
    assert output["permissionDecision"] == "ask"
    assert "no decision within 1 s" in output["permissionDecisionReason"]
    assert (await fetch(coding_app, approval_id))["status"] == "cancelled"


async def test_no_decision_in_time_with_fail_closed_denies(coding_app):
    done = await run_hook(coding_app.url, hook_event("Bash", {"command": "make"}), "--timeout", "1", "--fail-closed")
    assert decision_of(done)["permissionDecision"] == "deny"


@pytest.mark.parametrize(("options", "expected"), [((), "ask"), (("--fail-closed",), "deny")])
async def test_server_down_asks_or_denies_with_fail_closed(options, expected):
    down = f"http://127.0.0.1:{free_port()}"
    done = await run_hook(down, hook_event("Bash", {"command": "make"}), *options)
    output = decision_of(done)
    assert output["permissionDecision"] == expected
    assert "could not be reached" in output["permissionDecisionReason"]


@pytest.mark.parametrize(
    "stdin",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"tool_name": 7}',
        b"\xff\xfe",
        b'{"tool_name": "Bash", "tool_input": "rm"}',
        b'{"hook_event_name": "PostToolUse", "tool_name": "Bash"}',
    ],
)
async def test_malformed_stdin_exits_2_with_one_line(stdin):
    done = await finish(await start_hook("http://127.0.0.1:9", stdin))
    assert done.code == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_settings_snippet_in_docs_runs_this_hook():
    agents = (Path(ROOT) / "docs" / "agents.md").read_text()
    assert '"command": "countersign hook claude-code"' in agents and '"timeout": 600' in agents


async def test_starter_policy_passes_policy_check():
    from tests.support.processes import run_cli

    checked = await run_cli("http://127.0.0.1:9", "policy", "check", str(ROOT / "docs" / "coding-agents.policy.yaml"))
    assert checked.code == 0 and "OK" in checked.stdout, checked.stderr


@pytest.mark.parametrize(
    ("tool_name", "tool_input", "level"),
    [
        ("Read", {"file_path": "a.py"}, "low"),
        ("Grep", {"pattern": "x"}, "low"),
        ("Bash", {"command": "rm -rf build"}, "high"),
        ("Bash", {"command": "git push --force origin main"}, "high"),
        ("Bash", {"command": "terraform apply -auto-approve"}, "high"),
        ("Bash", {"command": "kubectl delete ns x"}, "high"),
        ("Bash", {"command": "psql -c 'DROP TABLE users'"}, "high"),
        ("Bash", {"command": "ls -la"}, "medium"),
        ("Write", {"file_path": "a.py", "content": ""}, "medium"),
    ],
)
def test_starter_policy_sorts_coding_agent_calls(tool_name, tool_input, level):
    from bot.models import ApprovalCreate
    from bot.policy import classify, parse_policy

    policy = parse_policy(STARTER_POLICY, "coding-agents.policy.yaml")
    request = ApprovalCreate(action=f"claude-code.{tool_name}", args=tool_input)
    assert classify(policy, request, "agent").level.value == level


async def test_hook_stopped_by_claude_code_withdraws_its_request(coding_app):
    import signal

    async with filed(coding_app) as queue:
        hook = await start_hook(coding_app.url, json.dumps(hook_event("Bash", {"command": "make"})).encode())
        approval_id = await queue.next()
        hook.send_signal(signal.SIGTERM)
        done = await finish(hook)
    assert done.code == 143 and done.stdout == ""
    assert (await fetch(coding_app, approval_id))["status"] == "cancelled"
