"""A standing grant is no way around the rules a person deciding by hand obeys: its creator cannot use it to
approve requests filed in their own name, and a grant made from one trusted SQL statement does not approve
any other statement at that level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.deciders import Decider
from bot.errors import Forbidden
from bot.trust import parse_grant_body
from tests.support.servers import APPROVER2_KEY, APPROVER_KEY, auth, running_app

POLICY = """
default_level: medium
people:
  - {name: ada, email: ada@example.com}
  - {name: grace, email: grace@example.com}
levels:
  low: {auto_approve: true}
  medium: {channels: [{web: queue}]}
  high: {channels: [{web: queue}]}
  critical: {channels: [{web: queue}]}
"""


def later(days: int = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@pytest.fixture
async def app(settings):
    async with running_app(settings, POLICY) as running:
        yield running


async def grant(app, key: str, **body) -> dict:
    full = {"agent": "*", "action": "x", "extra_args": True, "max_level": "high", "expires_at": later(), **body}
    response = await app.client.post("/v1/grants", json=full, headers=auth(key))
    assert response.status in (200, 201), await response.text()
    return await response.json()


async def file(app, **body) -> dict:
    response = await app.client.post("/v1/approvals", json={"action": "x", **body}, headers=auth())
    assert response.status in (200, 201), await response.text()
    return await response.json()


async def test_grant_creator_cannot_self_approve_their_own_request(app):
    await grant(app, APPROVER_KEY)  # the key named "ada"
    mine = await file(app, requested_by="ada")
    assert mine["status"] == "pending"
    # Another person's request is still approved by it, and another person's grant approves ada's.
    assert (await file(app, requested_by="grace"))["status"] == "approved"
    await grant(app, APPROVER2_KEY)
    assert (await file(app, requested_by="ada"))["status"] == "approved"


async def test_requester_cannot_approve_and_trust_their_own_request(app):
    mine = await file(app, requested_by="ada@example.com")
    ada = Decider(channel="web", id="ada@example.com", identities=frozenset({"ada@example.com"}), admin=True)
    body = parse_grant_body(await app.runtime.trust.prefill(await app.runtime.service.get(mine["id"])))
    with pytest.raises(Forbidden):
        await app.runtime.trust.approve_and_trust(mine["id"], ada, body)
    assert (await app.runtime.service.get(mine["id"])).status.value == "pending"
    assert await app.runtime.trust.grants(include_all=True) == []


async def test_grant_without_sql_condition_does_not_approve_other_sql(app):
    await grant(app, APPROVER_KEY, action="db.query", args={}, extra_args=False)
    other = await file(app, action="db.query", sql="UPDATE accounts SET balance=0 WHERE id>0")
    assert other["status"] == "pending"


async def test_grant_from_one_statement_does_not_approve_another(app):
    trusted = "UPDATE t SET a=1 WHERE id=5"
    await grant(app, APPROVER_KEY, action="db.query", sql={"eq": trusted})
    assert (await file(app, action="db.query", sql="UPDATE accounts SET balance=0 WHERE id>0"))["status"] == "pending"
    assert (await file(app, action="db.query", sql=trusted))["status"] == "approved"


async def test_sql_condition_must_name_the_trusted_sql(app):
    full = {"agent": "*", "action": "db.query", "max_level": "high", "expires_at": later(), "sql": {"exists": True}}
    response = await app.client.post("/v1/grants", json=full, headers=auth(APPROVER_KEY))
    assert response.status == 400
    assert "sql" in await response.text()
