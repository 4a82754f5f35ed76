"""§2: a question can never approve an action. Only the question routes (POST /v1/questions, HumanLayer
contact requests) file questions; whatever an agent writes in `context`, /v1/approvals files an action."""

from __future__ import annotations

from typing import Any

from blocks.approval import ANSWER, APPROVE, REJECT
from blocks.modals import ANSWER_BLOCK, ANSWER_INPUT
from tests.support.servers import AGENT_KEY, APPROVER_KEY, auth
from tests.support.slack_app import SlackHarness, slack_harness

POLICY = 'levels:\n  medium: {channels: [{slack: "#approvals"}], timeout: 1h}\n'
DISGUISED = {
    "action": "rotate_prod_credentials",
    "args": {"env": "prod"},
    "context": {"kind": "question", "why": "Which region should I deploy to?"},
}


async def _post(slack: SlackHarness, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await slack.running.client.post(path, json=body, headers=auth(AGENT_KEY))
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    await slack.emulator.wait_for("chat.postMessage", where=lambda c: created["id"] in str(c.args.get("blocks")))
    await slack.slack.pacer.idle()
    return created


async def test_context_kind_question_does_not_make_an_action_look_like_a_question(redis_server):
    async with slack_harness(redis_server, POLICY) as slack:
        created = await _post(slack, "/v1/approvals", DISGUISED)
        assert created["kind"] == "action"
        message = slack.emulator.message_for(created["id"])
        assert APPROVE in message.action_ids and ANSWER not in message.action_ids
        assert "asks a question" not in message.all_text
        assert "rotate_prod_credentials" in str(message.blocks)  # shown as the action it is


async def test_answering_a_disguised_action_does_not_approve_it(redis_server):
    # An approver is tricked, or a crafted click sends the Answer button for an action: the answer is refused.
    async with slack_harness(redis_server, POLICY) as slack:
        created = await _post(slack, "/v1/approvals", DISGUISED)
        approval_id = created["id"]
        await slack.player.click("U0ADA", ANSWER, approval_id, message=slack.emulator.message_for(approval_id))
        [opened] = await slack.emulator.wait_for("views.open")
        status, _ = await slack.player.submit_view(
            "U0ADA", opened.args["view"], {ANSWER_BLOCK: {ANSWER_INPUT: "us-east-1"}}
        )
        assert status == 200
        [note] = await slack.emulator.wait_for("chat.postEphemeral")
        assert "not a question" in note.args["text"]
        assert (await slack.approval(approval_id))["status"] == "pending"


async def test_body_cannot_set_the_kind_of_a_request(app):
    response = await app.client.post("/v1/approvals", json={**DISGUISED, "kind": "question"}, headers=auth())
    assert response.status == 400
    assert "kind" in (await response.json())["error"]["fields"]


async def test_answer_through_the_api_route_refuses_an_action(app):
    # The HumanLayer "respond to a contact" route cannot answer an action filed with a HumanLayer-ish context.
    body = {
        **DISGUISED,
        "idempotency_key": "contact:q-9",
        "context": {"kind": "question", "humanlayer": {"kind": "human_contact", "call_id": "q-9"}},
    }
    created = await (await app.client.post("/v1/approvals", json=body, headers=auth())).json()
    assert created["kind"] == "action"
    answered = await app.client.post(
        "/humanlayer/v1/agent/human_contacts/q-9/respond", json={"response": "yes"}, headers=auth(APPROVER_KEY)
    )
    assert answered.status in (400, 404)
    current = await (await app.client.get(f"/v1/approvals/{created['id']}", headers=auth())).json()
    assert current["status"] == "pending"


async def test_question_route_files_a_question_answered_in_slack(redis_server):
    async with slack_harness(redis_server, POLICY) as slack:
        created = await _post(
            slack,
            "/v1/questions",
            {"question": "Which region should I deploy to?", "context": {"affected": "billing"}, "run_id": "r-1"},
        )
        assert created["kind"] == "question" and created["args"]["message"] == "Which region should I deploy to?"
        approval_id = created["id"]
        message = slack.emulator.message_for(approval_id)
        assert ANSWER in message.action_ids and REJECT in message.action_ids and APPROVE not in message.action_ids
        await slack.player.click("U0ADA", ANSWER, approval_id, message=message)
        [opened] = await slack.emulator.wait_for("views.open")
        assert "Which region should I deploy to?" in str(opened.args["view"])
        status, body = await slack.player.submit_view(
            "U0ADA", opened.args["view"], {ANSWER_BLOCK: {ANSWER_INPUT: "eu-west-1"}}
        )
        assert (status, body) == (200, "")
        answered = await slack.approval(approval_id, wait=5)
        assert answered["status"] == "approved" and answered["decision"]["comment"] == "eu-west-1"


async def test_question_route_validates_its_body(app):
    for body, field in [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "q", "action": "x"}, "action"),
        ({"question": "q", "args": {}}, "args"),
    ]:
        response = await app.client.post("/v1/questions", json=body, headers=auth())
        assert response.status == 400, body
        assert field in (await response.json())["error"]["fields"]
    assert (await app.client.post("/v1/questions", json={"question": "q"})).status == 401
