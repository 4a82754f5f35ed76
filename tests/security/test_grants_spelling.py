"""An agent cannot make its request match a grant it should not match by how it spells the request: types
(`true` for `1`, `"1"` for `1`), dotted keys, duplicate JSON keys, look-alike action names, or an argument
the grant never looked at. Grant conditions use the policy's rule language and path look-up, with strict
JSON types."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.servers import APPROVER_KEY, auth

EXPIRES = (datetime.now(UTC) + timedelta(days=1)).isoformat()


async def grant(app, action: str, args: dict[str, Any], **extra: Any) -> None:
    response = await app.client.post(
        "/v1/grants",
        headers=auth(APPROVER_KEY),
        json={
            "agent": "billing-agent",
            "action": action,
            "args": args,
            "max_level": "high",
            "expires_at": EXPIRES,
            **extra,
        },
    )
    assert response.status == 201, await response.text()


async def status_of(app, body: dict[str, Any] | str) -> str:
    if isinstance(body, str):
        response = await app.client.post(
            "/v1/approvals", data=body, headers={**auth(), "Content-Type": "application/json"}
        )
    else:
        response = await app.client.post("/v1/approvals", json=body, headers=auth())
    assert response.status == 201, await response.text()
    return str((await response.json())["status"])


@pytest.mark.parametrize("value", [True, 1.5, "1", [1], {"n": 1}, None])
async def test_type_confusion_does_not_match_an_eq_grant(app, value):
    await grant(app, "scale", {"replicas": {"eq": 1}})
    assert await status_of(app, {"action": "scale", "args": {"replicas": 1}}) == "approved"
    assert await status_of(app, {"action": "scale", "args": {"replicas": value}}) == "pending"


async def test_true_does_not_pass_for_one_in_a_set(app):
    await grant(app, "scale", {"replicas": {"in": [0, 1]}})
    assert await status_of(app, {"action": "scale", "args": {"replicas": True}}) == "pending"
    assert await status_of(app, {"action": "scale", "args": {"replicas": False}}) == "pending"


async def test_dotted_key_does_not_stand_in_for_a_nested_path(app):
    await grant(app, "write", {"options.mode": {"eq": "safe"}})
    attacks = [
        {"options.mode": "safe"},
        {"options.mode": "safe", "options": {"mode": "unsafe"}},
        {"options": {"mode": "safe", "also": "rm -rf /"}},
    ]
    for args in attacks[:2]:
        assert await status_of(app, {"action": "write", "args": args}) == "pending"
    assert await status_of(app, {"action": "write", "args": {"options": {"mode": "safe"}}}) == "approved"


async def test_duplicate_json_keys_are_judged_as_stored(app):
    await grant(app, "deploy", {"service": {"eq": "web"}})
    # The JSON parser keeps the last value; the grant sees the same value people would see.
    raw = '{"action": "deploy", "args": {"service": "web", "service": "db"}}'
    assert await status_of(app, raw) == "pending"
    assert json.loads(raw)["args"] == {"service": "db"}


@pytest.mark.parametrize("action", ["Deploy", "deploy ", "deploy\u200b", "ｄｅｐｌｏｙ", "deploy-"])
async def test_look_alike_action_names_do_not_match(app, action):
    await grant(app, "deploy", {"service": {"eq": "web"}})
    assert await status_of(app, {"action": action, "args": {"service": "web"}}) == "pending"


@pytest.mark.parametrize("value", ["Web", "web ", "ｗｅｂ", "we\u0062\u0301"])
async def test_look_alike_values_do_not_match(app, value):
    await grant(app, "deploy", {"service": {"eq": "web"}})
    assert await status_of(app, {"action": "deploy", "args": {"service": value}}) == "pending"


async def test_an_argument_the_grant_never_looked_at_is_not_waved_through(app):
    await grant(app, "delete", {"path": {"regex": "^/tmp/"}})
    assert await status_of(app, {"action": "delete", "args": {"path": "/tmp/x"}}) == "approved"
    assert await status_of(app, {"action": "delete", "args": {"path": "/tmp/x", "recursive": True}}) == "pending"
    assert await status_of(app, {"action": "delete", "args": {"path": "/tmp/x", "path ": "/"}}) == "pending"


async def test_a_questions_route_cannot_be_answered_by_a_grant(app):
    await grant(app, "question", {"message": {"exists": True}}, extra_args=True)
    response = await app.client.post("/v1/questions", json={"question": "may I?"}, headers=auth())
    assert (await response.json())["status"] == "pending"
