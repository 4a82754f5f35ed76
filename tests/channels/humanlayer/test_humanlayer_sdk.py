"""The real `humanlayer` 0.7.9 SDK, pointed at /humanlayer/v1 of a running server, works unchanged."""

from __future__ import annotations

import asyncio
import time

import pytest
from humanlayer import AsyncHumanLayer, FunctionCallStatus, HumanLayer
from humanlayer.core.models import Escalation, HumanContactStatus
from humanlayer.core.protocol import HumanLayerException

from tests.support.agents import decide, fetch, filed
from tests.support.servers import AGENT_KEY, APPROVER_KEY, auth


def quick_poll(_seconds: int) -> None:
    # The SDK polls every 3 s; only its interval is shortened here.
    time.sleep(0.05)


async def quick_poll_async(_seconds: int) -> None:
    await asyncio.sleep(0.05)


@pytest.fixture
def hl(app, monkeypatch) -> HumanLayer:
    monkeypatch.setenv("HUMANLAYER_API_BASE", f"{app.url}/humanlayer/v1")
    monkeypatch.delenv("HUMANLAYER_API_KEY", raising=False)
    return HumanLayer(api_key=AGENT_KEY, run_id="run-7", sleep=quick_poll)


def tools(hl: HumanLayer, calls: list):
    @hl.require_approval()
    def send_email(to: str, subject: str) -> str:
        """Send an email."""
        calls.append((to, subject))
        return f"sent to {to}"

    return send_email


async def test_require_approval_blocks_then_runs_on_approval(app, hl):
    calls: list = []
    send_email = tools(hl, calls)
    async with filed(app) as queue:
        running = asyncio.create_task(asyncio.to_thread(send_email, to="ceo@acme.test", subject="Q3"))
        approval_id = await queue.next()
        stored = await fetch(app, approval_id)
        assert stored["action"] == "send_email" and stored["args"] == {"to": "ceo@acme.test", "subject": "Q3"}
        assert stored["run_id"] == "run-7" and stored["idempotency_key"].startswith("call-")
        assert not calls and not running.done()
        await decide(app, approval_id, "approve", "fine")
        assert await asyncio.wait_for(running, 20) == "sent to ceo@acme.test"
    assert calls == [("ceo@acme.test", "Q3")]


async def test_rejection_returns_the_sdk_text(app, hl):
    calls: list = []
    send_email = tools(hl, calls)
    async with filed(app) as queue:
        running = asyncio.create_task(asyncio.to_thread(send_email, to="all@acme.test", subject="layoffs"))
        await decide(app, await queue.next(), "reject", "absolutely not")
        assert await asyncio.wait_for(running, 20) == "User denied send_email with message: absolutely not"
    assert calls == []


async def test_modify_is_refused_with_the_new_args(app, hl):
    calls: list = []
    send_email = tools(hl, calls)
    async with filed(app) as queue:
        running = asyncio.create_task(asyncio.to_thread(send_email, to="all@acme.test", subject="news"))
        await decide(app, await queue.next(), "modify", "team only", args={"to": "team@acme.test", "subject": "news"})
        text = await asyncio.wait_for(running, 20)
    # HumanLayer cannot re-run with other arguments: the call does not run, the model is told what to use.
    assert text == (
        "User denied send_email with message: approved only with these arguments: "
        '{"subject": "news", "to": "team@acme.test"} (team only)'
    )
    assert calls == []


async def test_human_as_tool_returns_the_answer(app, hl):
    ask = hl.human_as_tool()
    async with filed(app) as queue:
        running = asyncio.create_task(asyncio.to_thread(ask, "Which region should I deploy to?"))
        approval_id = await queue.next()
        stored = await fetch(app, approval_id)
        assert stored["action"] == "human_contact" and stored["kind"] == "question"
        assert stored["args"] == {"message": "Which region should I deploy to?"}
        assert stored["status"] == "pending" and stored["risk_level"] == "medium"
        await decide(app, approval_id, "approve", "eu-west-1")
        assert await asyncio.wait_for(running, 20) == "eu-west-1"

        running = asyncio.create_task(asyncio.to_thread(ask, "May I drop the staging database?"))
        await decide(app, await queue.next(), "reject", "no, ask the DBA first")
        assert await asyncio.wait_for(running, 20) == "no, ask the DBA first"


