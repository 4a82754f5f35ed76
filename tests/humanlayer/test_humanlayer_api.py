"""The HumanLayer-compatible surface's own rules, over plain HTTP."""

from tests.support.servers import AGENT_KEY, APPROVER_KEY, OTHER_AGENT_KEY, auth


def call(call_id: str, fn: str) -> dict:
    return {"run_id": "run-1", "call_id": call_id, "spec": {"fn": fn, "kwargs": {"id": 1}}}


async def test_a_call_id_held_by_one_agent_cannot_be_taken_by_another(app):
    first = await app.client.post("/humanlayer/v1/function_calls", json=call("call-1", "read_report"),
                                  headers=auth(AGENT_KEY))
    assert first.status == 200
    stolen = await app.client.post("/humanlayer/v1/function_calls", json=call("call-1", "drop_prod_db"),
                                   headers=auth(OTHER_AGENT_KEY))
    assert stolen.status == 409
    assert (await stolen.json())["error"]["code"] == "conflict"
    # The approver's answer still reaches the first agent's call.
    answered = await app.client.post("/humanlayer/v1/agent/function_calls/call-1/respond",
                                     json={"approved": True, "comment": "fine"}, headers=auth(APPROVER_KEY))
    assert answered.status == 200
    body = await answered.json()
    assert body["spec"]["fn"] == "read_report" and body["status"]["approved"] is True
    pending = await (await app.client.get("/v1/approvals?status=pending", headers=auth(OTHER_AGENT_KEY))).json()
    assert pending["items"] == []
