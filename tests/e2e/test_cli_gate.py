"""`countersign request|approve|reject|pending` as real subprocesses against a running server."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.support.agents import decide, fetch, filed
from tests.support.processes import finish, run_cli, start_cli
from tests.support.servers import APPROVER_KEY


async def test_request_approved_exits_0(app):
    async with filed(app) as queue:
        process = await start_cli(
            app.url,
            "request",
            "--action",
            "deploy",
            "--args",
            '{"env": "prod"}',
            "--why",
            "release 4.2",
            "--timeout",
            "30m",
        )
        approval_id = await queue.next()
        stored = await fetch(app, approval_id)
        assert stored["args"] == {"env": "prod"} and stored["context"]["why"] == "release 4.2"
        await decide(app, approval_id, "approve", "ship it")
        done = await finish(process)
    assert done.code == 0, done.stderr
    assert "deploy approved by ada: ship it" in done.stdout


async def test_request_rejected_exits_1(app):
    async with filed(app) as queue:
        process = await start_cli(app.url, "request", "--action", "deploy", "--args", '{"env": "prod"}')
        await decide(app, await queue.next(), "reject", "not on a Friday")
        done = await finish(process)
    assert done.code == 1
    assert "rejected by ada: not on a Friday" in done.stdout


async def test_request_modified_prints_new_args_with_json(app):
    async with filed(app) as queue:
        process = await start_cli(app.url, "request", "--action", "scale", "--args", '{"replicas": 50}', "--json")
        await decide(app, await queue.next(), "modify", "10 is plenty", args={"replicas": 10})
        done = await finish(process)
    assert done.code == 0
    assert json.loads(done.stdout) == {"replicas": 10}  # stdout holds only the args
    assert "approved with changes" in done.stderr


async def test_request_expired_exits_2(app):
    async with filed(app) as queue:
        process = await start_cli(app.url, "request", "--action", "deploy")
        approval_id = await queue.next()
        service = app.runtime.service
        real = service.clock
        service.clock = type("Later", (), {"now": lambda self: real.now() + timedelta(days=1)})()
        assert await service.expire(approval_id) is not None
        done = await finish(process)
    assert done.code == 2
    assert "expired" in done.stdout


async def test_request_errors_exit_3(app):
    done = await run_cli(app.url, "request", "--action", "deploy", key="not-a-key-0123456789")
    assert done.code == 3 and "401" in done.stderr
    done = await run_cli(app.url, "request", "--action", "deploy", "--args", "{oops")
    assert done.code == 3 and "--args is not valid JSON" in done.stderr
    done = await run_cli(app.url, "request", "--action", "deploy", "--timeout", "soon")
    assert done.code == 3 and "duration" in done.stderr


async def test_pending_approve_reject_commands(app):
    async with filed(app) as queue:
        first = await start_cli(app.url, "request", "--action", "deploy", "--args", '{"env": "prod"}')
        first_id = await queue.next()
        second = await start_cli(app.url, "request", "--action", "drop_table", "--args", '{"t": "users"}')
        second_id = await queue.next()

        listed = await run_cli(app.url, "pending", key=APPROVER_KEY)
        assert listed.code == 0
        assert first_id in listed.stdout and second_id in listed.stdout and "drop_table" in listed.stdout

        agent_try = await run_cli(app.url, "approve", first_id)  # an agent key may not decide
        assert agent_try.code == 3 and "403" in agent_try.stderr

        approved = await run_cli(app.url, "approve", first_id, "--comment", "ok", key=APPROVER_KEY)
        assert approved.code == 0 and "approved by ada" in approved.stdout
        rejected = await run_cli(app.url, "reject", second_id, "-m", "no", key=APPROVER_KEY)
        assert rejected.code == 0 and "rejected by ada" in rejected.stdout
        assert (await finish(first)).code == 0
        assert (await finish(second)).code == 1

        third = await start_cli(app.url, "request", "--action", "scale", "--args", '{"n": 9}', "--json")
        third_id = await queue.next()
        changed = await run_cli(app.url, "approve", third_id, "--args", '{"n": 3}', key=APPROVER_KEY)
        assert changed.code == 0 and "approved with changes by ada" in changed.stdout
        done = await finish(third)
        assert done.code == 0 and json.loads(done.stdout) == {"n": 3}

        again = await run_cli(app.url, "reject", first_id, key=APPROVER_KEY)
        assert again.code == 3 and "409" in again.stderr
        listed = await run_cli(app.url, "pending", "--json", key=APPROVER_KEY)
        assert json.loads(listed.stdout) == []
