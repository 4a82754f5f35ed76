"""The app with email, SMS and Slack-reminder delivery wired to local servers, for the §6 rendering tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.embedded import EmbeddedRedis
from tests.escalation.conftest import OutboxProbe
from tests.support.http_recorder import HttpRecorder, running_recorder
from tests.support.rq_worker import make_due, run_burst, scheduled, send_batches
from tests.support.servers import AGENT_KEY, RunningApp, auth, delivery_settings, running_app
from tests.support.smtp_server import Received, SmtpServer
from tests.support.twilio_emulator import TwilioEmulator, running_twilio

PUBLIC_URL = "https://countersign.example.com"
ALICE_EMAIL = "alice@example.com"
ALICE_PHONE = "+15550001111"
POLICY = f"""
default_level: high
levels:
  high:
    channels: [{{email: {ALICE_EMAIL}}}, {{sms: "{ALICE_PHONE}"}}]
    approvers: [{ALICE_EMAIL}, "{ALICE_PHONE}", U0ALICE]
    timeout: 2h
    on_timeout: approve
    escalate:
      - {{after: 10m, slack: "#ops"}}
rules:
  - {{name: big-payment, match: {{action: pay, args: {{payment.amount: {{gt: 100}}}}}}, level: high}}
  - {{name: shell-deletes, match: {{action: "run_*", args: {{command: {{regex: "rm -rf"}}}}}}, level: high}}
"""


@dataclass
class NotifyEnv:
    running: RunningApp
    probe: OutboxProbe
    smtp: SmtpServer
    twilio: TwilioEmulator
    recorder: HttpRecorder

    async def submit(self, **request: Any) -> str:
        body = {"action": "deploy", "args": {"service": "billing"}, **request}
        response = await self.running.client.post("/v1/approvals", json=body, headers=auth(AGENT_KEY))
        assert response.status == 201, await response.text()
        approval_id = str((await response.json())["id"])
        await self.probe.wait("created", approval_id)
        return approval_id

    async def send_channels(self) -> None:
        """Run the channel notification job (email and SMS at creation), then end the batch windows."""
        await run_burst(self.running.runtime.settings)
        await send_batches(self.running.runtime.settings)

    async def email(self) -> Received:
        return (await asyncio.to_thread(self.smtp.wait_for, 1))[0]

    async def remind_in_slack(self, approval_id: str) -> dict[str, Any]:
        """Fire the 10-minute step now (a reminder in #ops) and return the chat.postMessage Slack got."""
        step = next(j for j, _ in scheduled(self.running.runtime.settings) if f"esc-{approval_id}-0-0" in j)
        make_due(self.running.runtime.settings, step)
        await run_burst(self.running.runtime.settings)
        posts = self.recorder.to("/api/chat.postMessage")
        assert posts, "no reminder posted"
        payload: dict[str, Any] = posts[-1].json()
        return payload


@asynccontextmanager
async def notify_env(redis: EmbeddedRedis) -> AsyncIterator[NotifyEnv]:
    smtp = SmtpServer()
    smtp.start()
    try:
        async with running_twilio() as twilio, running_recorder() as recorder:
            settings = delivery_settings(
                redis.url,
                smtp.url,
                twilio.url,
                PUBLIC_URL,
                slack_bot_token="xoxb-test",
                slack_api_url=recorder.url + "/api/",
                countersign_secret_key="rendering-test-secret-key-0123456789",
            )
            async with running_app(settings, POLICY) as running:
                probe = OutboxProbe()
                running.runtime.outbox.subscribe(probe)
                yield NotifyEnv(running, probe, smtp, twilio, recorder)
    finally:
        smtp.stop()
