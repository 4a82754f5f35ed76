"""Without Slack settings the service runs, says once that Slack is off, and has no Slack route."""

from __future__ import annotations

import logging

from tests.support.servers import AGENT_KEY, auth, make_settings, running_app


async def test_slack_off_without_settings(redis_server, caplog):
    caplog.set_level(logging.INFO, logger="handlers.install")
    async with running_app(make_settings(redis_server.url)) as running:
        response = await running.client.post("/v1/approvals", json={"action": "deploy"}, headers=auth(AGENT_KEY))
        assert response.status == 201
        response = await running.client.post("/slack/events", data=b"payload=%7B%7D")
        assert response.status in (404, 405)
    lines = [r.getMessage() for r in caplog.records if r.name == "handlers.install"]
    assert len(lines) == 1 and lines[0].startswith("Slack is off")
