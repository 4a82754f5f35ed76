"""Socket Mode: with SLACK_APP_TOKEN the app connects out to Slack and serves no /slack/events route."""

from __future__ import annotations

from tests.support.servers import AGENT_KEY, auth, make_settings, running_app
from tests.support.slack_emulator import BOT_TOKEN, slack_emulator

APP_TOKEN = "xapp-1-A0APP-0000-test"


async def test_socket_mode_connects_out_and_mounts_no_route(redis_server):
    async with slack_emulator() as emulator:
        settings = make_settings(
            redis_server.url, slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN, slack_api_url=emulator.api_url
        )
        async with running_app(settings) as running:
            # The emulator refuses the app-level token: the service keeps running and keeps retrying.
            [call] = await emulator.wait_for("apps.connections.open", ok_only=False)
            assert call.status == 401
            response = await running.client.post("/slack/events", data=b"payload=%7B%7D")
            assert response.status in (404, 405)
            response = await running.client.post("/v1/approvals", json={"action": "deploy"}, headers=auth(AGENT_KEY))
            assert response.status == 201
