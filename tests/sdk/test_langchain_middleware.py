"""`CountersignMiddleware` in a real `langchain.agents.create_agent`, driven by a fake chat model that emits
tool calls, against a running server: approve, modify, reject, and tools that are not gated."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

pytest.importorskip("langchain.agents")

from langchain.agents import create_agent  # noqa: E402
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402

from countersign_sdk import Countersign  # noqa: E402
from countersign_sdk.langchain import CountersignMiddleware  # noqa: E402
from tests.support.agents import decide, fetch, filed  # noqa: E402
from tests.support.servers import AGENT_KEY  # noqa: E402

_ids = itertools.count(1)


class ToolCallingFakeModel(GenericFakeChatModel):
    """Replays scripted messages; create_agent binds tools, which a scripted model ignores."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFakeModel:
        return self


def script(*tool_calls: tuple[str, dict[str, Any]]) -> ToolCallingFakeModel:
    calls = [{"name": name, "args": args, "id": f"call_lc_{next(_ids)}"} for name, args in tool_calls]
    return ToolCallingFakeModel(messages=iter([AIMessage(content="", tool_calls=calls), AIMessage(content="done")]))


def build(gate: Countersign, model: ToolCallingFakeModel, ran: list[tuple[str, dict[str, Any]]]) -> Any:
    @tool
    def issue_refund(order_id: str, amount_cents: int) -> str:
        """Refund part or all of an order."""
        ran.append(("issue_refund", {"order_id": order_id, "amount_cents": amount_cents}))
        return f"refunded {amount_cents} on {order_id}"

    @tool
    def lookup_order(order_id: str) -> str:
        """Read an order."""
        ran.append(("lookup_order", {"order_id": order_id}))
        return f"order {order_id}: shipped"

    middleware = CountersignMiddleware(
        gate,
        interrupt_on={"issue_refund": {"risk": "high", "why": "customer asked for a refund"}, "lookup_order": False},
    )
    return create_agent(model, tools=[issue_refund, lookup_order], middleware=[middleware])


def tool_results(result: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in result["messages"] if isinstance(m, ToolMessage)]


@pytest.fixture
def gate(app) -> Countersign:
    return Countersign(url=app.url, api_key=AGENT_KEY)


async def test_approved_tool_runs_with_the_models_arguments(app, gate):
    ran: list = []
    agent = build(gate, script(("issue_refund", {"order_id": "o-1", "amount_cents": 500})), ran)
    async with filed(app) as queue:
        running = asyncio.create_task(agent.ainvoke({"messages": [HumanMessage("refund o-1")]}))
        approval_id = await queue.next()
        stored = await fetch(app, approval_id)
        assert stored["action"] == "issue_refund" and stored["args"] == {"order_id": "o-1", "amount_cents": 500}
        assert stored["risk_level"] == "high" and stored["context"]["why"] == "customer asked for a refund"
        assert not ran  # nothing runs before the decision
        await decide(app, approval_id, "approve", "fine")
        result = await asyncio.wait_for(running, 20)
    assert ran == [("issue_refund", {"order_id": "o-1", "amount_cents": 500})]
    (message,) = tool_results(result)
    assert message.content == "refunded 500 on o-1" and message.status == "success"


async def test_modified_tool_runs_with_the_approvers_arguments(app, gate):
    ran: list = []
    agent = build(gate, script(("issue_refund", {"order_id": "o-2", "amount_cents": 900})), ran)
    async with filed(app) as queue:
        running = asyncio.create_task(agent.ainvoke({"messages": [HumanMessage("refund o-2")]}))
        approval_id = await queue.next()
        await decide(app, approval_id, "modify", "half is enough", args={"order_id": "o-2", "amount_cents": 450})
        result = await asyncio.wait_for(running, 20)
    assert ran == [("issue_refund", {"order_id": "o-2", "amount_cents": 450})]
    assert tool_results(result)[0].content == "refunded 450 on o-2"


async def test_rejection_is_the_tool_result_and_the_tool_never_runs(app, gate):
    ran: list = []
    agent = build(gate, script(("issue_refund", {"order_id": "o-3", "amount_cents": 100})), ran)
    async with filed(app) as queue:
        running = asyncio.create_task(agent.ainvoke({"messages": [HumanMessage("refund o-3")]}))
        approval_id = await queue.next()
        await decide(app, approval_id, "reject", "already refunded")
        result = await asyncio.wait_for(running, 20)
    assert ran == []
    (message,) = tool_results(result)
    assert message.status == "error"
    assert message.content == "A human rejected issue_refund: already refunded"
    assert result["messages"][-1].content == "done"  # the model got the rejection and went on


async def test_sync_invoke_and_ungated_tools(app, gate):
    ran: list = []
    model = script(("lookup_order", {"order_id": "o-4"}), ("issue_refund", {"order_id": "o-4", "amount_cents": 1}))
    agent = build(gate, model, ran)
    async with filed(app) as queue:
        running = asyncio.create_task(asyncio.to_thread(agent.invoke, {"messages": [HumanMessage("o-4")]}))
        approval_id = await queue.next()
        assert ran == [("lookup_order", {"order_id": "o-4"})]  # not gated: ran at once, nothing filed for it
        assert (await fetch(app, approval_id))["action"] == "issue_refund"
        await decide(app, approval_id, "approve")
        result = await asyncio.wait_for(running, 20)
    assert ran[1] == ("issue_refund", {"order_id": "o-4", "amount_cents": 1})
    assert [m.content for m in tool_results(result)] == ["order o-4: shipped", "refunded 1 on o-4"]


def test_bad_interrupt_on_config_is_refused(gate):
    with pytest.raises(ValueError, match="unknown option"):
        CountersignMiddleware(gate, interrupt_on={"issue_refund": {"risk": "high", "riks": "low"}})
    with pytest.raises(TypeError):
        CountersignMiddleware(gate, interrupt_on={"issue_refund": "yes"})  # type: ignore[dict-item]
