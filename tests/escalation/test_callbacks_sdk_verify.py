"""A callback the worker really delivers verifies with the agent SDK's `verify_signature` (the check agents
run), and only with the agent's own key, over the exact body, within the replay window."""

from __future__ import annotations

import time

from countersign_sdk import verify_signature
from countersign_sdk.callbacks import HEADER
from tests.escalation.conftest import OutboxProbe, submit
from tests.support.http_recorder import HttpRecorder
from tests.support.rq_worker import run_burst
from tests.support.servers import AGENT_KEY, APPROVER_KEY, RunningApp, auth


async def test_delivered_callback_verifies_with_the_sdk(
    esc_app: tuple[RunningApp, OutboxProbe], recorder: HttpRecorder
) -> None:
    running, probe = esc_app
    approval = await submit(running, probe, callback_url=recorder.url + "/hooks/sdk")
    response = await running.client.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"outcome": "approve", "comment": "ok"},
        headers=auth(APPROVER_KEY),
    )
    assert response.status == 200
    await probe.wait("decided", approval["id"])
    await run_burst(running.runtime.settings)
    (request,) = recorder.to("/hooks/sdk")
    header = request.headers[HEADER]
    assert verify_signature(AGENT_KEY, header, request.body)
    assert not verify_signature("other-agent-secret-0123456789", header, request.body)
    assert not verify_signature(AGENT_KEY, header, request.body.replace(b"approved", b"rejected"))
    assert not verify_signature(AGENT_KEY, header, request.body, now=time.time() + 301)
