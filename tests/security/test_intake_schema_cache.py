"""§3 with compiled schemas kept between requests (bot/schema_cache.py): a cached validator serves only the
very same schema, references are still refused, and a cached schema with large args is still checked off
the event loop."""

from __future__ import annotations

from typing import Any

from tests.support.servers import APPROVER_KEY, auth


def _integer_n() -> dict[str, Any]:
    return {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


async def _file(app, schema: dict[str, Any], args: dict[str, Any]) -> Any:
    return await app.client.post(
        "/v1/approvals", json={"action": "deploy", "args": args, "args_schema": schema}, headers=auth()
    )


async def test_cached_schema_cannot_stand_in_for_a_lookalike(app):
    # The same schema but for one type: were the cache keyed loosely, the first validator would accept 5.
    for _ in range(2):
        assert (await _file(app, _integer_n(), {"n": 1})).status == 201
    lookalike = _integer_n()
    lookalike["properties"]["n"]["type"] = "string"
    filed = await _file(app, lookalike, {"n": "one"})
    assert filed.status == 201
    approval_id = (await filed.json())["id"]
    modified = await app.client.post(
        f"/v1/approvals/{approval_id}/decision",
        json={"outcome": "modify", "args": {"n": 5}},
        headers=auth(APPROVER_KEY),
    )
    assert modified.status == 400
    assert "args.n" in (await modified.json())["error"]["fields"]


async def test_remote_ref_added_to_a_cached_schema_is_refused(app):
    assert (await _file(app, _integer_n(), {"n": 1})).status == 201
    with_ref = {**_integer_n(), "$ref": "http://127.0.0.1:1/schema.json"}
    refused = await _file(app, with_ref, {"n": 1})
    assert refused.status == 400
    assert "args_schema" in (await refused.json())["error"]["fields"]
