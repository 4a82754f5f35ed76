"""The agent API's contract, end to end against a real Redis-protocol server."""

import asyncio

import pytest

from tests.support.servers import AGENT_KEY, APPROVER2_KEY, APPROVER_KEY, OTHER_AGENT_KEY, auth, make_settings

FULL_REQUEST = {
    "action": "delete_user_data",
    "args": {"user_id": "user_123"},
    "context": {
        "why": "GDPR erasure request #881",
        "affected": "1 user row, 14 orders",
        "reversible": False,
        "alternatives": "anonymise instead",
    },
    "risk": {"cost_usd": 0, "data_sensitivity": "pii", "reversible": False, "level": None},
    "sql": "DELETE FROM users WHERE id = 'user_123'",
    "args_schema": {"type": "object", "properties": {"user_id": {"type": "string"}}, "required": ["user_id"]},
    "requested_by": "U024BE7LH",
    "run_id": "run-42",
    "idempotency_key": "call_abc",
    "timeout_s": 3600,
    "callback_url": "https://agent.internal/hooks/approvals",
}


@pytest.fixture
def settings(redis_server):
    # agent.internal does not resolve here: the operator trusts it by name (COUNTERSIGN_CALLBACK_ALLOW).
    return make_settings(redis_server.url, countersign_callback_allow="agent.internal")


async def create(app, body=None, key=AGENT_KEY, status=201):
    resp = await app.client.post("/v1/approvals", json=body or {"action": "deploy"}, headers=auth(key))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_full_request_is_filed_pending_with_reasons(app):
    body = await create(app, FULL_REQUEST)
    assert body["id"].startswith("apr_")
    assert body["status"] == "pending"
    assert body["agent"] == "billing-agent"
    assert body["risk_level"] == "high"
    assert body["risk_reasons"] == ["data_sensitivity: pii", "reversible: false", "sql: DELETE"]
    assert body["decision"] is None and body["approvals"] == []
    assert body["created_at"].endswith("Z") and body["expires_at"].endswith("Z")
    assert body["context"]["why"] == "GDPR erasure request #881"


async def test_idempotency_key_returns_the_same_approval(app):
    first = await create(app, FULL_REQUEST)
    resp = await app.client.post("/v1/approvals", json=FULL_REQUEST, headers=auth(AGENT_KEY))
    assert resp.status == 200
    assert (await resp.json())["id"] == first["id"]
    # Another agent with the same key files its own request.
    other = await create(app, FULL_REQUEST, key=OTHER_AGENT_KEY)
    assert other["id"] != first["id"]


async def test_policy_decides_low_risk_in_the_201(app):
    body = await create(app, {"action": "db.query", "sql": "SELECT count(*) FROM orders"})
    assert body["status"] == "approved"
    assert body["decision"]["by"] == {"channel": "policy", "id": "policy", "name": "policy"}
    assert body["decision"]["comment"] == "level low: auto_approve"
    assert body["decision"]["args"] == {}


async def test_approve_reject_modify_through_the_api(app):
    for outcome, status, extra in [
        ("approve", "approved", {}),
        ("reject", "rejected", {}),
        ("modify", "approved", {"args": {"user_id": "user_999"}}),
    ]:
        approval = await create(app, {**FULL_REQUEST, "idempotency_key": outcome})
        resp = await app.client.post(
            f"/v1/approvals/{approval['id']}/decision",
            json={"outcome": outcome, "comment": "ok", **extra},
            headers=auth(APPROVER_KEY),
        )
        assert resp.status == 200, await resp.text()
        decided = await resp.json()
        assert decided["status"] == status
        assert decided["decision"]["by"] == {"channel": "api", "id": "ada", "name": "ada"}
        expected_args = {"approve": {"user_id": "user_123"}, "reject": None, "modify": {"user_id": "user_999"}}[outcome]
        assert decided["decision"]["args"] == expected_args


async def test_modify_is_checked_against_args_schema(app):
    approval = await create(app, FULL_REQUEST)
    resp = await app.client.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"outcome": "modify", "args": {"user_id": 7}},
        headers=auth(APPROVER_KEY),
    )
    assert resp.status == 400
    assert "args.user_id" in (await resp.json())["error"]["fields"]
    assert (await (await app.client.get(f"/v1/approvals/{approval['id']}", headers=auth())).json())[
        "status"
    ] == "pending"


async def test_long_poll_wakes_on_decision(app):
    approval = await create(app)
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(app.client.get(f"/v1/approvals/{approval['id']}?wait=30", headers=auth()))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await app.client.post(
        f"/v1/approvals/{approval['id']}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
    )
    resp = await asyncio.wait_for(poll, 5)
    assert (await resp.json())["status"] == "approved"
    assert loop.time() - started < 5


async def test_long_poll_times_out_pending(app):
    approval = await create(app)
    resp = await app.client.get(f"/v1/approvals/{approval['id']}?wait=1", headers=auth())
    assert (await resp.json())["status"] == "pending"


