"""Shared by the test_deciders_* files: an app with a people directory, mail and SMS, and ways to decide."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.embedded import EmbeddedRedis
from tests.escalation.conftest import OutboxProbe, all_audit
from tests.support.rq_worker import run_burst
from tests.support.servers import AGENT_KEY, RunningApp, auth, delivery_settings, running_app
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_emulator import TwilioEmulator, running_twilio

ADA_EMAIL, ADA_PHONE = "ada@example.com", "+15550001111"
GRACE_EMAIL = "grace@example.com"
OPS_EMAIL, OPS_PHONE = "ops@example.com", "+15550003333"
BOB = "bob@example.com"
STRANGER_PHONE = "+15559990000"
POLICY = f"""
people:
  Ada: {{slack: U0ADA, email: {ADA_EMAIL}, phone: "{ADA_PHONE}"}}
  Grace: {{slack: U0GRACE, email: {GRACE_EMAIL}}}
levels:
  medium:     # names no approvers: only the people it is sent to, and admins, decide
    channels: [{{web: queue}}, {{email: {OPS_EMAIL}}}, {{sms: "{OPS_PHONE}"}}]
    timeout: 1h
  high:       # one person named three ways, and a quorum of two
    channels: [{{email: {ADA_EMAIL}}}, {{sms: "{ADA_PHONE}"}}, {{email: {GRACE_EMAIL}}}]
    approvers: [{ADA_EMAIL}, "{ADA_PHONE}", {GRACE_EMAIL}]
    quorum: 2
    timeout: 1h
  critical:   # approvers named by person; a reject needs a reason (the default for critical)
    channels: [{{email: {ADA_EMAIL}}}, {{sms: "{ADA_PHONE}"}}]
    approvers: [Ada]
    timeout: 1h
rules:
  - {{name: deletes, match: {{action: "delete_*"}}, level: high}}
  - {{name: restarts, match: {{action: "restart_*"}}, level: critical}}
"""
# Plain http, so that the test client keeps the dashboard's cookies (they are Secure under https).
PUBLIC_URL = "http://countersign.example.com"
LINK = re.compile(r"http://countersign\.example\.com(/email/[A-Za-z0-9_.\-]+)")
CODE = re.compile(r"\bYES (\S+)")


@pytest.fixture
def smtp() -> Any:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioEmulator]:
    async with running_twilio() as emulator:
        yield emulator


@pytest.fixture
async def deciders_app(
    redis_server: EmbeddedRedis, smtp: SmtpServer, twilio: TwilioEmulator
) -> AsyncIterator[RunningApp]:
    settings = delivery_settings(
        redis_server.url,
        smtp.url,
        twilio.url,
        PUBLIC_URL,
        countersign_secret_key="deciders-test-secret-key-0123456789",
        countersign_web_users=f"{BOB},{OPS_EMAIL}",
        countersign_escalation_batch_s=0,  # one message per request: these tests are about who may decide
    )
    async with running_app(settings, POLICY) as running:
        probe = OutboxProbe()  # after the escalation handler: once it has seen "created", the job is queued
        running.runtime.outbox.subscribe(probe)
        _PROBES[id(running)] = probe
        try:
            yield running
        finally:
            _PROBES.pop(id(running), None)


_PROBES: dict[int, OutboxProbe] = {}


async def file(running: RunningApp, action: str, **extra: Any) -> str:
    response = await running.client.post(
        "/v1/approvals", json={"action": action, "args": {"user": "u1"}, **extra}, headers=auth(AGENT_KEY)
    )
    assert response.status == 201, await response.text()
    approval_id = str((await response.json())["id"])
    if (probe := _PROBES.get(id(running))) is not None:
        await probe.wait("created", approval_id)  # its notification job is queued: run_burst will send it
    return approval_id


async def notified(
    running: RunningApp, smtp: SmtpServer, twilio: TwilioEmulator, mails: int, texts: int
) -> tuple[dict[str, tuple[str, str]], str]:
    """Run the level's notification job, which sends `mails` mails and `texts` texts; returns
    ({recipient: (approve link, reject link)}, the SMS reply code)."""
    mails_before, texts_before = len(smtp.received), len(twilio.accepted)
    await run_burst(running.runtime.settings)
    received = await asyncio.to_thread(smtp.wait_for, mails_before + mails)
    links: dict[str, tuple[str, str]] = {}
    for mail in received[mails_before:]:
        approve, reject = LINK.findall(mail.part("plain"))
        links[mail.recipients[0]] = (approve, reject)
    code = ""
    if texts:
        sms = (await twilio.wait_for_accepted(texts_before + texts))[-1]
        found = CODE.search(sms.body)
        assert found, sms.body
        code = found.group(1)
    return links, code


async def reply(running: RunningApp, twilio: TwilioEmulator, phone: str, body: str) -> str:
    status, text = await twilio.send_inbound(running.url, PUBLIC_URL, phone, body)
    assert status == 200
    return text


async def refusals(running: RunningApp, approval_id: str) -> list[dict[str, Any]]:
    return [e for e in await all_audit(running) if e["type"] == "refused" and e["approval_id"] == approval_id]
