"""Outcome reporting and auto-revoke, suggestions from history, and the rubber-stamp guard (API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FrozenClock, SystemClock
from tests.support.servers import APPROVER_KEY, OTHER_AGENT_KEY, auth, running_app

POLICY = """
levels:
  medium: {channels: [{web: queue}]}
  high: {channels: [{web: queue}], min_review_s: 5}
rules:
  - {name: prod, match: {args: {env: prod}}, level: high}
trust: {suggest_after: 5, window: 14d}
"""


@pytest.fixture
async def app(settings):
    async with running_app(settings, POLICY) as running:
        yield running


async def file(app, action: str = "deploy", key: str | None = None, **args: Any) -> dict[str, Any]:
    response = await app.client.post(
        "/v1/approvals", json={"action": action, "args": args}, headers=auth(key) if key else auth()
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def decide(app, approval_id: str, outcome: str = "approve", **extra: Any):
    return await app.client.post(
        f"/v1/approvals/{approval_id}/decision", headers=auth(APPROVER_KEY), json={"outcome": outcome, **extra}
    )


async def report(app, approval_id: str, key: str | None = None, **body: Any):
    return await app.client.post(
        f"/v1/approvals/{approval_id}/outcome", json=body, headers=auth(key) if key else auth()
    )


async def test_outcome_is_reported_once_by_its_agent_and_audited(app):
    approval = await file(app, service="web")
    assert (await report(app, approval["id"], status="succeeded")).status == 409  # not approved yet
    await decide(app, approval["id"])
    assert (await report(app, approval["id"], OTHER_AGENT_KEY, status="succeeded")).status == 404
    assert (await report(app, approval["id"], APPROVER_KEY, status="succeeded")).status == 403
    assert (await report(app, approval["id"], status="maybe")).status == 400
    assert (await report(app, approval["id"], status="failed", detail="x" * 2001)).status == 400
    response = await report(app, approval["id"], status="succeeded", detail="deployed v2")
    assert response.status == 200
    assert (await response.json())["execution"]["status"] == "succeeded"
    assert (await report(app, approval["id"], status="failed")).status == 409  # once
    events = await (await app.client.get(f"/v1/approvals/{approval['id']}/events", headers=auth())).json()
    executed = [e for e in events if e["type"] == "executed"]
    assert len(executed) == 1 and executed[0]["detail"]["status"] == "succeeded"


async def test_failed_outcomes_revoke_a_grant_after_revoke_after_failures(app):
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = await (
        await app.client.post(
            "/v1/grants",
            headers=auth(APPROVER_KEY),
            json={
                "agent": "billing-agent",
                "action": "deploy",
                "args": {"service": {"eq": "web"}},
                "max_level": "medium",
                "expires_at": expires,
                "revoke_after_failures": 2,
            },
        )
    ).json()
    first = await file(app, service="web")
    second = await file(app, service="web")
    assert first["status"] == second["status"] == "approved"
    await report(app, first["id"], status="failed", detail="TimeoutError")
    assert (await file(app, service="web"))["status"] == "approved"  # one failure of two
    await report(app, second["id"], status="failed")
    grant = await (await app.client.get(f"/v1/grants/{created['id']}", headers=auth(APPROVER_KEY))).json()
    assert grant["revoked_at"] and grant["revoked_by"]["id"] == "auto-revoke"
    assert (await file(app, service="web"))["status"] == "pending"


async def test_suggestion_appears_after_five_approvals_and_vanishes_after_a_modify(app):
    for n in range(5):
        approval = await file(app, service="web", replicas=n + 1)
        await decide(app, approval["id"])
    found = await (await app.client.get("/v1/grants/suggestions", headers=auth(APPROVER_KEY))).json()
    (suggestion,) = found["items"]
    assert suggestion["agent"] == "billing-agent" and suggestion["action"] == "deploy"
    assert suggestion["grant"]["args"] == {"replicas": {"gte": 1, "lte": 5}, "service": {"eq": "web"}}
    assert suggestion["evidence"]["count"] == 5 and suggestion["evidence"]["approvers"] == ["ada"]
    # One click turns it into a grant: the body is accepted as it is.
    response = await app.client.post("/v1/grants", json=suggestion["grant"], headers=auth(APPROVER_KEY))
    assert response.status == 201
    await app.client.delete(f"/v1/grants/{(await response.json())['id']}", headers=auth(APPROVER_KEY))
    modified = await file(app, service="web", replicas=9)
    await decide(app, modified["id"], "modify", args={"service": "web", "replicas": 2})
    found = await (await app.client.get("/v1/grants/suggestions", headers=auth(APPROVER_KEY))).json()
    assert found["items"] == []


async def test_policy_and_grant_approvals_are_no_evidence(settings):
    async with running_app(settings, "levels: {medium: {auto_approve: true}}") as app:
        for _ in range(6):
            await file(app, service="web")
        found = await (await app.client.get("/v1/grants/suggestions", headers=auth(APPROVER_KEY))).json()
        assert found["items"] == []


async def test_min_review_refuses_a_quick_approve_then_lets_it_through(settings):
    clock = FrozenClock(SystemClock().now())
    async with running_app(settings, POLICY, clock) as app:
        approval = await file(app, service="web", env="prod")
        clock.advance(timedelta(seconds=2))
        response = await decide(app, approval["id"])
        assert response.status == 403
        error = (await response.json())["error"]
        assert error["code"] == "too_soon" and "2 s ago — take a moment" in error["message"]
        events = await (
            await app.client.get(f"/v1/approvals/{approval['id']}/events", headers=auth(APPROVER_KEY))
        ).json()
        assert events[-1]["type"] == "refused" and events[-1]["detail"]["reason"] == "too_soon"
        clock.advance(timedelta(seconds=3))
        assert (await decide(app, approval["id"])).status == 200


async def test_min_review_never_holds_back_reject_or_modify(settings):
    clock = FrozenClock(SystemClock().now())
    async with running_app(settings, POLICY, clock) as app:
        rejected = await file(app, service="web", env="prod")
        assert (await decide(app, rejected["id"], "reject", comment="no")).status == 200
        modified = await file(app, service="web", env="prod")
        response = await decide(app, modified["id"], "modify", args={"service": "api", "env": "prod"})
        assert response.status == 200
