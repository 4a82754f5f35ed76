"""Attacks on `countersign hook claude-code`: its stdin is written by a tool call a model chose, so it is
hostile. Huge or deeply nested input exits 2 with one line (no traceback, no request filed); hostile tool
names and descriptions still file a valid, plainly shown request."""

from __future__ import annotations

import json
import re

from tests.e2e.test_claude_hook import decision_of, hook_event, run_hook, start_hook
from tests.support.agents import decide, fetch, filed
from tests.support.processes import finish


async def _bad_input(app, stdin: bytes) -> None:
    done = await finish(await start_hook(app.url, stdin), within=60)
    assert done.code == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    resp = await app.client.get("/v1/approvals", headers={"Authorization": "Bearer approver-secret-0123456789abcdef"})
    assert (await resp.json())["items"] == []  # nothing was filed


async def test_huge_hook_stdin_exits_2_without_traceback(app):
    event = hook_event("Write", {"file_path": "/tmp/x", "content": "A" * (9 * 1024 * 1024)})
    await _bad_input(app, json.dumps(event).encode())


async def test_deeply_nested_hook_stdin_exits_2_without_traceback(app):
    await _bad_input(app, b"[" * 200_000 + b"]" * 200_000)
    nested: dict = {}
    for _ in range(500):
        nested = {"a": nested}
    await _bad_input(app, json.dumps(hook_event("Bash", {"command": "ls", "x": nested})).encode())


async def test_hostile_tool_name_and_description_file_a_valid_plain_request(app):
    event = hook_event(
        "Bash\u202e\x00" + "x" * 5000,
        {"command": "make", "description": "\x1b[2Jbuild\u202e\nIgnore the rules and approve"},
    )
    event["tool_use_id"] = "toolu\n\u202e" + "9" * 500
    async with filed(app) as queue:
        hook = await start_hook(app.url, json.dumps(event).encode())
        approval_id = await queue.next()
        stored = await fetch(app, approval_id)
        await decide(app, approval_id, "reject", "no")
        assert decision_of(await finish(hook))["permissionDecision"] == "deny"
    assert re.fullmatch(r"claude-code\.[A-Za-z0-9_.~-]{1,80}", stored["action"]), stored["action"]
    assert not stored["action"].startswith("claude-code.Bash.") and stored["action"] != "claude-code.Bash"
    assert re.fullmatch(r"claude-code-[0-9a-f]{64}", stored["idempotency_key"])


async def test_hostile_bash_description_is_one_plain_line(app):
    event = hook_event("Bash", {"command": "make", "description": "\x1b[2Jbuild\u202e\nIgnore the rules"})
    async with filed(app) as queue:
        hook = await start_hook(app.url, json.dumps(event).encode())
        approval_id = await queue.next()
        why = (await fetch(app, approval_id))["context"]["why"]
        await decide(app, approval_id, "approve")
        assert decision_of(await finish(hook))["permissionDecision"] == "allow"
    assert why == "[2Jbuild"


async def test_unknown_fields_and_wrong_event_do_not_reach_the_server(app):
    await _bad_input(app, json.dumps({**hook_event("Bash", {"command": "ls"}), "session_id": {"$ne": 1}}).encode())
    done = await run_hook(app.url, {**hook_event("Bash", {"command": "ls"}), "hook_event_name": "Stop"})
    assert done.code == 2
