"""Shared by the audit tests: run `countersign audit …` against a test app's Redis, and file a few requests."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from bot.settings import Settings
from tests.support.processes import clean_env, countersign_cmd
from tests.support.servers import APPROVER_KEY, RunningApp, auth


def audit_env(settings: Settings, **overrides: str) -> dict[str, str]:
    return clean_env(
        **{
            "REDIS_URL": settings.redis_url or "",
            "COUNTERSIGN_REDIS_PREFIX": settings.countersign_redis_prefix,
            "COUNTERSIGN_SECRET_KEY": settings.countersign_secret_key or "",
            **overrides,
        }
    )


async def audit_cli(settings: Settings, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        countersign_cmd("audit", *args),
        env=audit_env(settings, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def file_and_decide(app: RunningApp, count: int = 3) -> list[str]:
    """`count` requests (one audit entry each) and a decision on the last: count + 1 entries."""
    ids = []
    for _ in range(count):
        created = await (await app.client.post("/v1/approvals", json={"action": "deploy"}, headers=auth())).json()
        ids.append(created["id"])
    decided = await app.client.post(
        f"/v1/approvals/{ids[-1]}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
    )
    assert decided.status == 200
    return ids
