"""Quorum race: one approver approves while another modifies the arguments at the same moment.

The transition script computes the reset, the agreed arguments and the quorum from the stored state, so an
approved request's arguments were endorsed by every vote that counted."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bot.settings import Settings
from tests.support.servers import AGENT_KEY, APPROVER2_KEY, APPROVER_KEY, RunningApp, auth, running_app

POLICY = "levels:\n  medium: {channels: [{web: queue}], quorum: 2, timeout: 1h}\n"
ORIGINAL, MODIFIED = {"amount": 10}, {"amount": 1_000_000}
RUNS = 30


async def _decide(running: RunningApp, key: str, approval_id: str, **body: Any) -> int:
    response = await running.client.post(f"/v1/approvals/{approval_id}/decision", json=body, headers=auth(key))
    await response.read()
    return response.status


async def test_concurrent_approve_and_modify_cannot_approve_args_one_approver_never_saw(settings: Settings) -> None:
    async with running_app(settings, POLICY) as running:
        approved = 0
        for _ in range(RUNS):
            filed = await running.client.post(
                "/v1/approvals", json={"action": "pay", "args": ORIGINAL}, headers=auth(AGENT_KEY)
            )
            approval_id = (await filed.json())["id"]
            statuses = await asyncio.gather(
                _decide(running, APPROVER_KEY, approval_id, outcome="approve"),
                _decide(running, APPROVER2_KEY, approval_id, outcome="modify", args=MODIFIED),
            )
            assert set(statuses) <= {200, 409}  # 409: the arguments changed under the approver; look again
            # Both look again at what is now agreed and approve it (a second vote by the same person is a 409).
            for key in (APPROVER_KEY, APPROVER2_KEY):
                assert await _decide(running, key, approval_id, outcome="approve") in (200, 409)
            approval = await running.runtime.service.get(approval_id)
            if approval.status != "approved":
                continue
            approved += 1
            assert approval.decision is not None
            counted = approval.approvals
            assert len({vote.by.id for vote in counted}) >= 2
            assert all(vote.args == approval.decision.args for vote in counted), (approval.decision, counted)
            # The audit agrees: every vote since the last one that cleared earlier votes endorsed those args.
            votes = [e for e in await running.runtime.service.events(approval_id) if e.type == "vote"]
            last_reset = max((n for n, e in enumerate(votes) if e.detail.get("reset_earlier_votes")), default=0)
            for entry in votes[last_reset:]:
                assert json.dumps(entry.detail["args"], sort_keys=True) == json.dumps(
                    approval.decision.args, sort_keys=True
                )
        assert approved == RUNS
