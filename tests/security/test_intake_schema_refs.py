"""§3: the server fetches nothing an agent names in `args_schema`. Only local references (`#/…`, `$defs`)
resolve; anything else is a 400 naming args_schema, with nothing fetched and nothing echoed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.http_recorder import running_recorder
from tests.support.servers import AGENT_KEY, APPROVER_KEY, auth

SERVED_MARK = '"received"'  # what the recording server answers: must never come back in our 400


def remote_schemas(url: str) -> list[dict[str, Any]]:
    return [
        {"$ref": f"{url}/schema.json"},
        {"properties": {"x": {"$ref": f"{url}/schema.json#/defs/x"}}},
        {"$defs": {"a": {"$ref": f"{url}/a"}}, "properties": {"x": {"$ref": "#/$defs/a"}}},
        {"$ref": "file:///etc/passwd"},
        {"$ref": "schema.json"},  # relative: resolved against a base URI, which could be remote
        {"$id": f"{url}/root.json", "properties": {"x": {"$ref": "other.json"}}},
        {"properties": {"x": {"$id": f"{url}/sub/", "$ref": "#/nothing"}}},
        {"$dynamicRef": f"{url}/dyn#meta"},
        {"allOf": [{"$ref": f"{url.replace('http://', 'https://')}/s"}]},
        {"$schema": f"{url}/meta-schema"},
        {"items": {"anyOf": [{"not": {"$ref": f"{url}/deep"}}]}},
    ]


@pytest.mark.parametrize("index", range(11))
async def test_remote_ref_in_args_schema_is_refused_without_fetching(app, index):
    async with running_recorder() as recorder:
        recorder_url = recorder.url.rstrip("/")
        schema = remote_schemas(recorder_url)[index]
        response = await app.client.post(
            "/v1/approvals", json={"action": "a", "args": {"x": 1}, "args_schema": schema}, headers=auth(AGENT_KEY)
        )
        text = await response.text()
        assert response.status == 400, text
        assert list((await response.json())["error"]["fields"]) == ["args_schema"]
        assert SERVED_MARK not in text and "root:" not in text
        await asyncio.sleep(0.2)  # a fetch, had one started, would have arrived by now
        assert recorder.requests == []


async def test_remote_ref_is_refused_even_when_args_do_not_reach_it(app):
    # Refused up front, not when validation happens to reach the reference: a stored request never carries
    # a remote reference that a later modify could follow.
    async with running_recorder() as recorder:
        schema = {"type": "object", "properties": {"x": {"$ref": f"{recorder.url.rstrip('/')}/x"}}}
        response = await app.client.post(
            "/v1/approvals", json={"action": "a", "args": {}, "args_schema": schema}, headers=auth()
        )
        assert response.status == 400
        await asyncio.sleep(0.2)  # a fetch started in the background would have arrived by now
        assert recorder.requests == []


async def test_local_refs_still_resolve(app):
    schema = {
        "$defs": {"n": {"type": "integer", "minimum": 1}},
        "type": "object",
        "properties": {"x": {"$ref": "#/$defs/n"}, "y": {"$ref": "#/properties/x"}},
    }
    ok = await app.client.post(
        "/v1/approvals", json={"action": "a", "args": {"x": 2, "y": 3}, "args_schema": schema}, headers=auth()
    )
    assert ok.status == 201, await ok.text()
    approval_id = (await ok.json())["id"]
    bad = await app.client.post(
        f"/v1/approvals/{approval_id}/decision",
        json={"outcome": "modify", "args": {"x": 0, "y": 3}},
        headers=auth(APPROVER_KEY),
    )
    assert bad.status == 400 and "args.x" in (await bad.json())["error"]["fields"]
