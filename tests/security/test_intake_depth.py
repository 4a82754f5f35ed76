"""§3: values nested deeper than 32 levels are refused at intake (400 naming the field), on every route that
takes them, so that no stored record can break the readers later."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.servers import APPROVER_KEY, auth


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def nested_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "a", "args": nested(300)}, "args"),
        ({"action": "a", "args": {"rows": nested_list(40)}}, "args"),
        ({"action": "a", "args": nested(33)}, "args"),
        ({"action": "a", "context": {"extra": nested(40)}}, "context"),
        ({"action": "a", "args_schema": {"type": "object", "properties": {"x": nested(40)}}}, "args_schema"),
    ],
)
async def test_deeply_nested_request_is_refused_naming_the_field(app, body, field):
    response = await app.client.post("/v1/approvals", json=body, headers=auth())
    assert response.status == 400, await response.text()
    assert field in (await response.json())["error"]["fields"]
    listing = await app.client.get("/v1/approvals", headers=auth(APPROVER_KEY))
    assert listing.status == 200 and (await listing.json())["items"] == []


async def test_nesting_of_32_levels_is_accepted(app):
    response = await app.client.post("/v1/approvals", json={"action": "a", "args": nested(32)}, headers=auth())
    assert response.status == 201, await response.text()


async def test_deeply_nested_humanlayer_kwargs_are_refused(app):
    call = {"run_id": "r", "call_id": "c-deep", "spec": {"fn": "f", "kwargs": nested(300)}}
    response = await app.client.post("/humanlayer/v1/function_calls", json=call, headers=auth())
    assert response.status == 400 and "args" in (await response.json())["error"]["fields"]


async def test_deeply_nested_question_context_is_refused(app):
    response = await app.client.post(
        "/v1/questions", json={"question": "q?", "context": {"x": nested(100)}}, headers=auth()
    )
    assert response.status == 400 and "context" in (await response.json())["error"]["fields"]


async def test_deeply_nested_modify_args_are_refused(app):
    created = await (await app.client.post("/v1/approvals", json={"action": "a"}, headers=auth())).json()
    response = await app.client.post(
        f"/v1/approvals/{created['id']}/decision",
        json={"outcome": "modify", "args": nested(300)},
        headers=auth(APPROVER_KEY),
    )
    assert response.status == 400 and "args" in (await response.json())["error"]["fields"]
    current = await (await app.client.get(f"/v1/approvals/{created['id']}", headers=auth())).json()
    assert current["status"] == "pending"
