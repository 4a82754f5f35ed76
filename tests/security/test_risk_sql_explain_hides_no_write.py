"""SHOW and EXPLAIN of a read are reads now (issue 14); an agent must not use that door to hide a write:
`EXPLAIN ANALYZE` runs its statement, and nested EXPLAINs must not cost the server more than one parse."""

from __future__ import annotations

import time

from tests.support.servers import RunningApp, auth


async def _level(app: RunningApp, sql: str) -> dict[str, object]:
    response = await app.client.post("/v1/approvals", json={"action": "db.run", "sql": sql}, headers=auth())
    assert response.status in (200, 201), await response.text()
    body: dict[str, object] = await response.json()
    return body


async def test_sql_explain_analyze_delete_is_classified_as_the_delete(app: RunningApp) -> None:
    for sql in (
        "EXPLAIN ANALYZE DELETE FROM users",
        "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM users",
        "explain analyse verbose delete from users",
    ):
        body = await _level(app, sql)
        assert body["risk_level"] == "critical", sql


async def test_sql_nested_explain_is_unparseable_and_cheap(app: RunningApp) -> None:
    started = time.perf_counter()
    body = await _level(app, "EXPLAIN " * 5000 + "DELETE FROM users")
    assert time.perf_counter() - started < 2
    assert body["risk_level"] in ("high", "critical") and "unparseable SQL" in body["risk_reasons"]
