"""6b: credentials in an agent's arguments stay out of email, SMS, the email confirm page, `/events` and
audit exports, which keep a keyed hash instead; the agent still gets the real values."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.jsonutil import canonical
from bot.redaction import MASK_PREFIX
from bot.runtime import mask_key
from bot.settings import Settings
from tests.escalation.conftest import (  # noqa: F401 (fixtures)
    PUBLIC_URL,
    OutboxProbe,
    esc_settings,
    recorder,
    smtp,
    twilio,
)
from tests.security.redaction_support import SECRET_ARGS, leaked
from tests.support.processes import clean_env, countersign_cmd
from tests.support.rq_worker import run_burst
from tests.support.servers import AGENT_KEY, APPROVER_KEY, RunningApp, auth, running_app
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_emulator import TwilioEmulator

ALICE_EMAIL, ALICE_PHONE = "alice@example.com", "+15550001111"
POLICY = f"""
default_level: medium
levels:
  medium:
    channels: [{{email: {ALICE_EMAIL}}}, {{sms: "{ALICE_PHONE}"}}, {{web: queue}}]
    approvers: [{ALICE_EMAIL}, "{ALICE_PHONE}"]
    timeout: 1h
"""
LINK = re.compile(r"https://countersign\.example\.com(/email/[A-Za-z0-9_.\-]+)")


@pytest.fixture
async def mailing_app(esc_settings: Settings) -> AsyncIterator[tuple[RunningApp, OutboxProbe]]:  # noqa: F811
    async with running_app(esc_settings, POLICY) as running:
        probe = OutboxProbe()
        running.runtime.outbox.subscribe(probe)
        yield running, probe


async def _file(running: RunningApp, probe: OutboxProbe) -> str:
    response = await running.client.post(
        "/v1/approvals",
        headers=auth(AGENT_KEY),
        json={"action": "call_api", "args": SECRET_ARGS, "context": {"why": "monthly charge"}},
    )
    assert response.status == 201, await response.text()
    approval_id = str((await response.json())["id"])
    await probe.wait("created", approval_id)
    return approval_id


async def test_authorization_header_is_not_in_emails_sms_or_the_confirm_page(
    mailing_app: tuple[RunningApp, OutboxProbe],
    smtp: SmtpServer,  # noqa: F811 -- the fixture, imported above
    twilio: TwilioEmulator,  # noqa: F811
) -> None:
    running, probe = mailing_app
    approval_id = await _file(running, probe)
    await run_burst(running.runtime.settings)  # the level's email and SMS channels, sent at creation
    [mail] = await asyncio.to_thread(smtp.wait_for, 1)
    [sms] = await twilio.wait_for_accepted(1)
    assert "api.example.com" in mail.part("plain") and MASK_PREFIX in mail.part("plain")
    assert leaked(mail.part("plain")) == [] and leaked(mail.part("html")) == []
    assert leaked(mail.message.as_string()) == [] and leaked(sms.body) == []
    approve_link = LINK.findall(mail.part("plain"))[0]
    confirm = await running.client.get(approve_link)
    assert confirm.status == 200 and leaked(await confirm.text()) == []
    done = await running.client.post(approve_link)
    assert done.status == 200 and leaked(await done.text()) == []
    decided = await running.client.get(f"/v1/approvals/{approval_id}", headers=auth(AGENT_KEY))
    assert (await decided.json())["decision"]["args"] == SECRET_ARGS  # the agent's own values


async def test_secrets_are_not_in_events_or_audit_exports(
    mailing_app: tuple[RunningApp, OutboxProbe], tmp_path: Path
) -> None:
    running, probe = mailing_app
    approval_id = await _file(running, probe)
    modified = {**SECRET_ARGS, "amount": 5}
    decided = await running.client.post(
        f"/v1/approvals/{approval_id}/decision",
        headers=auth(APPROVER_KEY),
        json={"outcome": "modify", "args": modified},
    )
    assert decided.status == 200, await decided.text()

    for key in (AGENT_KEY, APPROVER_KEY):
        events = await running.client.get(f"/v1/approvals/{approval_id}/events", headers=auth(key))
        assert events.status == 200 and leaked(await events.text()) == []
    settings = running.runtime.settings
    env = clean_env(
        REDIS_URL=settings.redis_url or "",
        COUNTERSIGN_REDIS_PREFIX=settings.countersign_redis_prefix,
        COUNTERSIGN_SECRET_KEY=settings.countersign_secret_key or "",
    )
    outputs = {}
    for fmt in ("jsonl", "csv"):
        exported = await asyncio.to_thread(
            subprocess.run,
            countersign_cmd("audit", "export", "--format", fmt),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert exported.returncode == 0, exported.stderr
        assert "call_api" in exported.stdout and leaked(exported.stdout) == []
        outputs[fmt] = exported.stdout

    # The audit still proves what was approved: the mask is an HMAC under the server's key.
    lines = [json.loads(line) for line in outputs["jsonl"].splitlines()]
    created = next(e for e in lines if e["type"] == "created")
    key = await mask_key(settings, running.runtime.redis, running.runtime.keys)
    password_mask = created["detail"]["args"]["db"]["Password"]
    assert (
        password_mask == MASK_PREFIX + hmac.new(key, canonical("hunter2-DBPASS").encode(), hashlib.sha256).hexdigest()
    )
    # …and is not the plain SHA-256 that a dictionary of passwords would reverse.
    assert hashlib.sha256(canonical("hunter2-DBPASS").encode()).hexdigest() not in password_mask
    verify = await asyncio.to_thread(
        subprocess.run,
        countersign_cmd("audit", "verify"),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout
