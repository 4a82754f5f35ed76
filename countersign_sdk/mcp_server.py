"""`countersign mcp`: a stdio MCP server (official `mcp` package, 2.x) with three tools:
`request_approval`, `permission_prompt` (an MCP client's permission hook, e.g. Claude Code's
--permission-prompt-tool) and `check_approval`. A call waits for a human up to `--max-wait` (below the
~60 s after which MCP clients give up), sending progress meanwhile, then answers "pending" with the way
to pick the outcome up later."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from countersign_sdk.action_names import action_part
from countersign_sdk.client import Countersign
from countersign_sdk.errors import CountersignError
from countersign_sdk.mcp_wait import (
    CHECK_MAX_WAIT_S,
    DEFAULT_MAX_WAIT_S,
    PROGRESS_EVERY_S,
    CallKeys,
    Report,
    Waiter,
    dashboard_link,
    package_version,
)
from countersign_sdk.models import Approval

INSTRUCTIONS = (
    "Before any risky, irreversible or costly action, call request_approval with the action, its "
    "arguments and why; act only if the outcome is 'approved', and then with the returned args. If the "
    "outcome is 'pending', call check_approval with the approval_id until it is decided."
)


def verdict(approval: Approval, waiter: Waiter | None = None) -> dict[str, Any]:
    """What the model gets back: the outcome, the human's comment and the arguments to use."""
    decision = approval.decision
    outcome = "approved" if approval.go_ahead else approval.status
    answer: dict[str, Any] = {
        "outcome": outcome,
        "approved": approval.go_ahead,
        "modified": bool(decision and decision.outcome == "modify"),
        "comment": decision.comment if decision else None,
        "decided_by": decision.by.label if decision else None,
        "args": approval.final_args if approval.go_ahead else None,
        "approval_id": approval.id,
    }
    if approval.pending and waiter is not None:
        answer["dashboard"] = dashboard_link(waiter.gate, approval.id)
        answer["message"] = waiter.pending_text(approval, approval.action)
    return answer


def permission_answer(tool_name: str, approval: Approval, waiter: Waiter) -> dict[str, Any]:
    """Claude Code's permission-prompt contract: allow with the (maybe modified) input, or deny with why."""
    if approval.go_ahead:
        return {"behavior": "allow", "updatedInput": approval.final_args}
    if approval.pending:
        return {
            "behavior": "deny",
            "message": (
                f"{tool_name} is still waiting for a human decision (request {approval.id}; review: "
                f"{dashboard_link(waiter.gate, approval.id)}). It is not denied yet: retry the same tool call with "
                "the same input later and it will pick up the decision."
            ),
        }
    decision = approval.decision
    reason = (decision.comment if decision and decision.comment else None) or f"request {approval.status}"
    who = f" by {decision.by.label}" if decision and approval.status == "rejected" else ""
    return {"behavior": "deny", "message": f"{tool_name} {approval.status}{who}: {reason}"}


def progress_of(ctx: Context[Any, Any]) -> Report:
    async def report(elapsed: float, message: str) -> None:
        await ctx.report_progress(round(elapsed, 1), None, message)  # a no-op without a progressToken

    return report


def build_server(
    gate: Countersign,
    max_wait: float = DEFAULT_MAX_WAIT_S,
    *,
    progress_every: float = PROGRESS_EVERY_S,
    keep_on_cancel: bool = False,
) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer(name="countersign", instructions=INSTRUCTIONS, version=package_version())
    waiter = Waiter(gate, max_wait, progress_every, keep_on_cancel)
    permission_keys = CallKeys("mcp-permission")

    async def file_and_wait(
        ctx: Context[Any, Any],
        action: str,
        args: dict[str, Any],
        context: dict[str, Any],
        sql: str | None,
        idempotency_key: str | None,
    ) -> Approval:
        try:
            approval = await gate.aio.request(action, args, context=context, sql=sql, idempotency_key=idempotency_key)
            return await waiter.wait(approval, waiter.max_wait, progress_of(ctx))
        except CountersignError as exc:
            raise ToolError(f"Countersign: {exc}") from None

    @server.tool(
        description="Ask a human to approve an action before doing it. Waits for the decision (up to "
        "a limit) and returns the outcome, their comment and the arguments to use (they "
        "may change them). An outcome of 'pending' means: call check_approval later."
    )
    async def request_approval(
        ctx: Context[Any, Any],
        action: str,
        args: dict[str, Any] | None = None,
        why: str | None = None,
        affected: str | None = None,
        reversible: bool | None = None,
        alternatives: str | None = None,
        sql: str | None = None,
    ) -> dict[str, Any]:
        context = {
            name: value
            for name, value in (
                ("why", why),
                ("affected", affected),
                ("reversible", reversible),
                ("alternatives", alternatives),
            )
            if value is not None
        }
        return verdict(await file_and_wait(ctx, action, args or {}, context, sql, None), waiter)

    @server.tool(
        description="Get the outcome of an earlier request_approval that answered 'pending': waits up "
        f"to wait_s seconds (0-{CHECK_MAX_WAIT_S}) for the decision, then returns it, or "
        "'pending' again."
    )
    async def check_approval(
        ctx: Context[Any, Any],
        id: str,
        wait_s: int = CHECK_MAX_WAIT_S,  # noqa: A002
    ) -> dict[str, Any]:
        seconds = max(0, min(CHECK_MAX_WAIT_S, wait_s))
        try:
            approval = await waiter.wait(await gate.aio.get(id), seconds, progress_of(ctx))
        except CountersignError as exc:
            raise ToolError(f"Countersign: {exc}") from None
        return verdict(approval, waiter)

    @server.tool(
        description="Permission hook: asks a human whether the tool call may run. Returns JSON "
        '{"behavior": "allow", "updatedInput": ...} or '
        '{"behavior": "deny", "message": ...}.'
    )
    async def permission_prompt(
        ctx: Context[Any, Any],
        tool_name: str,
        input: dict[str, Any],  # noqa: A002 - the hook's field name
        tool_use_id: str | None = None,
    ) -> str:
        # The key comes from the call itself, not tool_use_id: a model retrying after "still pending" sends
        # the same input under a new tool_use_id and must find the same request.
        key = permission_keys.key(tool_name, input)
        approval = await file_and_wait(
            ctx, action_part(tool_name), input, {"why": f"the agent wants to run the tool {tool_name}"}, None, key
        )
        if not approval.pending:
            permission_keys.settled(tool_name, input)
        return json.dumps(permission_answer(tool_name, approval, waiter))

    return server


def run(
    url: str | None = None,
    max_wait: float = DEFAULT_MAX_WAIT_S,
    *,
    progress_every: float = PROGRESS_EVERY_S,
    keep_on_cancel: bool = False,
) -> None:
    # stdout carries the protocol: logs go to stderr only.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    build_server(Countersign(url=url), max_wait, progress_every=progress_every, keep_on_cancel=keep_on_cancel).run(
        "stdio"
    )
