"""The SDK reports what happened after the gated function ran: succeeded, or failed with the exception's
type (never its message)."""

from __future__ import annotations

import asyncio

import pytest

from countersign_sdk import Countersign
from tests.support.agents import decide, fetch, filed
from tests.support.servers import AGENT_KEY


@pytest.fixture
def gate(app) -> Countersign:
    return Countersign(url=app.url, api_key=AGENT_KEY)


async def test_sync_success_and_async_failure_are_reported(app, gate):
    @gate.require_approval(why="fine")
    def tidy(path: str) -> str:
        return f"tidied {path}"

    @gate.require_approval(why="risky")
    async def explode(path: str) -> str:
        raise PermissionError(f"secret detail about {path}")

    async with filed(app) as queue:
        running = asyncio.create_task(asyncio.to_thread(tidy, "/tmp"))
        first = await queue.next()
        await decide(app, first, "approve")
        assert await asyncio.wait_for(running, 20) == "tidied /tmp"
        failing = asyncio.create_task(explode("/etc"))
        second = await queue.next()
        await decide(app, second, "approve")
        with pytest.raises(PermissionError):
            await asyncio.wait_for(failing, 20)
    assert (await fetch(app, first))["execution"]["status"] == "succeeded"
    execution = (await fetch(app, second))["execution"]
    assert execution["status"] == "failed" and execution["detail"] == "PermissionError"
