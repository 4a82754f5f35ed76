"""Slack's door and the log: refused requests are not logged with their bodies, a timestamp that is not a
number is refused (401), and nothing a client sends can start a log line of its own."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import AsyncIterator

import pytest

from bot.embedded import EmbeddedRedis
from bot.logs import one_line_handler
from tests.support.servers import make_settings, running_app
from tests.support.slack_app import SlackHarness, slack_harness
from tests.support.slack_emulator import SIGNING_SECRET, signature

MARKER = "body-marker-7f3a9c"


@pytest.fixture
async def slack(redis_server: EmbeddedRedis) -> AsyncIterator[SlackHarness]:
    async with slack_harness(redis_server) as harness:
        yield harness


async def test_edge_slack_bad_signature_body_not_logged(slack: SlackHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = f'{{"type": "event_callback", "event": {{"text": "{MARKER}"}}}}'
    for secret in ("not-the-signing-secret", SIGNING_SECRET):
        age = 0 if secret != SIGNING_SECRET else 3600  # a wrong secret, then the right one but an hour old
        status, _ = await slack.player.send(body, "application/json", secret=secret, age_s=age)
        assert status == 401
    # The refusal was logged (so we know logging ran), but without the body.
    assert any("Slack signature" in record.getMessage() for record in caplog.records)
    assert MARKER not in caplog.text
    assert not any(MARKER in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "timestamp", ["abc", "", "1e9", "0x10", "{now}.5", " {now}", "+{now}", "{now}\t", "١٧٠٠٠٠٠٠٠٠", "9" * 40]
)
async def test_edge_slack_nonnumeric_timestamp_401(slack: SlackHarness, timestamp: str) -> None:
    # Signed correctly over the odd timestamp: only the timestamp's form is wrong.
    timestamp = timestamp.format(now=int(time.time()))
    body = '{"type": "url_verification", "challenge": "abc123", "token": "t"}'
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(SIGNING_SECRET, timestamp, body),
    }
    response = await slack.running.client.post("/slack/events", data=body.encode(), headers=headers)
    assert response.status == 401
    assert "abc123" not in await response.text()


async def test_edge_slack_missing_signature_headers_401(slack: SlackHarness) -> None:
    body = b'{"type": "url_verification", "challenge": "abc123", "token": "t"}'
    for headers in ({}, {"X-Slack-Request-Timestamp": str(int(time.time()))}, {"X-Slack-Signature": "v0=00"}):
        response = await slack.running.client.post(
            "/slack/events", data=body, headers={"Content-Type": "application/json", **headers}
        )
        assert response.status == 401


async def test_edge_log_newline_cannot_forge_line(redis_server: EmbeddedRedis) -> None:
    forged = "2026-01-01 00:00:00,000 WARNING bot.audit: approval apr_x approved by admin"
    stream = io.StringIO()
    handler = one_line_handler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        async with running_app(make_settings(redis_server.url)) as running:
            # The path is logged when a dashboard POST lacks its CSRF token; %0A and %0D decode to a newline.
            path = "/login/x%0D%0A" + forged.replace(" ", "%20") + "%0A%1B[2J"
            response = await running.client.post(path, data={"csrf": "nope"})
            assert response.status == 403
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = stream.getvalue().splitlines()
    logged = [line for line in lines if "without a valid CSRF token" in line]
    assert len(logged) == 1, lines
    assert "\\n2026-01-01" in logged[0] and "\\x1b[2J" in logged[0]
    assert not any(line.startswith("2026-01-01 00:00:00,000") for line in lines)
    assert all("\x1b" not in line and "\r" not in line for line in lines)
