"""Signed agent callbacks to a local HTTP receiver: signature, backoff on 5xx, every attempt audited."""

from __future__ import annotations

import time
from typing import Any

from bot.channels.callbacks.outbound import HEADER, verify_signature
from jobs.scheduling import callback_job_id
from tests.escalation.conftest import OutboxProbe, submit
from tests.support.http_recorder import HttpRecorder
from tests.support.rq_worker import make_due, run_burst, scheduled
from tests.support.servers import AGENT_KEY, APPROVER_KEY, RunningApp, auth


async def callback_attempts(running: RunningApp, approval_id: str) -> list[dict[str, Any]]:
    return [e.detail for e in await running.runtime.service.events(approval_id) if e.type == "callback"]


async def _decide(running: RunningApp, probe: OutboxProbe, approval_id: str) -> None:
    response = await running.client.post(
        f"/v1/approvals/{approval_id}/decision",
        json={"outcome": "reject", "comment": "not today"},
        headers=auth(APPROVER_KEY),
    )
    assert response.status == 200
    await probe.wait("decided", approval_id)


async def test_callback_is_signed_with_the_agents_key(
    esc_app: tuple[RunningApp, OutboxProbe], recorder: HttpRecorder
) -> None:
    running, probe = esc_app
    approval = await submit(running, probe, callback_url=recorder.url + "/hooks/countersign")
    await _decide(running, probe, approval["id"])
    await run_burst(running.runtime.settings)
    (request,) = recorder.to("/hooks/countersign")
    assert request.method == "POST"
    header = request.headers[HEADER]
    assert verify_signature(AGENT_KEY, header, request.body, int(time.time()))
    assert not verify_signature("some-other-agent-secret", header, request.body, int(time.time()))
    assert not verify_signature(AGENT_KEY, header, request.body + b" ", int(time.time()))
    assert not verify_signature(AGENT_KEY, header, request.body, int(time.time()) + 3600)  # replayed later
    body = request.json()
    assert body["id"] == approval["id"] and body["status"] == "rejected"
    assert body["decision"]["comment"] == "not today"
    attempts = await callback_attempts(running, approval["id"])
    assert [(a["attempt"], a["result"], a["http_status"]) for a in attempts] == [(1, "delivered", 200)]


async def test_callback_retries_on_5xx_then_delivers(
    esc_app: tuple[RunningApp, OutboxProbe], recorder: HttpRecorder
) -> None:
    running, probe = esc_app
    recorder.statuses = [503, 500]
    approval = await submit(running, probe, callback_url=recorder.url + "/hooks/countersign")
    await _decide(running, probe, approval["id"])
    keys, settings = running.runtime.keys, running.runtime.settings
    await run_burst(settings)
    waits = {}
    for attempt in (2, 3):
        job_id = callback_job_id(keys, approval["id"], attempt)
        due = dict(scheduled(settings))[job_id]
        waits[attempt] = due.timestamp() - time.time()
        make_due(settings, job_id)
        await run_burst(settings)
    assert [r.path for r in recorder.requests] == ["/hooks/countersign"] * 3
    assert 20 < waits[2] <= 31 and 50 < waits[3] <= 61  # 30 s, then 60 s: exponential
    attempts = await callback_attempts(running, approval["id"])
    assert [(a["attempt"], a["result"], a["http_status"]) for a in attempts] == [
        (1, "retrying", 503),
        (2, "retrying", 500),
        (3, "delivered", 200),
    ]


async def test_callback_retries_on_network_errors(esc_app: tuple[RunningApp, OutboxProbe]) -> None:
    running, probe = esc_app
    # Nothing listens on this port: connection refused.
    approval = await submit(running, probe, callback_url="http://127.0.0.1:9/hook")
    await _decide(running, probe, approval["id"])
    await run_burst(running.runtime.settings)
    attempts = await callback_attempts(running, approval["id"])
    assert attempts[0]["result"] == "retrying" and attempts[0]["error"]
    next_job = callback_job_id(running.runtime.keys, approval["id"], 2)
    assert next_job in dict(scheduled(running.runtime.settings))


async def test_callback_gives_up_after_24_hours(
    esc_app: tuple[RunningApp, OutboxProbe], recorder: HttpRecorder
) -> None:
    from datetime import timedelta

    from bot.clock import FrozenClock

    running, probe = esc_app
    recorder.statuses = [502, 502]  # the first attempt, then attempt 13
    approval = await submit(running, probe, callback_url=recorder.url + "/hooks/countersign")
    await _decide(running, probe, approval["id"])
    decided_at = (await running.runtime.service.get(approval["id"])).updated_at
    assert decided_at is not None
    # Attempt 13 would wait an hour, and the decision is already 23.5 hours old.
    from redis import Redis

    from jobs.worker import queue_for

    settings = running.runtime.settings
    redis = Redis.from_url(settings.redis_url or "")
    queue = queue_for(redis, settings)
    queue.enqueue("jobs.callbacks.deliver_callback", approval["id"], 13)
    redis.close()
    await run_burst(settings, FrozenClock(decided_at + timedelta(hours=23, minutes=30)))
    attempts = await callback_attempts(running, approval["id"])
    final = [a for a in attempts if a["attempt"] == 13]
    assert final and final[0]["result"] == "failed"
    assert callback_job_id(running.runtime.keys, approval["id"], 14) not in dict(scheduled(settings))
