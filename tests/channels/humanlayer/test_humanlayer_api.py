"""The HumanLayer-compatible surface's own rules, over plain HTTP."""

from tests.support.servers import AGENT_KEY, APPROVER_KEY, OTHER_AGENT_KEY, auth


def call(call_id: str, fn: str) -> dict:
    return {"run_id": "run-1", "call_id": call_id, "spec": {"fn": fn, "kwargs": {"id": 1}}}


async def test_a_call_id_used_by_two_agents_is_never_answered_for_the_wrong_one(app):
    first = await app.client.post(
        "/humanlayer/v1/function_calls", json=call("call-1", "read_report"), headers=auth(AGENT_KEY)
    )
    assert first.status == 200
    # Another agent's call with the same id is filed as its own (answering 409 would tell it the id exists).
    second = await app.client.post(
        "/humanlayer/v1/function_calls", json=call("call-1", "drop_prod_db"), headers=auth(OTHER_AGENT_KEY)
    )
    assert second.status == 200 and (await second.json())["spec"]["fn"] == "drop_prod_db"
    # An approver's answer by call_id cannot be drawn onto either: ambiguous, refused, nothing decided.
    answered = await app.client.post(
        "/humanlayer/v1/agent/function_calls/call-1/respond",
        json={"approved": True, "comment": "fine"},
        headers=auth(APPROVER_KEY),
    )
    assert answered.status == 409
    assert (await answered.json())["error"]["code"] == "conflict"
    for key in (AGENT_KEY, OTHER_AGENT_KEY):
        pending = await (await app.client.get("/v1/approvals?status=pending", headers=auth(key))).json()
        assert len(pending["items"]) == 1