async def test_respond_endpoints_need_an_approver_key(app, hl, monkeypatch):
    call = await asyncio.to_thread(
        hl.create_function_call, __import__("humanlayer").FunctionCallSpec(fn="wire", kwargs={"usd": 10})
    )
    assert call.status is not None and call.status.approved is None
    with pytest.raises(HumanLayerException, match="403"):
        await asyncio.to_thread(hl.respond_to_function_call, call.call_id, FunctionCallStatus(approved=True))

    approver = HumanLayer(api_key=APPROVER_KEY, sleep=quick_poll)
    done = await asyncio.to_thread(
        approver.respond_to_function_call, call.call_id, FunctionCallStatus(approved=False, comment="over budget")
    )
    assert done.status.approved is False and done.status.comment == "over budget"
    seen = await asyncio.to_thread(hl.get_function_call, call.call_id)
    assert seen.status.approved is False and seen.status.responded_at is not None

    contact = await asyncio.to_thread(
        hl.create_human_contact, __import__("humanlayer").HumanContactSpec(msg="Proceed?")
    )
    answered = await asyncio.to_thread(
        approver.respond_to_human_contact, contact.call_id, HumanContactStatus(response="yes, go")
    )
    assert answered.status.response == "yes, go"
    assert (await asyncio.to_thread(hl.get_human_contact, contact.call_id)).status.response == "yes, go"


async def test_escalate_email_is_recorded(app, hl):
    call = await asyncio.to_thread(
        hl.create_function_call, __import__("humanlayer").FunctionCallSpec(fn="wire", kwargs={})
    )
    await asyncio.to_thread(
        hl.escalate_email_function_call, call.call_id, Escalation(escalation_msg="urgent, please look")
    )
    approval_id = (await asyncio.to_thread(hl.get_function_call, call.call_id)).call_id
    resp = await app.client.get("/v1/approvals?status=pending", headers=auth(APPROVER_KEY))
    (item,) = [a for a in (await resp.json())["items"] if a["idempotency_key"] == approval_id]
    resp = await app.client.get(f"/v1/approvals/{item['id']}/events", headers=auth(APPROVER_KEY))
    events = await resp.json()
    assert [e["detail"]["message"] for e in events if e["type"] == "humanlayer_escalation"] == ["urgent, please look"]


async def test_unknown_call_and_bad_body_are_clean_errors(app):
    resp = await app.client.get("/humanlayer/v1/function_calls/call-nope", headers=auth(AGENT_KEY))
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    resp = await app.client.post(
        "/humanlayer/v1/function_calls", json={"run_id": "r", "spec": {"kwargs": {}}}, headers=auth(AGENT_KEY)
    )
    assert resp.status == 400
    assert set((await resp.json())["error"]["fields"]) == {"call_id", "spec.fn"}
    resp = await app.client.post("/humanlayer/v1/function_calls", json={}, headers={})
    assert resp.status == 401


async def test_other_agents_cannot_read_a_call(app, hl):
    from tests.support.servers import OTHER_AGENT_KEY

    call = await asyncio.to_thread(
        hl.create_function_call, __import__("humanlayer").FunctionCallSpec(fn="wire", kwargs={})
    )
    resp = await app.client.get(f"/humanlayer/v1/function_calls/{call.call_id}", headers=auth(OTHER_AGENT_KEY))
    assert resp.status == 404


async def test_async_sdk_approve(app, monkeypatch):
    monkeypatch.setenv("HUMANLAYER_API_BASE", f"{app.url}/humanlayer/v1")
    ahl = AsyncHumanLayer(api_key=AGENT_KEY, run_id="run-async", sleep=quick_poll_async)

    @ahl.require_approval()
    async def restart(service: str) -> str:
        return f"restarted {service}"

    async with filed(app) as queue:
        running = asyncio.create_task(restart(service="billing"))
        await decide(app, await queue.next(), "approve")
        assert await asyncio.wait_for(running, 20) == "restarted billing"
