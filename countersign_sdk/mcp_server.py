"""`countersign mcp`: a stdio MCP server (official `mcp` package) with two tools, `request_approval`
and `permission_prompt` (an MCP client's permission hook, e.g. Claude Code's --permission-prompt-tool).
Each tool call files a request through the SDK and blocks until a human decides."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from countersign_sdk.client import Countersign
from countersign_sdk.errors import ApprovalTimeout, CountersignError
from countersign_sdk.models import Approval

INSTRUCTIONS = (
    "Before any risky, irreversible or costly action, call request_approval with the action, its "
    "arguments and why; act only if the outcome is 'approved', and then with the returned args."
)


def verdict(approval: Approval) -> dict[str, Any]:
    """What the model gets back: the outcome, the human's comment and the arguments to use."""
    decision = approval.decision
    outcome = "approved" if approval.go_ahead else approval.status
    return {
        "outcome": outcome,
        "approved": approval.go_ahead,
        "modified": bool(decision and decision.outcome == "modify"),
        "comment": decision.comment if decision else None,
        "decided_by": decision.by.label if decision else None,
        "args": approval.final_args if approval.go_ahead else None,
        "approval_id": approval.id,
    }


def build_server(gate: Countersign, timeout: float | None = None) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer(name="countersign", instructions=INSTRUCTIONS)

    async def decide(action: str, args: dict[str, Any], context: dict[str, Any], sql: str | None,
                     idempotency_key: str | None) -> Approval:
        try:
            return await gate.aio.gate(action, args, context=context, sql=sql, timeout=timeout,
                                       idempotency_key=idempotency_key)
        except ApprovalTimeout as exc:
            return exc.approval
        except CountersignError as exc:
            raise ToolError(f"Countersign: {exc}") from None

    @server.tool(description="Ask a human to approve an action before doing it. Blocks until they decide; "
                             "returns the outcome, their comment and the arguments to use "
                             "(they may change them).")
    async def request_approval(action: str, args: dict[str, Any] | None = None, why: str | None = None,
                               affected: str | None = None, reversible: bool | None = None,
                               alternatives: str | None = None, sql: str | None = None) -> dict[str, Any]:
        context = {name: value for name, value in (("why", why), ("affected", affected),
                                                   ("reversible", reversible), ("alternatives", alternatives))
                   if value is not None}
        return verdict(await decide(action, args or {}, context, sql, None))

    @server.tool(description="Permission hook: asks a human whether the tool call may run. Returns JSON "
                             '{"behavior": "allow", "updatedInput": ...} or '
                             '{"behavior": "deny", "message": ...}.')
    async def permission_prompt(tool_name: str, input: dict[str, Any],  # noqa: A002 - the hook's field name
                                tool_use_id: str | None = None) -> str:
        approval = await decide(tool_name, input, {"why": f"the agent wants to run the tool {tool_name}"},
                                None, tool_use_id)
        decision = approval.decision
        if approval.go_ahead:
            return json.dumps({"behavior": "allow", "updatedInput": approval.final_args})
        reason = (decision.comment if decision and decision.comment else None) or f"request {approval.status}"
        who = f" by {decision.by.label}" if decision and approval.status == "rejected" else ""
        return json.dumps({"behavior": "deny", "message": f"{tool_name} {approval.status}{who}: {reason}"})

    return server


def run(url: str | None = None, timeout: float | None = None) -> None:
    # stdout carries the protocol: logs go to stderr only.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    build_server(Countersign(url=url), timeout).run("stdio")
