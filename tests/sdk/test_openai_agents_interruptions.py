"""`resolve_interruptions` with a real OpenAI Agents `Runner`, a scripted model that returns tool calls and
`needs_approval` tools, against a running server: approve, reject, modify (refused with the approver's
arguments named, then the model's new call is approved), and the sync variant."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Agent, Model, ModelResponse, Runner, Usage, function_tool, set_tracing_disabled  # noqa: E402
from openai.types.responses import (  # noqa: E402
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from countersign_sdk import Countersign  # noqa: E402
from countersign_sdk.openai_agents import resolve_interruptions, resolve_interruptions_async  # noqa: E402
from tests.support.agents import decide, fetch, filed  # noqa: E402
from tests.support.servers import AGENT_KEY  # noqa: E402

set_tracing_disabled(True)
_ids = itertools.count(1)
Turn = list[tuple[str, dict[str, Any]]] | str  # tool calls, or the final text


class ScriptedModel(Model):
    """Answers each model call with the next scripted turn; keeps what it was sent."""

    def __init__(self, *turns: Turn) -> None:
        self.turns = list(turns)
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> ModelResponse:
        self.inputs.append(input)
        turn = self.turns.pop(0) if self.turns else "done"
        if isinstance(turn, str):
            output: list[Any] = [
                ResponseOutputMessage(
                    id=f"msg_{next(_ids)}",
                    type="message",
                    role="assistant",
                    status="completed",
                    content=[ResponseOutputText(text=turn, type="output_text", annotations=[])],
                )
            ]
        else:
            output = [
                ResponseFunctionToolCall(
                    id=f"fc_{n}",
                    call_id=f"call_oa_{n}",
                    name=name,
                    type="function_call",
                    arguments=json.dumps(args),
                    status="completed",
                )
                for name, args in turn
                for n in [next(_ids)]
            ]
        return ModelResponse(output=output, usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


def build(model: ScriptedModel, ran: list[tuple[str, dict[str, Any]]]) -> Agent:
    @function_tool(needs_approval=True)
    def issue_refund(order_id: str, amount_cents: int) -> str:
        """Refund part or all of an order."""
        ran.append(("issue_refund", {"order_id": order_id, "amount_cents": amount_cents}))
        return f"refunded {amount_cents} on {order_id}"

    return Agent(name="Support", instructions="help", model=model, tools=[issue_refund])


def outputs(model: ScriptedModel) -> list[str]:
    """The function_call_output texts the model was sent on its last call."""
    last = model.inputs[-1]
    return [item["output"] for item in last if isinstance(item, dict) and item.get("type") == "function_call_output"]


@pytest.fixture
def gate(app) -> Countersign:
    return Countersign(url=app.url, api_key=AGENT_KEY)


async def test_approved_interruption_runs_the_tool(app, gate):
    ran: list = []
    model = ScriptedModel([("issue_refund", {"order_id": "o-1", "amount_cents": 500})], "refunded")
    agent = build(model, ran)
    result = await Runner.run(agent, "refund o-1")
    assert len(result.interruptions) == 1 and not ran
    async with filed(app) as queue:
        resolving = asyncio.create_task(
            resolve_interruptions_async(result, gate, tools={"issue_refund": {"risk": "high", "why": "refund"}})
        )
        approval_id = await queue.next()
        stored = await fetch(app, approval_id)
        assert stored["action"] == "issue_refund" and stored["args"] == {"order_id": "o-1", "amount_cents": 500}
        assert stored["risk_level"] == "high" and stored["idempotency_key"].startswith("tool:call_oa_")
        await decide(app, approval_id, "approve", "ok")
        state = await asyncio.wait_for(resolving, 20)
    result = await Runner.run(agent, state)
    assert not result.interruptions and result.final_output == "refunded"
    assert ran == [("issue_refund", {"order_id": "o-1", "amount_cents": 500})]
    assert outputs(model) == ["refunded 500 on o-1"]


async def test_rejected_interruption_tells_the_model_why(app, gate):
    ran: list = []
    model = ScriptedModel([("issue_refund", {"order_id": "o-2", "amount_cents": 900})], "sorry")
    agent = build(model, ran)
    result = await Runner.run(agent, "refund o-2")
    async with filed(app) as queue:
        resolving = asyncio.create_task(resolve_interruptions_async(result, gate))
        await decide(app, await queue.next(), "reject", "already refunded")
        state = await asyncio.wait_for(resolving, 20)
    result = await Runner.run(agent, state)
    assert ran == [] and result.final_output == "sorry"
    assert outputs(model) == ["A human rejected issue_refund: already refunded"]


async def test_modified_interruption_is_refused_naming_the_approved_arguments(app, gate):
    ran: list = []
    model = ScriptedModel(
        [("issue_refund", {"order_id": "o-3", "amount_cents": 900})],
        [("issue_refund", {"order_id": "o-3", "amount_cents": 450})],
        "half refunded",
    )
    agent = build(model, ran)
    result = await Runner.run(agent, "refund o-3")
    async with filed(app) as queue:
        resolving = asyncio.create_task(resolve_interruptions_async(result, gate))
        await decide(app, await queue.next(), "modify", "half", args={"order_id": "o-3", "amount_cents": 450})
        state = await asyncio.wait_for(resolving, 20)
        result = await Runner.run(agent, state)
        assert ran == []  # never with the model's 900
        assert outputs(model) == [
            'A human approved issue_refund only with these arguments: {"amount_cents": 450, "order_id": "o-3"} '
            "(half). issue_refund was not run; call it again with these arguments if it is still needed."
        ]
        # The model calls again with the approved arguments: a new request, approved, and it runs.
        assert len(result.interruptions) == 1
        resolving = asyncio.create_task(resolve_interruptions_async(result, gate))
        await decide(app, await queue.next(), "approve")
        state = await asyncio.wait_for(resolving, 20)
    result = await Runner.run(agent, state)
    assert ran == [("issue_refund", {"order_id": "o-3", "amount_cents": 450})]
    assert result.final_output == "half refunded"


async def test_sync_resolve_files_every_interruption_before_waiting(app, gate):
    ran: list = []
    model = ScriptedModel(
        [
            ("issue_refund", {"order_id": "o-4", "amount_cents": 1}),
            ("issue_refund", {"order_id": "o-5", "amount_cents": 2}),
        ],
        "both",
    )
    agent = build(model, ran)
    result = await Runner.run(agent, "refund both")
    assert len(result.interruptions) == 2
    async with filed(app) as queue:
        resolving = asyncio.create_task(asyncio.to_thread(resolve_interruptions, result, gate))
        first, second = await queue.next(), await queue.next()  # both filed while none is decided
        await decide(app, second, "reject", "no")
        await decide(app, first, "approve")
        state = await asyncio.wait_for(resolving, 20)
    result = await Runner.run(agent, state)
    assert ran == [("issue_refund", {"order_id": "o-4", "amount_cents": 1})]
    assert sorted(outputs(model)) == ["A human rejected issue_refund: no", "refunded 1 on o-4"]
