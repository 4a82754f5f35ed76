"""Whole-process behaviour: two servers on one Redis, the embedded server, CLI exit codes, audit verify."""

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.request

import aiohttp
import pytest

from tests.support.processes import clean_env, countersign_cmd, start_serve, stop
from tests.support.servers import AGENT_KEY, APPROVER_KEY, auth

KEYS = {"COUNTERSIGN_API_KEYS": f"billing-agent:{AGENT_KEY}", "COUNTERSIGN_APPROVER_KEYS": f"ada:{APPROVER_KEY}"}


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return bool(state) and not state.startswith("Z")


def _all_gone(pids: list[int], timeout: float = 5) -> bool:
    """Processes get a moment to exit after their parent stops; ps is checked, not assumed."""
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_alive(p) for p in pids)


async def test_long_poll_in_one_process_woken_by_decision_in_another(app, settings, tmp_path):
    env = clean_env(
        **KEYS, REDIS_URL=settings.redis_url or "", COUNTERSIGN_REDIS_PREFIX=settings.countersign_redis_prefix
    )
    proc, url = start_serve(env, tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v1/approvals", json={"action": "deploy"}, headers=auth()) as resp:
                approval = await resp.json()
            poll = asyncio.create_task(http.get(f"{url}/v1/approvals/{approval['id']}?wait=30", headers=auth()))
            await asyncio.sleep(0.3)
            assert not poll.done()
            started = time.monotonic()
            # The decision goes through this test's own server process (the `app` fixture), not the subprocess.
            decided = await app.client.post(
                f"/v1/approvals/{approval['id']}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
            )
            assert decided.status == 200
            resp = await asyncio.wait_for(poll, 5)
            assert (await resp.json())["status"] == "approved"
            assert time.monotonic() - started < 1.0
            resp.release()
    finally:
        stop(proc)


def test_embedded_server_starts_persists_and_leaves_no_orphan(tmp_path):
    env = clean_env(**KEYS, COUNTERSIGN_DATA_DIR=str(tmp_path / "data"))
    proc, url = start_serve(env, tmp_path)
    children = _children_of(proc.pid)
    try:
        assert children, "serve started no embedded server"
        request = urllib.request.Request(
            f"{url}/v1/approvals",
            data=json.dumps({"action": "deploy"}).encode(),
            headers={**auth(), "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as resp:  # noqa: S310
            approval_id = json.loads(resp.read())["id"]
    finally:
        stop(proc)
    assert _all_gone(children), "embedded server outlived serve"
    assert (tmp_path / "data" / "appendonlydir").is_dir()
    # Restart: the request is still there (append-only persistence).
    proc, url = start_serve(env, tmp_path)
    try:
        req = urllib.request.Request(f"{url}/v1/approvals/{approval_id}", headers=auth())
        with urllib.request.urlopen(req) as resp:  # noqa: S310
            assert resp.status == 200
    finally:
        stop(proc)


def test_embedded_server_dies_with_a_killed_parent(tmp_path):
    env = clean_env(**KEYS, COUNTERSIGN_DATA_DIR=str(tmp_path / "data"))
    proc, _url = start_serve(env, tmp_path)
    children = _children_of(proc.pid)
    assert children
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _all_gone(children), "embedded server outlived its killed parent"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PORT": "abc"}, "countersign: PORT:"),
        ({"REDIS_URL": "http://x"}, "countersign: REDIS_URL: Value error, must start with redis://"),
        ({"COUNTERSIGN_API_KEYS": "nocolon"}, "countersign: COUNTERSIGN_API_KEYS: expected comma-separated"),
        ({"COUNTERSIGN_API_KEYS": "a:short"}, "countersign: COUNTERSIGN_API_KEYS: the secret for 'a' is shorter"),
        ({"COUNTERSIGN_POLICY": "/nonexistent.yaml"}, "countersign: COUNTERSIGN_POLICY:"),
    ],
)
def test_bad_settings_exit_2_with_one_line(tmp_path, env, expected):
    result = subprocess.run(
        countersign_cmd("serve"),
        env=clean_env(**{**KEYS, **env}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr


def test_bad_policy_file_exit_2_names_file_line_field(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("levels:\n  high:\n    quorum: lots\n")
    result = subprocess.run(
        countersign_cmd("serve"),
        env=clean_env(**KEYS, COUNTERSIGN_POLICY=str(policy)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"countersign: {policy}:3: levels.high.quorum: "
        "Input should be a valid integer, unable to parse string as an integer"
    )
    check = subprocess.run(
        countersign_cmd("policy", "check", str(policy)),
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 2 and ":3: levels.high.quorum" in check.stderr


def test_policy_explain_prints_level_reasons_route(tmp_path):
    result = subprocess.run(
        countersign_cmd(
            "policy", "explain", "--action", "delete_user", "--sql", "DELETE FROM users", "--risk", '{"cost_usd": 500}'
        ),
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("level: critical\n")
    assert "because sql: DELETE without WHERE" in result.stdout
    assert "because cost_usd: 500 (gt 100.0)" in result.stdout
    assert "route:" in result.stdout


async def test_audit_verify_and_export_catch_tampering(app, settings, tmp_path):
    for _ in range(3):
        created = await (await app.client.post("/v1/approvals", json={"action": "deploy"}, headers=auth())).json()
    await app.client.post(
        f"/v1/approvals/{created['id']}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
    )
    # The CLI verifies the HMAC-keyed chain with the same secret key as the server that wrote it.
    env = clean_env(
        REDIS_URL=settings.redis_url or "",
        COUNTERSIGN_REDIS_PREFIX=settings.countersign_redis_prefix,
        COUNTERSIGN_SECRET_KEY=settings.countersign_secret_key or "",
    )

    def cli(*args):
        return subprocess.run(
            countersign_cmd("audit", *args), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
        )

    ok = cli("verify")
    assert ok.returncode == 0 and "audit chain OK: 5 entries (5 keyed" in ok.stdout
    exported = cli("export", "--format", "jsonl")
    lines = exported.stdout.strip().splitlines()
    assert len(lines) == 5 and '"type": "decision"' in lines[-1]
    csv_out = cli("export", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("id,at,type,approval_id") and len(csv_out) == 6

    redis, stream = app.runtime.redis, app.runtime.keys.audit
    entries = await redis.xrange(stream)
    # Alter: rebuild the stream with one body changed (stream entries cannot be edited in place).
    target_id = entries[1][0]
    await redis.delete(stream)
    for entry_id, fields in entries:
        if entry_id == target_id:
            fields = {**fields, "body": fields["body"].replace("deploy", "delete")}
        await redis.xadd(stream, fields, id=entry_id)
    broken = cli("verify")
    assert broken.returncode == 1
    assert f"BROKEN at entry {target_id}" in broken.stdout and "altered" in broken.stdout
    # Remove: delete the third entry; the fourth's link is broken.
    await redis.delete(stream)
    for entry_id, fields in entries:
        if entry_id != entries[2][0]:
            await redis.xadd(stream, fields, id=entry_id)
    removed = cli("verify")
    assert removed.returncode == 1 and f"BROKEN at entry {entries[3][0]}" in removed.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HOST": "256.1.1.1"}, "countersign: HOST/PORT: cannot listen on 256.1.1.1"),
        ({"COUNTERSIGN_LOG_LEVEL": "LOUD"}, "countersign: COUNTERSIGN_LOG_LEVEL:"),
    ],
)
def test_bad_listen_settings_exit_2(tmp_path, env, expected):
    result = subprocess.run(
        countersign_cmd("serve"),
        env=clean_env(**{**KEYS, **env}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(expected), result.stderr


async def test_serve_alone_expires_requests_into_their_default(settings, tmp_path):
    # No worker runs: `countersign serve` itself expires the request at expires_at (on_timeout: reject).
    env = clean_env(
        **KEYS, REDIS_URL=settings.redis_url or "", COUNTERSIGN_REDIS_PREFIX=settings.countersign_redis_prefix
    )
    proc, url = start_serve(env, tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{url}/v1/approvals", json={"action": "deploy", "timeout_s": 1}, headers=auth()
            ) as resp:
                approval = await resp.json()
            started = time.monotonic()
            async with http.get(f"{url}/v1/approvals/{approval['id']}?wait=10", headers=auth()) as resp:
                final = await resp.json()
            assert final["status"] == "expired"
            assert final["decision"]["outcome"] == "reject" and final["decision"]["by"]["id"] == "timeout"
            assert time.monotonic() - started < 3
    finally:
        stop(proc)


async def test_worker_alone_expires_requests_into_their_default(app, tmp_path):
    # The app here runs no sweeper (tests build runtimes without one): only the `countersign worker`
    # process's sweeper can expire the request, and it does at expires_at, woken by the new request.
    settings = app.runtime.settings
    env = clean_env(
        **KEYS,
        REDIS_URL=settings.redis_url or "",
        COUNTERSIGN_REDIS_PREFIX=settings.countersign_redis_prefix,
        COUNTERSIGN_SECRET_KEY=settings.countersign_secret_key or "",
    )
    worker = await asyncio.to_thread(subprocess.Popen, countersign_cmd("worker"), env=env, cwd=tmp_path)
    try:
        filed = await app.client.post("/v1/approvals", json={"action": "deploy", "timeout_s": 2}, headers=auth())
        approval = await filed.json()
        final = await (await app.client.get(f"/v1/approvals/{approval['id']}?wait=20", headers=auth())).json()
        assert final["status"] == "expired"
        assert final["decision"]["outcome"] == "reject" and final["decision"]["by"]["id"] == "timeout"
    finally:
        stop(worker)
