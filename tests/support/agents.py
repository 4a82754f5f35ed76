"""Helpers for agent-side tests: learn when a request is filed (pushed by the change feed, not
polled) and decide it through the approver API, as a human's channel would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.support.servers import APPROVER_KEY, RunningApp, auth

WAIT_S = 20


class Filed:
    """Approval ids as they are filed (status `pending`), in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def __call__(self, approval_id: str, status: str) -> None:
        if status == "pending":
            self.queue.put_nowait(approval_id)

    async def next(self, within: float = WAIT_S) -> str:
        return await asyncio.wait_for(self.queue.get(), within)


@asynccontextmanager
async def filed(app: RunningApp) -> AsyncIterator[Filed]:
    """Listen before triggering, so that no filing is missed."""
    listener = Filed()
    stop = app.runtime.feed.listen(listener)
    try:
        yield listener
    finally:
        stop()


async def decide(
    app: RunningApp,
    approval_id: str,
    outcome: str,
    comment: str | None = None,
    args: dict[str, Any] | None = None,
    key: str = APPROVER_KEY,
) -> dict[str, Any]:
    body: dict[str, Any] = {"outcome": outcome}
    if comment is not None:
        body["comment"] = comment
    if args is not None:
        body["args"] = args
    resp = await app.client.post(f"/v1/approvals/{approval_id}/decision", json=body, headers=auth(key))
    assert resp.status == 200, await resp.text()
    result: dict[str, Any] = await resp.json()
    return result


async def fetch(app: RunningApp, approval_id: str) -> dict[str, Any]:
    resp = await app.client.get(f"/v1/approvals/{approval_id}", headers=auth(APPROVER_KEY))
    assert resp.status == 200
    result: dict[str, Any] = await resp.json()
    return result
