"""`countersign grants list|create|revoke` and `policy explain`'s grant line, as real subprocesses."""

from __future__ import annotations

import asyncio
import json

from tests.support.processes import clean_env, countersign_cmd, finish, run_cli
from tests.support.servers import APPROVER_KEY


async def test_grants_create_list_revoke(app):
    created = await run_cli(
        app.url,
        "grants",
        "create",
        "--agent",
        "billing-agent",
        "--action",
        "deploy",
        "--args",
        '{"env": {"eq": "dev"}}',
        "--max-level",
        "medium",
        "--for",
        "8h",
        "--max-uses",
        "3",
        "--json",
        key=APPROVER_KEY,
    )
    assert created.code == 0, created.stderr
    grant_id = json.loads(created.stdout)["id"]
    listed = await run_cli(app.url, "grants", "list", key=APPROVER_KEY)
    assert grant_id in listed.stdout and "uses 0/3" in listed.stdout
    # policy explain names the grant that would apply (it reads the server's Redis).
    settings = app.runtime.settings
    process = await asyncio.create_subprocess_exec(
        *countersign_cmd(
            "policy", "explain", "--action", "deploy", "--args", '{"env": "dev"}', "--agent", "billing-agent"
        ),
        env=clean_env(
            REDIS_URL=settings.redis_url or "",
            COUNTERSIGN_REDIS_PREFIX=settings.countersign_redis_prefix,
            COUNTERSIGN_SECRET_KEY=settings.countersign_secret_key or "",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    explained = await finish(process)
    assert f"grant: {grant_id}" in explained.stdout, explained.stdout + explained.stderr
    revoked = await run_cli(app.url, "grants", "revoke", grant_id, "--reason", "done", key=APPROVER_KEY)
    assert revoked.code == 0 and "revoked" in revoked.stdout
    assert (await run_cli(app.url, "grants", "list", key=APPROVER_KEY)).stdout.strip() == "no active grants"


async def test_grants_need_an_approver_key_and_name_bad_fields(app):
    refused = await run_cli(app.url, "grants", "list")
    assert refused.code == 3 and "HTTP 403" in refused.stderr
    bad = await run_cli(
        app.url,
        "grants",
        "create",
        "--agent",
        "*",
        "--action",
        "x",
        "--max-level",
        "low",
        "--for",
        "60d",
        key=APPROVER_KEY,
    )
    assert bad.code == 3
