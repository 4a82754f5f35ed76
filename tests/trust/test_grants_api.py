"""Standing grants through the HTTP API: create, match, no-match, levels, deny, expiry, max_uses, revoke."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FrozenClock, SystemClock
from tests.support.servers import APPROVER_KEY, auth, running_app

POLICY = """
default_level: medium
levels:
  low: {auto_approve: true}
  medium: {channels: [{web: queue}]}
  high: {channels: [{web: queue}]}
  critical: {channels: [{web: queue}]}
rules:
  - {name: prod, match: {args: {env: prod}}, level: high}
  - {name: nuke, match: {action: nuke}, level: critical}
  - {name: never, match: {action: rm_root}, deny: "never remove /"}
"""


def later(days: float = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@pytest.fixture
async def app(settings):
    async with running_app(settings, POLICY) as running:
        yield running


async def grant(app, **body: Any) -> dict[str, Any]:
    body = {
        "agent": "billing-agent",
        "action": "deploy",
        "args": {"service": {"eq": "web"}},
        "max_level": "medium",
        "expires_at": later(),
        **body,
    }
    response = await app.client.post("/v1/grants", json=body, headers=auth(APPROVER_KEY))
    assert response.status == 201, await response.text()
    return await response.json()


async def file(app, action: str = "deploy", **args: Any) -> dict[str, Any]:
    response = await app.client.post("/v1/approvals", json={"action": action, "args": args}, headers=auth())
    assert response.status == 201, await response.text()
    return await response.json()


async def test_grant_approves_a_matching_request_and_names_itself(app):
    created = await grant(app, reason="routine deploys")
    assert created["id"].startswith("grt_") and created["created_by"]["name"] == "ada"
    approval = await file(app, service="web")
    assert approval["status"] == "approved"
    assert approval["decision"]["by"] == {"channel": "grant", "id": created["id"], "name": "ada"}
    assert created["id"] in approval["decision"]["comment"]
    events = await (await app.client.get(f"/v1/approvals/{approval['id']}/events", headers=auth(APPROVER_KEY))).json()
    decision = next(e for e in events if e["type"] == "decision")
    assert decision["detail"]["grant"] == created["id"]
    shown = await (await app.client.get(f"/v1/grants/{created['id']}", headers=auth(APPROVER_KEY))).json()
    assert shown["uses"] == 1


@pytest.mark.parametrize(
    "action, args",
    [
        ("deploy", {"service": "api"}),  # the condition fails
        ("deploy", {"service": "web", "force": True}),  # an argument no condition looked at
        ("deploy", {}),  # the argument is missing
        ("destroy", {"service": "web"}),  # another action
    ],
)
async def test_grant_does_not_cover_other_requests(app, action, args):
    await grant(app)
    approval = await file(app, action, **args)
    assert approval["status"] == "pending"


@pytest.mark.parametrize(
    "condition, value, matches",
    [
        ({"in": ["web", "api"]}, "api", True),
        ({"regex": "^web-[0-9]+$"}, "web-12", True),
        ({"regex": "^web-[0-9]+$"}, "web-x", False),
        ({"ne": "db"}, "db", False),
        ({"lte": 10}, 10, True),
        ({"lte": 10}, 11, False),
        ({"lte": 10}, "5", False),
    ],
)
async def test_each_condition_operator(app, condition, value, matches):
    await grant(app, args={"service": condition})
    approval = await file(app, service=value)
    assert (approval["status"] == "approved") is matches


async def test_max_level_caps_what_a_grant_approves(app):
    await grant(app, args={"service": {"exists": True}, "env": {"exists": True}})
    high = await file(app, service="web", env="prod")  # the `prod` rule makes it high
    assert high["status"] == "pending"
    medium = await file(app, service="web", env="dev")
    assert medium["status"] == "approved"


async def test_critical_cannot_be_granted_unless_the_level_says_so(app, settings):
    response = await app.client.post(
        "/v1/grants",
        headers=auth(APPROVER_KEY),
        json={"agent": "*", "action": "nuke", "max_level": "critical", "expires_at": later()},
    )
    assert response.status == 400
    assert "max_level" in (await response.json())["error"]["fields"]
    policy = POLICY.replace("critical: {channels", "critical: {grantable: true, channels")
    async with running_app(settings, policy) as other:
        await grant(other, action="nuke", args={}, max_level="critical")
        assert (await file(other, "nuke"))["status"] == "approved"


async def test_a_level_with_grantable_false_is_never_granted(settings):
    policy = POLICY.replace("medium: {channels", "medium: {grantable: false, channels")
    async with running_app(settings, policy) as app:
        response = await app.client.post(
            "/v1/grants",
            headers=auth(APPROVER_KEY),
            json={"agent": "*", "action": "deploy", "max_level": "medium", "expires_at": later()},
        )
        assert response.status == 400
        high = await grant(app, max_level="high")  # high is grantable; medium requests still are not
        assert high["max_level"] == "high"
        assert (await file(app, service="web"))["status"] == "pending"


async def test_deny_rules_win_over_grants(app):
    await grant(app, action="rm_root", args={})
    approval = await file(app, "rm_root")
    assert approval["status"] == "rejected" and approval["decision"]["by"]["channel"] == "policy"


@pytest.mark.parametrize(
    "expires_at, field",
    [
        (None, "expires_at"),
        ("2020-01-01T00:00:00Z", "expires_at"),
        (later(31), "expires_at"),
        ("2030-01-01T00:00:00", "expires_at"),
    ],
)
async def test_expiry_is_required_and_at_most_30_days(app, expires_at, field):
    body = {"agent": "*", "action": "deploy", "max_level": "medium"}
    if expires_at:
        body["expires_at"] = expires_at
    response = await app.client.post("/v1/grants", json=body, headers=auth(APPROVER_KEY))
    assert response.status == 400
    assert field in (await response.json())["error"]["fields"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"args": {"service": {"regex": "("}}}, "args.service"),
        ({"args": {"service": {}}}, "args.service"),
        ({"args": {"a..b": {"eq": 1}}}, "args"),
        ({"max_level": "extreme"}, "max_level"),
        ({"max_uses": 0}, "max_uses"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_grant_bodies_name_the_field(app, body, field):
    full = {"agent": "*", "action": "deploy", "max_level": "medium", "expires_at": later(), **body}
    response = await app.client.post("/v1/grants", json=full, headers=auth(APPROVER_KEY))
    assert response.status == 400
    fields = (await response.json())["error"]["fields"]
    assert any(key.startswith(field) for key in fields), fields


async def test_an_expired_grant_no_longer_applies(settings):
    clock = FrozenClock(SystemClock().now())
    async with running_app(settings, POLICY, clock) as app:
        created = await grant(app, expires_at=(clock.now() + timedelta(hours=1)).isoformat())
        clock.advance(timedelta(hours=2))
        assert (await file(app, service="web"))["status"] == "pending"
        listed = await (await app.client.get("/v1/grants", headers=auth(APPROVER_KEY))).json()
        assert listed == []
        everything = await (await app.client.get("/v1/grants?all=1", headers=auth(APPROVER_KEY))).json()
        assert [g["id"] for g in everything] == [created["id"]]


async def test_max_uses_holds_under_twenty_concurrent_requests(app):
    created = await grant(app, max_uses=5)
    results = await asyncio.gather(*(file(app, service="web") for _ in range(20)))
    approved = [r for r in results if r["status"] == "approved"]
    assert len(approved) == 5
    assert all(r["decision"]["by"]["id"] == created["id"] for r in approved)
    shown = await (await app.client.get(f"/v1/grants/{created['id']}", headers=auth(APPROVER_KEY))).json()
    assert shown["uses"] == 5
    active = await (await app.client.get("/v1/grants", headers=auth(APPROVER_KEY))).json()
    assert active == []  # used up


async def test_an_idempotent_repeat_uses_nothing(app):
    created = await grant(app, max_uses=2)
    body = {"action": "deploy", "args": {"service": "web"}, "idempotency_key": "same"}
    for _ in range(3):
        await app.client.post("/v1/approvals", json=body, headers=auth())
    shown = await (await app.client.get(f"/v1/grants/{created['id']}", headers=auth(APPROVER_KEY))).json()
    assert shown["uses"] == 1


async def test_revoke_stops_the_grant_at_once(app):
    created = await grant(app)
    response = await app.client.delete(f"/v1/grants/{created['id']}", headers=auth(APPROVER_KEY))
    assert response.status == 200
    revoked = await response.json()
    assert revoked["revoked_at"] and revoked["revoked_by"]["id"] == "ada"
    assert (await file(app, service="web"))["status"] == "pending"
    missing = await app.client.delete("/v1/grants/grt_nope", headers=auth(APPROVER_KEY))
    assert missing.status == 404
