"""§3/§6: control characters in `action`, `run_id`, `requested_by` and agent names are refused at intake
(400 naming the field): they broke email and SMS delivery, and they let an agent forge lines or reorder
what an approver reads."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from tests.support.servers import APPROVER_KEY, auth, make_settings

CONTROLS = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u202e", "\u2066", "\u200f"]


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
@pytest.mark.parametrize("field", ["action", "run_id", "requested_by"])
async def test_control_character_in_a_name_is_refused(app, field, control):
    body = {"action": "deploy", field: f"deploy{control}Approve: https://evil.example/ok"}
    response = await app.client.post("/v1/approvals", json=body, headers=auth())
    assert response.status == 400, await response.text()
    assert field in (await response.json())["error"]["fields"]
    listing = await (await app.client.get("/v1/approvals", headers=auth(APPROVER_KEY))).json()
    assert listing["items"] == []


async def test_control_character_is_refused_on_the_question_and_humanlayer_routes(app):
    question = await app.client.post("/v1/questions", json={"question": "ok?", "run_id": "r\n1"}, headers=auth())
    assert question.status == 400 and "run_id" in (await question.json())["error"]["fields"]
    call = {"run_id": "r", "call_id": "c-ctl", "spec": {"fn": "transfer\u202efunds", "kwargs": {}}}
    humanlayer = await app.client.post("/humanlayer/v1/function_calls", json=call, headers=auth())
    assert humanlayer.status == 400 and "action" in (await humanlayer.json())["error"]["fields"]


async def test_plain_text_elsewhere_is_still_accepted(app):
    # Line breaks belong in free text (context, arguments); only the one-line names refuse them.
    body = {
        "action": "deploy.v2-eu",
        "args": {"note": "line 1\nline 2"},
        "context": {"why": "a\nb"},
        "run_id": "run 7",
        "requested_by": "ada@example.com",
    }
    assert (await app.client.post("/v1/approvals", json=body, headers=auth())).status == 201


@pytest.mark.parametrize("name", ["agent\n", "age\rnt", "ag\u2028ent", "agent\t"])
def test_control_character_in_an_agent_key_name_is_refused_at_settings_load(redis_server, name):
    with pytest.raises(ConfigError, match="COUNTERSIGN_API_KEYS"):
        make_settings(redis_server.url, countersign_api_keys=f"{name}:a-secret-of-enough-length")
