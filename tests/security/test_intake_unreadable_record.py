"""§3: one unreadable record already in Redis (written before intake bounded depth, or corrupted) must not
break listing for every approver, the expiry sweeper or the outbox fan-out: log it, skip it, carry on."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.expiry import ExpirySweeper
from tests.support.servers import AGENT_KEY, APPROVER_KEY, RunningApp, auth, make_settings, running_app
from tests.support.slack_app import slack_harness
from tests.support.web import BOB, POLICY, sign_in


def deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


async def plant_unreadable(app: RunningApp, template: dict[str, Any]) -> list[str]:
    """Write two broken pending records straight into Redis, indexed and already due for expiry."""
    runtime, keys = app.runtime, app.runtime.keys
    now_ms = int(time.time() * 1000)
    too_deep = {**template, "id": "apr_toodeep", "args": deep(300)}
    bodies = {"apr_toodeep": json.dumps(too_deep), "apr_garbled": '{"id": "apr_garbled", "agent": "billing-agent", '}
    for approval_id, body in bodies.items():
        await runtime.redis.hset(
            keys.approval(approval_id),
            mapping={"req": body, "st": "pending", "cms": str(now_ms), "ems": str(now_ms - 1000), "lvl": "medium"},
        )
        for index in (keys.pending, keys.all, keys.agent_index("billing-agent")):
            await runtime.redis.zadd(index, {approval_id: now_ms + 1})  # newest: listed first
        await runtime.redis.zadd(keys.expiry, {approval_id: now_ms - 1000})
    return list(bodies)


async def file(app: RunningApp, **fields: Any) -> dict[str, Any]:
    response = await app.client.post("/v1/approvals", json={"action": "deploy", **fields}, headers=auth())
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def stored_document(app: RunningApp, approval_id: str) -> dict[str, Any]:
    raw = await app.runtime.redis.hget(app.runtime.keys.approval(approval_id), "req")
    document: dict[str, Any] = json.loads(raw)
    return document


async def test_unreadable_record_does_not_break_the_api_listing(app):
    good = await file(app)
    await plant_unreadable(app, await stored_document(app, good["id"]))
    for key, query in [
        (APPROVER_KEY, ""),
        (APPROVER_KEY, "?status=pending"),
        (AGENT_KEY, ""),
        (APPROVER_KEY, "?limit=1"),
    ]:
        response = await app.client.get(f"/v1/approvals{query}", headers=auth(key))
        assert response.status == 200, await response.text()
        assert [item["id"] for item in (await response.json())["items"]] == [good["id"]]
    single = await app.client.get("/v1/approvals/apr_toodeep", headers=auth(APPROVER_KEY))
    assert single.status == 404  # unreadable: not a 500


async def test_unreadable_record_does_not_break_the_dashboard_queue(redis_server):
    settings = make_settings(redis_server.url, countersign_web_users=BOB)
    async with running_app(settings, POLICY) as app:
        good = await file(app)
        await plant_unreadable(app, await stored_document(app, good["id"]))
        await sign_in(app, BOB)
        for path in ("/", "/?agent=billing-agent", "/history", "/history?agent=billing-agent&action=deploy"):
            page = await app.client.get(path)
            assert page.status == 200, (path, await page.text())


async def test_unreadable_record_does_not_stop_the_expiry_sweeper(app):
    good = await file(app)
    await plant_unreadable(app, await stored_document(app, good["id"]))
    short = await file(app, timeout_s=1)
    sweeper = ExpirySweeper(app.runtime.service, app.runtime.feed)
    await sweeper.start()
    try:
        expired = await (await app.client.get(f"/v1/approvals/{short['id']}?wait=5", headers=auth())).json()
        assert expired["status"] == "expired"
        # The broken records are taken off the schedule, so the sweeper does not spin on them.
        assert await app.runtime.redis.zscore(app.runtime.keys.expiry, "apr_toodeep") is None
    finally:
        await sweeper.stop()


async def test_unreadable_record_does_not_stop_the_outbox_or_the_slack_queue(redis_server):
    policy = 'levels:\n  medium: {channels: [{slack: "#approvals"}], timeout: 1h}\n'
    async with slack_harness(redis_server, policy) as slack:
        app = slack.running
        first, _ = await slack.submit_and_wait_posted()
        broken = await plant_unreadable(app, await stored_document(app, first["id"]))
        for approval_id in broken:  # announce them, as the create script would have
            await app.runtime.redis.xadd(
                app.runtime.keys.outbox, {"type": "created", "id": approval_id, "status": "pending"}
            )
        await app.runtime.redis.xadd(app.runtime.keys.outbox, {"type": b"\xff\xfe", "id": b"\xff"})
        await app.runtime.redis.publish(app.runtime.keys.changes_channel, b"\xff\xfe pending")
        second, message = await slack.submit_and_wait_posted(action="rollback")
        assert message.action_ids
        status, _ = await slack.player.command("U0ADA")
        assert status == 200
        [listing] = await slack.emulator.wait_for("response_url")
        assert second["id"] in json.dumps(listing.args) and first["id"] in json.dumps(listing.args)
