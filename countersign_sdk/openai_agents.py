"""OpenAI Agents SDK: resolve a run's tool-approval interruptions with Countersign's decisions.

Declare the risky tools with `needs_approval=True`; when a run stops on them, file each interruption as a
request, wait for the humans, and approve or reject it on the run state, then resume:

    result = await Runner.run(agent, "refund order o-1")
    while result.interruptions:
        result = await Runner.run(agent, await resolve_interruptions_async(result, gate))

Approved: the tool runs. Rejected, expired, cancelled or timed out: it does not run, and the model gets the
reason as the tool's result. **Modified:** the SDK runs an approved tool call only with the arguments the
model sent (a tool call's id must not be reused with another payload), so a modified call is rejected with
a message naming the approver's arguments ("A human approved refund only with these arguments: {…}"); the
model can call the tool again with them, which files a new request. Needs `openai-agents>=0.24`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agents import RunResult, RunResultStreaming, RunState, ToolApprovalItem

from countersign_sdk.client import Countersign
from countersign_sdk.toolcalls import ToolCall, ToolPolicy, ToolVerdict, decide_all
from countersign_sdk.transport import run_async, run_sync

Policies = Mapping[str, bool | Mapping[str, Any] | ToolPolicy]


def _arguments(item: ToolApprovalItem) -> dict[str, Any]:
    raw = item.arguments or "{}"
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {"arguments": raw}  # shown as sent; the approver judges the raw text
    return parsed if isinstance(parsed, dict) else {"arguments": parsed}


def _calls(result: RunResult | RunResultStreaming, tools: Policies | None) -> list[tuple[ToolApprovalItem, ToolCall]]:
    calls = []
    for item in result.interruptions:
        name = item.tool_name or item.name or "tool"
        config = True if tools is None else tools.get(name, True)
        policy = ToolPolicy.from_config(name, config) or ToolPolicy()  # an interruption is always decided
        calls.append((item, ToolCall(name, _arguments(item), item.call_id, policy)))
    return calls


def modified_message(verdict: ToolVerdict) -> str:
    comment = verdict.approval.decision.comment if verdict.approval.decision else None
    return (
        f"A human approved {verdict.call.name} only with these arguments: "
        f"{json.dumps(verdict.args, sort_keys=True)}"
        + (f" ({comment})" if comment else "")
        + f". {verdict.call.name} was not run; call it again with these arguments if it is still needed."
    )


def _apply(
    state: RunState[Any], pairs: list[tuple[ToolApprovalItem, ToolCall]], verdicts: list[ToolVerdict]
) -> RunState[Any]:
    for (item, _call), verdict in zip(pairs, verdicts, strict=True):
        if verdict.run and not verdict.modified:
            state.approve(item)
        elif verdict.run:
            state.reject(item, rejection_message=modified_message(verdict))
        else:
            state.reject(item, rejection_message=verdict.message)
    return state


def resolve_interruptions(
    result: RunResult | RunResultStreaming, gate: Countersign, tools: Policies | None = None
) -> RunState[Any]:
    """Decide every interruption of `result` through Countersign; returns the state to resume the run with.

    `tools` maps tool names to options (`True` or a dict of `risk`, `why`, `context`, `timeout`, `action`,
    `sql_arg`); tools not named are filed with defaults. All interruptions are filed before waiting, so the
    approvers see them together. Blocks: in async code use `resolve_interruptions_async`."""
    pairs = _calls(result, tools)
    state = result.to_state()
    verdicts = run_sync(decide_all(gate.plans, [call for _item, call in pairs]), gate.endpoint)
    return _apply(state, pairs, verdicts)


async def resolve_interruptions_async(
    result: RunResult | RunResultStreaming, gate: Countersign, tools: Policies | None = None
) -> RunState[Any]:
    """`resolve_interruptions` for async code (never blocks the event loop)."""
    pairs = _calls(result, tools)
    state = result.to_state()
    verdicts = await run_async(decide_all(gate.plans, [call for _item, call in pairs]), gate.endpoint)
    return _apply(state, pairs, verdicts)
