"""An agent key cannot create, list, read, revoke or get suggestions of standing grants: it could grant
itself everything. Only approver keys (and people, through their channels) manage grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.servers import APPROVER_KEY, auth

BODY = {
    "agent": "*",
    "action": "*",
    "max_level": "high",
    "extra_args": True,
    "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
}


async def test_agent_key_cannot_grant_itself_everything(app):
    response = await app.client.post("/v1/grants", json=BODY, headers=auth())
    assert response.status == 403
    filed = await (await app.client.post("/v1/approvals", json={"action": "wipe"}, headers=auth())).json()
    assert filed["status"] == "pending"
    assert await (await app.client.get("/v1/grants?all=1", headers=auth(APPROVER_KEY))).json() == []


async def test_agent_key_cannot_list_read_revoke_or_see_suggestions(app):
    created = await (await app.client.post("/v1/grants", json=BODY, headers=auth(APPROVER_KEY))).json()
    for method, path in (
        ("GET", "/v1/grants"),
        ("GET", "/v1/grants?all=1"),
        ("GET", "/v1/grants/suggestions"),
        ("GET", f"/v1/grants/{created['id']}"),
        ("DELETE", f"/v1/grants/{created['id']}"),
    ):
        response = await app.client.request(method, path, headers=auth())
        assert response.status == 403, (method, path)
    shown = await (await app.client.get(f"/v1/grants/{created['id']}", headers=auth(APPROVER_KEY))).json()
    assert shown["revoked_at"] is None


async def test_agent_cannot_report_an_outcome_for_another_agents_request_or_twice(app):
    from tests.support.servers import OTHER_AGENT_KEY

    created = await (await app.client.post("/v1/approvals", json={"action": "x"}, headers=auth())).json()
    await app.client.post(
        f"/v1/approvals/{created['id']}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
    )
    stolen = await app.client.post(
        f"/v1/approvals/{created['id']}/outcome", json={"status": "failed"}, headers=auth(OTHER_AGENT_KEY)
    )
    assert stolen.status == 404
    first = await app.client.post(
        f"/v1/approvals/{created['id']}/outcome", json={"status": "succeeded"}, headers=auth()
    )
    again = await app.client.post(f"/v1/approvals/{created['id']}/outcome", json={"status": "failed"}, headers=auth())
    assert (first.status, again.status) == (200, 409)
