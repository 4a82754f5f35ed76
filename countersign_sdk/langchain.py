"""LangChain 1.x: `CountersignMiddleware`, an agent middleware for `langchain.agents.create_agent` that asks
Countersign before the configured tools run — without decorating the tools.

    agent = create_agent(model, tools=[issue_refund, lookup_order],
                         middleware=[CountersignMiddleware(gate, interrupt_on={"issue_refund": {"risk": "high"}})])

Approved: the tool runs. Modified: it runs with the approver's arguments. Rejected, expired, cancelled or
timed out: it does not run, and the model gets the reason as the tool's result (a `ToolMessage` with
`status="error"`). Needs `langchain>=1.0` (not a dependency of the SDK itself)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from countersign_sdk.client import Countersign
from countersign_sdk.toolcalls import ToolCall, ToolPolicy, ToolVerdict, decide_all
from countersign_sdk.transport import run_async, run_sync

ToolResult = ToolMessage | Command[Any]


class CountersignMiddleware(AgentMiddleware[Any, Any]):
    """`interrupt_on` maps tool names to `True` (gate with defaults), `False` (do not gate) or a dict of
    `risk`, `why`, `context`, `timeout`, `action`, `sql_arg` (see `ToolPolicy`). Other tools run as usual."""

    def __init__(self, gate: Countersign, interrupt_on: Mapping[str, bool | Mapping[str, Any] | ToolPolicy]) -> None:
        super().__init__()
        self.gate = gate
        self.policies: dict[str, ToolPolicy] = {}
        for tool, config in interrupt_on.items():
            policy = ToolPolicy.from_config(tool, config)
            if policy is not None:
                self.policies[tool] = policy

    def _call(self, request: ToolCallRequest) -> ToolCall | None:
        tool_call = request.tool_call
        policy = self.policies.get(tool_call["name"])
        if policy is None:
            return None
        return ToolCall(tool_call["name"], dict(tool_call.get("args") or {}), tool_call.get("id"), policy)

    @staticmethod
    def _settle(request: ToolCallRequest, verdict: ToolVerdict) -> ToolCallRequest | ToolMessage:
        """The request to run (with the approver's arguments), or the refusal the model sees."""
        if not verdict.run:
            return ToolMessage(
                content=verdict.message,
                tool_call_id=request.tool_call["id"],
                name=request.tool_call["name"],
                status="error",
            )
        if verdict.modified:
            return request.override(tool_call={**request.tool_call, "args": verdict.args})
        return request

    def wrap_tool_call(self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], ToolResult]) -> ToolResult:
        call = self._call(request)
        if call is None:
            return handler(request)
        (verdict,) = run_sync(decide_all(self.gate.plans, [call]), self.gate.endpoint)
        settled = self._settle(request, verdict)
        return settled if isinstance(settled, ToolMessage) else handler(settled)

    async def awrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], Awaitable[ToolResult]]
    ) -> ToolResult:
        call = self._call(request)
        if call is None:
            return await handler(request)
        (verdict,) = await run_async(decide_all(self.gate.plans, [call]), self.gate.endpoint)
        settled = self._settle(request, verdict)
        return settled if isinstance(settled, ToolMessage) else await handler(settled)
