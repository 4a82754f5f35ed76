"""A grant's regex runs on the agent's value: a catastrophic pattern and a value built to trigger it must
not hold the server. Each search and all searches for one request are bounded; a search that runs out
is "no match", so the request goes to people."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from tests.support.servers import APPROVER_KEY, auth


async def test_catastrophic_grant_regex_on_agent_value_is_bounded(app):
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for n in range(5):  # several grants with the pattern: the per-request budget covers them all
        response = await app.client.post(
            "/v1/grants",
            headers=auth(APPROVER_KEY),
            json={
                "agent": "*",
                "action": "lookup",
                "args": {"name": {"regex": f"^(a+)+{n}$"}},
                "max_level": "high",
                "expires_at": expires,
            },
        )
        assert response.status == 201
    started = time.perf_counter()
    slow = asyncio.create_task(
        app.client.post("/v1/approvals", headers=auth(), json={"action": "lookup", "args": {"name": "a" * 40 + "!"}})
    )
    # Others are served meanwhile and the slow one answers promptly (pending: no grant could be shown to hold).
    health = await app.client.get("/healthz")
    assert health.status == 200
    response = await slow
    elapsed = time.perf_counter() - started
    assert (await response.json())["status"] == "pending"
    assert elapsed < 1.0, elapsed


async def test_overlong_grant_regex_is_refused(app):
    response = await app.client.post(
        "/v1/grants",
        headers=auth(APPROVER_KEY),
        json={
            "agent": "*",
            "action": "x",
            "args": {"name": {"regex": "a" * 201}},
            "max_level": "low",
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    assert response.status == 400
    fields = (await response.json())["error"]["fields"]
    assert any(key.startswith("args") and "200 characters" in message for key, message in fields.items())
