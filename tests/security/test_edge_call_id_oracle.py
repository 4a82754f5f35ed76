"""Attack: an agent probes HumanLayer call_ids to learn which ones other agents use (before: 409
"already used by another agent" for theirs, 200 for free ones), then files a look-alike call under such an
id so that an approver's answer by call_id lands on its own request."""

from __future__ import annotations

from typing import Any

from tests.support.servers import AGENT_KEY, APPROVER_KEY, OTHER_AGENT_KEY, RunningApp, auth


def _call(call_id: str, fn: str) -> dict[str, Any]:
    return {"run_id": "run-1", "call_id": call_id, "spec": {"fn": fn, "kwargs": {"id": 1}}}


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


async def test_call_id_of_another_agent_answers_like_a_free_one(app: RunningApp) -> None:
    taken = await app.client.post(
        "/humanlayer/v1/function_calls", json=_call("victim-call", "pay_invoice"), headers=auth(AGENT_KEY)
    )
    assert taken.status == 200
    probe_taken = await app.client.post(
        "/humanlayer/v1/function_calls", json=_call("victim-call", "probe"), headers=auth(OTHER_AGENT_KEY)
    )
    probe_free = await app.client.post(
        "/humanlayer/v1/function_calls", json=_call("never-used", "probe"), headers=auth(OTHER_AGENT_KEY)
    )
    assert probe_taken.status == probe_free.status == 200
    taken_body, free_body = await probe_taken.json(), await probe_free.json()
    assert _shape(taken_body) == _shape(free_body)
    assert taken_body["spec"]["fn"] == "probe" and taken_body["status"]["approved"] is None
    # Reading it back, the prober sees only its own call.
    read = await app.client.get("/humanlayer/v1/function_calls/victim-call", headers=auth(OTHER_AGENT_KEY))
    assert (await read.json())["spec"]["fn"] == "probe"


async def test_answer_by_a_shared_call_id_never_decides_the_impostor(app: RunningApp) -> None:
    await app.client.post(
        "/humanlayer/v1/function_calls", json=_call("victim-call", "pay_invoice"), headers=auth(AGENT_KEY)
    )
    await app.client.post(
        "/humanlayer/v1/function_calls", json=_call("victim-call", "wire_all_funds"), headers=auth(OTHER_AGENT_KEY)
    )
    answered = await app.client.post(
        "/humanlayer/v1/agent/function_calls/victim-call/respond", json={"approved": True}, headers=auth(APPROVER_KEY)
    )
    assert answered.status == 409
    impostor = await app.client.get("/humanlayer/v1/function_calls/victim-call", headers=auth(OTHER_AGENT_KEY))
    assert (await impostor.json())["status"]["approved"] is None
