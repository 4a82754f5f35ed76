"""An agent's timeout_s under `on_timeout: approve` would turn "nobody answered in 1 s" into an approval it
chose: it is ignored, and every surface (API 201, SDK log, CLI stderr) says so instead of dropping it silently."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from countersign_sdk import Countersign
from tests.support.agents import filed
from tests.support.processes import finish, start_cli
from tests.support.servers import AGENT_KEY, auth, running_app

APPROVE_ON_TIMEOUT = """
default_level: low
levels:
  low: {channels: [{web: queue}], timeout: 1h, on_timeout: approve}
  high: {channels: [{web: queue}], timeout: 2h}
rules:
  - {name: risky, match: {action: risky}, level: high}
"""


@pytest.fixture
async def app(settings):
    async with running_app(settings, APPROVE_ON_TIMEOUT) as running:
        yield running


def _lifetime(approval: dict) -> float:
    created = datetime.fromisoformat(approval["created_at"].replace("Z", "+00:00"))
    return (datetime.fromisoformat(approval["expires_at"].replace("Z", "+00:00")) - created).total_seconds()


async def test_short_timeout_s_under_on_timeout_approve_is_ignored_and_said(app):
    resp = await app.client.post("/v1/approvals", json={"action": "deploy", "timeout_s": 1}, headers=auth())
    assert resp.status == 201
    body = await resp.json()
    assert _lifetime(body) == 3600  # the level's own timeout, not the agent's 1 s
    assert body["warnings"] == [
        "timeout_s ignored: level low has on_timeout: approve, so the level's own timeout (3600 s) applies "
        "and a person is asked"
    ]
    again = await app.client.get(f"/v1/approvals/{body['id']}", headers=auth())
    assert (await again.json())["warnings"] == []  # said once, on the filing


async def test_timeout_s_under_on_timeout_reject_is_honoured_without_warning(app):
    resp = await app.client.post("/v1/approvals", json={"action": "risky", "timeout_s": 60}, headers=auth())
    body = await resp.json()
    assert _lifetime(body) == 60 and body["warnings"] == []


async def test_sdk_logs_the_ignored_timeout(app, caplog):
    gate = Countersign(url=app.url, api_key=AGENT_KEY)
    with caplog.at_level(logging.WARNING, logger="countersign_sdk"):
        approval = await gate.aio.request("deploy", {}, timeout_s=5)
    assert approval.warnings and approval.warnings[0].startswith("timeout_s ignored")
    assert [r.getMessage() for r in caplog.records] == [f"{approval.id}: {approval.warnings[0]}"]
    await gate.aio.cancel(approval.id)


async def test_cli_request_timeout_prints_one_warning_line(app):
    async with filed(app) as queue:
        process = await start_cli(app.url, "request", "--action", "deploy", "--timeout", "2s")
        approval_id = await queue.next()
        await app.runtime.service.cancel(approval_id, "billing-agent")
        done = await finish(process)
    warnings = [line for line in done.stderr.splitlines() if "timeout_s ignored" in line]
    assert warnings == [
        f"countersign: warning: {approval_id}: timeout_s ignored: level low has on_timeout: approve, so the "
        "level's own timeout (3600 s) applies and a person is asked"
    ]
