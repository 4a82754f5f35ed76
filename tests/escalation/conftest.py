"""Fixtures for escalation tests: SMTP server, Twilio emulator, HTTP recorder, an app with a test policy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.embedded import EmbeddedRedis
from bot.expiry import ExpirySweeper
from bot.models import Approval
from bot.service import ApprovalService
from bot.settings import Settings
from tests.support.http_recorder import HttpRecorder, running_recorder
from tests.support.servers import AGENT_KEY, RunningApp, auth, delivery_settings, running_app
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_emulator import TwilioEmulator, running_twilio

PUBLIC_URL = "https://countersign.example.com"
ALICE_EMAIL = "alice@example.com"
ALICE_PHONE = "+15550001111"
POLICY = f"""
levels:
  high:
    channels: [{{web: queue}}]
    approvers: [{ALICE_EMAIL}, "{ALICE_PHONE}", U0ALICE]
    timeout: 2h
    on_timeout: reject
    escalate:
      - {{after: 10m, slack: "#ops"}}
      - {{after: 30m, email: {ALICE_EMAIL}}}
      - {{after: 60m, sms: "{ALICE_PHONE}", repeat: {{every: 15m, times: 1}}}}
  critical:
    approvers: [{ALICE_EMAIL}]
    timeout: 30m
    on_timeout: approve
    escalate:
      - {{after: 5m, email: {ALICE_EMAIL}, sms: "{ALICE_PHONE}"}}
rules:
  - {{name: deletes, match: {{action: delete_user_data}}, level: high}}
  - {{name: restarts, match: {{action: restart_service}}, level: critical}}
"""


class OutboxProbe:
    """Registered after the escalation handler: once it sees an event, the scheduling for it is done."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._changed = asyncio.Condition()

    async def __call__(self, event_type: str, approval_id: str, status: str) -> None:
        async with self._changed:
            self.seen.append((event_type, approval_id))
            self._changed.notify_all()

    async def wait(self, event_type: str, approval_id: str, seconds: float = 10) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: (event_type, approval_id) in self.seen), seconds)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioEmulator]:
    async with running_twilio() as emulator:
        yield emulator


@pytest.fixture
async def recorder() -> AsyncIterator[HttpRecorder]:
    async with running_recorder() as server:
        yield server


@pytest.fixture
def esc_settings(
    redis_server: EmbeddedRedis, smtp: SmtpServer, twilio: TwilioEmulator, recorder: HttpRecorder
) -> Settings:
    return delivery_settings(
        redis_server.url,
        smtp.url,
        twilio.url,
        PUBLIC_URL,
        slack_bot_token="xoxb-test",
        slack_api_url=recorder.url + "/api/",
        countersign_secret_key="escalation-test-secret-key-0123456789",
        # The agent's callback receiver runs on loopback: the operator allows it (refused by default).
        countersign_callback_allow="127.0.0.1",
        # One message per request here; tests/escalation/test_batches.py runs with the batch window on.
        countersign_escalation_batch_s=0,
    )


@pytest.fixture
async def esc_app(esc_settings: Settings) -> AsyncIterator[tuple[RunningApp, OutboxProbe]]:
    async with running_app(esc_settings, POLICY) as running:
        probe = OutboxProbe()
        running.runtime.outbox.subscribe(probe)
        yield running, probe


async def submit(
    running: RunningApp, probe: OutboxProbe, action: str = "delete_user_data", **extra: Any
) -> dict[str, Any]:
    body = {
        "action": action,
        "args": {"user_id": "user_123"},
        "context": {"why": "GDPR erasure request", "affected": "1 user", "reversible": False},
        **extra,
    }
    response = await running.client.post("/v1/approvals", json=body, headers=auth(AGENT_KEY))
    assert response.status == 201, await response.text()
    approval: dict[str, Any] = await response.json()
    await probe.wait("created", approval["id"])
    return approval


async def audit_types(running: RunningApp, approval_id: str) -> list[str]:
    return [event.type for event in await running.runtime.service.events(approval_id)]


async def all_audit(running: RunningApp) -> list[dict[str, Any]]:
    """Every audit entry under this test's prefix (also those not tied to a request, like a forged token)."""
    import json

    return [json.loads(fields["body"]) async for _id, fields in running.runtime.audit.raw_entries()]


async def sweep_at(running: RunningApp, moment: datetime) -> list[Approval]:
    """Run one pass of the expiry sweeper as another process would, with its clock standing at `moment`
    (the same store and outbox; only the clock differs): no sleeping until expires_at."""
    runtime = running.runtime
    service = ApprovalService(runtime.store, runtime.audit, runtime.feed, runtime.policy, FrozenClock(moment))
    service.mask_key = runtime.service.mask_key
    return await ExpirySweeper(service, runtime.feed).sweep()
