"""The CLI items of issue 14, as real subprocesses: the request's dashboard link, `pending`'s header, the
default server URL and its hint, `audit verify`'s exit codes, `policy explain`'s messages, `web-login`
from another directory."""

from __future__ import annotations

import argparse
import asyncio
import socket
from pathlib import Path

import pytest

from bot.cli.client import DEFAULT_URL, server_url
from tests.support.agents import decide, filed
from tests.support.processes import ROOT, clean_env, countersign_cmd, finish, run_cli, start_cli
from tests.support.servers import AGENT_KEY, APPROVER_KEY

POLICY_FILE = str(ROOT / "docs" / "policy.example.yaml")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_in(cwd: Path, *argv: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *countersign_cmd(*argv),
        cwd=cwd,
        env=clean_env(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_request_prints_the_dashboard_link_while_it_waits(app):
    async with filed(app) as queue:
        process = await start_cli(app.url, "request", "--action", "deploy")
        approval_id = await queue.next()
        await decide(app, approval_id, "approve", "ok")
        done = await finish(process)
    assert done.code == 0
    assert f"{app.url}/requests/{approval_id}" in done.stderr


async def test_pending_has_a_header_row(app):
    async with filed(app) as queue:
        process = await start_cli(app.url, "request", "--action", "deploy")
        approval_id = await queue.next()
        listed = await run_cli(app.url, "pending", key=APPROVER_KEY)
        header, row = listed.stdout.splitlines()[:2]
        assert header.split() == ["ID", "LEVEL", "AGE", "AGENT", "ACTION", "ARGS"] and row.startswith(approval_id)
        await decide(app, approval_id, "reject", "no")
        await finish(process)


def test_url_defaults_to_a_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COUNTERSIGN_URL", raising=False)
    assert server_url(argparse.Namespace(url=None)) == DEFAULT_URL == "http://127.0.0.1:3000"
    monkeypatch.setenv("COUNTERSIGN_URL", "http://example.test:9/")
    assert server_url(argparse.Namespace(url=None)) == "http://example.test:9"
    assert server_url(argparse.Namespace(url="http://other:1")) == "http://other:1"


async def test_unreachable_server_gets_a_one_line_hint_within_seconds(tmp_path: Path):
    url = f"http://127.0.0.1:{free_port()}"
    process = await asyncio.create_subprocess_exec(
        *countersign_cmd("request", "--action", "deploy", "--url", url),
        env=clean_env(COUNTERSIGN_API_KEY=AGENT_KEY),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        line = (await asyncio.wait_for(process.stderr.readline(), 8)).decode()
        assert url in line and "countersign serve" in line and "--url" in line
    finally:
        process.kill()
        await process.wait()


async def test_audit_verify_cannot_check_is_not_tampering(tmp_path: Path):
    code, out, err = await run_in(tmp_path, "audit", "verify", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "could not check" in err and "Traceback" not in err
    code, _, err = await run_in(tmp_path, "audit", "verify", "--file", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "could not check" in err


async def test_policy_explain_names_fields_and_classifies_grant(tmp_path: Path):
    code, out, err = await run_in(
        tmp_path,
        "policy",
        "explain",
        "--action",
        "db.run",
        "--policy",
        POLICY_FILE,
        "--sql",
        "GRANT ALL ON db.* TO bob",
    )
    assert code == 0 and "because sql: GRANT" in out and err == ""  # no parser warning on any stream
    code, out, err = await run_in(
        tmp_path, "policy", "explain", "--action", "db.run", "--policy", POLICY_FILE, "--sql", "SELEC * FRM users"
    )
    assert code == 0 and "unparseable SQL" in out and "unrecognised" not in out and err == ""
    code, _, err = await run_in(
        tmp_path, "policy", "explain", "--action", "pay", "--policy", POLICY_FILE, "--risk", '{"cost_usd": "lots"}'
    )
    assert code == 2 and "invalid --risk cost_usd:" in err and "validation error" not in err


async def test_web_login_from_another_directory_says_where_it_looked(tmp_path: Path):
    code, _, err = await run_in(tmp_path, "web-login", "ada@example.com")
    assert code == 2
    assert str((tmp_path / ".countersign").resolve()) in err and "COUNTERSIGN_DATA_DIR" in err