async def test_fifty_concurrent_decisions_exactly_one_wins(app):
    approval = await create(app)
    url = f"/v1/approvals/{approval['id']}/decision"
    outcomes = ["approve", "reject"] * 25
    responses = await asyncio.gather(
        *[
            app.client.post(url, json={"outcome": o, "comment": str(i)}, headers=auth(APPROVER_KEY))
            for i, o in enumerate(outcomes)
        ]
    )
    statuses = sorted(r.status for r in responses)
    assert statuses.count(200) == 1 and statuses.count(409) == 49
    winner = next(r for r in responses if r.status == 200)
    final = await winner.json()
    events = await (await app.client.get(f"/v1/approvals/{approval['id']}/events", headers=auth())).json()
    assert [e["type"] for e in events].count("decision") == 1
    assert [e["type"] for e in events].count("refused") == 49
    conflict = await next(r for r in responses if r.status == 409).json()
    assert conflict["approval"]["status"] == final["status"]


async def test_quorum_counts_distinct_approvers(settings):
    from tests.support.servers import running_app

    policy = "levels:\n  medium: {quorum: 2}\n"
    async with running_app(settings, policy) as app:
        approval = await create(app)
        url = f"/v1/approvals/{approval['id']}/decision"
        first = await app.client.post(url, json={"outcome": "approve"}, headers=auth(APPROVER_KEY))
        assert (await first.json())["status"] == "pending"
        assert len((await first.json())["approvals"]) == 1
        again = await app.client.post(url, json={"outcome": "approve"}, headers=auth(APPROVER_KEY))
        assert again.status == 409
        second = await app.client.post(url, json={"outcome": "approve"}, headers=auth(APPROVER2_KEY))
        body = await second.json()
        assert body["status"] == "approved" and len(body["approvals"]) == 2
        assert body["decision"]["by"]["id"] == "grace"


async def test_one_reject_decides_under_quorum(settings):
    from tests.support.servers import running_app

    async with running_app(settings, "levels:\n  medium: {quorum: 3}\n") as app:
        approval = await create(app)
        url = f"/v1/approvals/{approval['id']}/decision"
        await app.client.post(url, json={"outcome": "approve"}, headers=auth(APPROVER_KEY))
        resp = await app.client.post(url, json={"outcome": "reject", "comment": "no"}, headers=auth(APPROVER2_KEY))
        assert (await resp.json())["status"] == "rejected"


async def test_cancel_by_owner_only(app):
    approval = await create(app)
    resp = await app.client.post(f"/v1/approvals/{approval['id']}/cancel", headers=auth(OTHER_AGENT_KEY))
    assert resp.status == 404
    resp = await app.client.post(f"/v1/approvals/{approval['id']}/cancel", headers=auth())
    assert resp.status == 200 and (await resp.json())["status"] == "cancelled"
    resp = await app.client.post(f"/v1/approvals/{approval['id']}/cancel", headers=auth())
    assert resp.status == 409


async def test_listing_is_scoped_and_paginated(app):
    mine = [await create(app, {"action": f"deploy-{i}"}) for i in range(5)]
    await create(app, {"action": "other"}, key=OTHER_AGENT_KEY)
    seen, cursor = [], None
    while True:
        url = "/v1/approvals?status=pending&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (await app.client.get(url, headers=auth())).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [a["id"] for a in reversed(mine)]
    everyone = await (await app.client.get("/v1/approvals?status=pending&limit=50", headers=auth(APPROVER_KEY))).json()
    assert len(everyone["items"]) == 6
    hidden = await app.client.get(f"/v1/approvals/{mine[0]['id']}", headers=auth(OTHER_AGENT_KEY))
    assert hidden.status == 404


async def test_events_are_the_audit_history(app):
    approval = await create(app, FULL_REQUEST)
    await app.client.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"outcome": "modify", "args": {"user_id": "u9"}, "comment": "narrower"},
        headers=auth(APPROVER_KEY),
    )
    events = await (await app.client.get(f"/v1/approvals/{approval['id']}/events", headers=auth())).json()
    assert [e["type"] for e in events] == ["created", "vote", "decision"]
    assert events[0]["detail"]["risk_level"] == "high"
    assert events[2]["detail"]["args"] == {"user_id": "u9"}
    assert events[2]["detail"]["original_args"] == {"user_id": "user_123"}
    assert events[2]["actor"]["id"] == "ada"


async def test_health_ready_metrics_openapi(app):
    assert (await app.client.get("/healthz")).status == 200
    assert (await (await app.client.get("/readyz")).json())["status"] == "ok"
    await create(app, FULL_REQUEST)
    text = await (await app.client.get("/metrics")).text()
    assert 'countersign_requests_total{level="high",status="pending"}' in text
    assert 'countersign_pending_requests{level="high"} 1.0' in text
    assert "countersign_decision_latency_seconds_bucket" in text or "countersign_decision_latency" in text
    spec = await (await app.client.get("/v1/openapi.json")).json()
    assert spec["openapi"] == "3.1.0"
    create_schema = spec["components"]["schemas"]["ApprovalCreate"]
    assert create_schema["additionalProperties"] is False
    assert create_schema["required"] == ["action"]
