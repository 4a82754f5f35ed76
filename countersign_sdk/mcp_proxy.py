"""`countersign mcp-proxy -- COMMAND …`: an MCP gateway. It starts the upstream MCP server over stdio and
serves its tools, resources and prompts unchanged, except that every `tools/call` is first filed as an
approval (`mcp.<NAME>.<tool>`) and reaches the upstream only once approved, with the approved arguments.

Run-once: each approval id this gateway filed has a `Ticket`; the upstream call for it is made under the
ticket's lock at most once, whichever path gets there first (the call itself, a retry of it, or
`check_approval`), and every later path gets the stored result. Rejected, expired, cancelled or still
pending requests never reach the upstream."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from countersign_sdk.action_names import action_part, first_line
from countersign_sdk.client import Countersign
from countersign_sdk.errors import CountersignError
from countersign_sdk.mcp_wait import (
    CHECK_MAX_WAIT_S,
    DEFAULT_MAX_WAIT_S,
    PROGRESS_EVERY_S,
    CallKeys,
    Report,
    Waiter,
)
from countersign_sdk.models import Approval

log = logging.getLogger("countersign.mcp_proxy")
CHECK_TOOL = "check_approval"
TICKETS_MAX = 10_000
# Never handed to the upstream server: it is someone else's code and must not act as this agent.
_PRIVATE_ENV_PREFIXES = ("COUNTERSIGN_",)

CHECK_TOOL_SPEC = types.Tool(
    name=CHECK_TOOL,
    description=(
        "Countersign: get the outcome of a tool call that answered that it is waiting for a human "
        f"decision. Waits up to wait_s seconds (0-{CHECK_MAX_WAIT_S}); once approved, runs the call "
        "and returns its result; otherwise says it was rejected, or is still pending."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "the request id (apr_…) from the pending answer"},
            "wait_s": {"type": "integer", "minimum": 0, "maximum": CHECK_MAX_WAIT_S},
        },
        "required": ["id"],
        "additionalProperties": False,
    },
)


def text_result(text: str, *, error: bool) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error)


def refusal(tool_name: str, approval: Approval) -> types.CallToolResult:
    decision = approval.decision
    reason = (decision.comment if decision and decision.comment else None) or "no reason given"
    if approval.status == "rejected":
        who = decision.by.label if decision else "an approver"
        text = f"{tool_name} was rejected by {who}: {reason}"
    elif approval.status == "expired":
        text = f"{tool_name} expired without approval: {reason}"
    else:
        text = f"{tool_name} was {approval.status}: {reason}"
    return text_result(f"{text} (request {approval.id}). The tool was not called.", error=True)


@dataclass
class Ticket:
    """One approval this gateway filed, and what became of its upstream call."""

    tool_name: str
    requested_args: dict[str, Any]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    started: bool = False
    result: types.CallToolResult | None = None


class Gateway:
    def __init__(self, gate: Countersign, upstream: ClientSession, name: str, waiter: Waiter) -> None:
        self.gate = gate
        self.upstream = upstream
        self.name = action_part(name, dots=False)
        self.waiter = waiter
        self.tools: dict[str, types.Tool] = {}
        self.tickets: OrderedDict[str, Ticket] = OrderedDict()
        self.keys = CallKeys("mcp-proxy")

    # -- the upstream's tools --------------------------------------------------------------------------
    async def refresh_tools(self) -> None:
        tools: dict[str, types.Tool] = {}
        cursor: str | None = None
        for _ in range(100):  # pages; bounded whatever the upstream says
            page = await self.upstream.list_tools(
                params=types.PaginatedRequestParams(cursor=cursor) if cursor else None
            )
            tools.update({tool.name: tool for tool in page.tools})
            cursor = page.next_cursor
            if not cursor:
                break
        self.tools = tools

    async def tool(self, name: str) -> types.Tool | None:
        if name not in self.tools:
            await self.refresh_tools()
        return self.tools.get(name)

    def action(self, tool_name: str) -> str:
        return f"mcp.{self.name}.{action_part(tool_name)}"

    # -- handlers --------------------------------------------------------------------------------------
    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        page = await self.upstream.list_tools(params=params)
        self.tools.update({tool.name: tool for tool in page.tools})
        tools = [tool for tool in page.tools if tool.name != CHECK_TOOL]
        if params is None or not params.cursor:
            tools.append(CHECK_TOOL_SPEC)
        return page.model_copy(update={"tools": tools})

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        report = progress_of(ctx)
        try:
            if params.name == CHECK_TOOL:
                return await self.check(arguments, report)
            return await self.gated_call(params.name, arguments, report)
        except CountersignError as exc:
            return text_result(f"Countersign: {exc}. The tool was not called.", error=True)

    async def gated_call(self, tool_name: str, arguments: dict[str, Any], report: Report) -> types.CallToolResult:
        tool = await self.tool(tool_name)
        if tool is None:
            return text_result(f"unknown tool {tool_name!r}", error=True)
        context = {"why": why} if (why := first_line(tool.description)) else {}
        approval = await self.gate.aio.request(
            self.action(tool_name),
            arguments,
            context=context,
            args_schema=args_schema(tool),
            idempotency_key=self.keys.key(tool_name, arguments),
        )
        self.ticket_for(approval.id, tool_name, arguments)
        approval = await self.waiter.wait(approval, self.waiter.max_wait, report)
        return await self.settle(approval, tool)

    async def check(self, arguments: dict[str, Any], report: Report) -> types.CallToolResult:
        approval_id, wait_s = arguments.get("id"), arguments.get("wait_s", CHECK_MAX_WAIT_S)
        if not isinstance(approval_id, str) or not isinstance(wait_s, int) or isinstance(wait_s, bool):
            return text_result('check_approval takes {"id": "apr_…", "wait_s": 0-50}', error=True)
        ticket = self.tickets.get(approval_id)
        if ticket is None:
            return text_result(f"{approval_id!r} is not a request this gateway filed", error=True)
        approval = await self.gate.aio.get(approval_id)
        approval = await self.waiter.wait(approval, max(0, min(CHECK_MAX_WAIT_S, wait_s)), report)
        return await self.settle(approval, await self.tool(ticket.tool_name))

    # -- run once --------------------------------------------------------------------------------------
    def ticket_for(self, approval_id: str, tool_name: str, arguments: dict[str, Any]) -> Ticket:
        ticket = self.tickets.get(approval_id)
        if ticket is None:
            ticket = self.tickets[approval_id] = Ticket(tool_name, arguments)
            while len(self.tickets) > TICKETS_MAX:  # a forgotten ticket can only fail check_approval, never run
                self.tickets.popitem(last=False)
        return ticket

    async def settle(self, approval: Approval, tool: types.Tool | None) -> types.CallToolResult:
        ticket = self.tickets.get(approval.id)
        if ticket is None:  # pragma: no cover - evicted between filing and now
            return text_result(f"request {approval.id} is no longer known to this gateway", error=True)
        if approval.pending:
            # A tool with an output schema may not answer a plain success without structured content
            # (clients refuse it): its pending answer is an error result, which carries the same text.
            return text_result(
                self.waiter.pending_text(approval, ticket.tool_name),
                error=tool is not None and tool.output_schema is not None,
            )
        async with ticket.lock:
            if ticket.result is not None:
                return ticket.result
            if ticket.started:
                return text_result(
                    f"{ticket.tool_name} (request {approval.id}) was started once and "
                    "interrupted; it is not run again.",
                    error=True,
                )
            if approval.go_ahead:
                ticket.started = True
                ticket.result = await self.forward(ticket.tool_name, approval.final_args)
            else:
                ticket.result = refusal(ticket.tool_name, approval)
            self.keys.settled(ticket.tool_name, ticket.requested_args)
            return ticket.result

    async def forward(self, tool_name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        try:
            return await self.upstream.call_tool(tool_name, arguments)
        except MCPError as exc:
            return text_result(f"{tool_name} failed upstream: {exc.error.message}", error=True)
        except (RuntimeError, ValueError) as exc:  # a result the client side refused (schema, shape)
            return text_result(f"{tool_name} failed upstream: {exc}", error=True)

    # -- resources and prompts: passed through ---------------------------------------------------------
    async def list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return await self.upstream.list_resources(params=params)

    async def list_resource_templates(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return await self.upstream.list_resource_templates(params=params)

    async def read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await self.upstream.read_resource(str(params.uri))

    async def list_prompts(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return await self.upstream.list_prompts(params=params)

    async def get_prompt(
        self, ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        return await self.upstream.get_prompt(params.name, params.arguments)


def args_schema(tool: types.Tool) -> dict[str, Any]:
    """The tool's inputSchema as the approval's args_schema. Its top-level `$schema` (MCP servers built with
    zod say draft-07) is left out: Countersign validates with its own dialect and refuses other `$schema`
    values, and the keywords tool schemas use mean the same in both."""
    return {key: value for key, value in tool.input_schema.items() if key != "$schema"}


def progress_of(ctx: ServerRequestContext[Any]) -> Report:
    async def report(elapsed: float, message: str) -> None:
        await ctx.session.report_progress(round(elapsed, 1), None, message)  # a no-op without a progressToken

    return report


def upstream_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items() if not name.startswith(_PRIVATE_ENV_PREFIXES)}


def build_server(gateway: Gateway, upstream: types.InitializeResult | None) -> Server[Any]:
    info = upstream.server_info if upstream else None
    capabilities = upstream.capabilities if upstream else types.ServerCapabilities()
    handlers: dict[str, Any] = {"on_list_tools": gateway.list_tools, "on_call_tool": gateway.call_tool}
    if capabilities.resources is not None:
        handlers.update(
            on_list_resources=gateway.list_resources,
            on_read_resource=gateway.read_resource,
            on_list_resource_templates=gateway.list_resource_templates,
        )
    if capabilities.prompts is not None:
        handlers.update(on_list_prompts=gateway.list_prompts, on_get_prompt=gateway.get_prompt)
    notice = (
        "Tool calls go through Countersign: a human may need to approve them. A call that answers that it "
        "is waiting gives a request id: call check_approval with it to get the outcome."
    )
    instructions = f"{upstream.instructions}\n\n{notice}" if upstream and upstream.instructions else notice
    return Server(
        info.name if info else gateway.name,
        version=info.version if info else "",
        title=info.title if info else None,
        instructions=instructions,
        **handlers,
    )


async def serve(command: list[str], gate: Countersign, name: str | None, waiter: Waiter) -> None:
    params = StdioServerParameters(command=command[0], args=command[1:], env=upstream_env(os.environ))
    async with AsyncExitStack() as stack:
        read, write = await stack.enter_async_context(stdio_client(params))
        upstream = await stack.enter_async_context(ClientSession(read, write))
        initialized = await upstream.initialize()
        gateway = Gateway(gate, upstream, name or initialized.server_info.name, waiter)
        await gateway.refresh_tools()
        server = build_server(gateway, initialized)
        async with stdio_server() as (client_read, client_write):
            await server.run(client_read, client_write, server.create_initialization_options())


def run(
    command: list[str],
    url: str | None = None,
    name: str | None = None,
    max_wait: float = DEFAULT_MAX_WAIT_S,
    *,
    progress_every: float = PROGRESS_EVERY_S,
    keep_on_cancel: bool = False,
) -> int:
    # stdout carries the protocol: logs go to stderr only.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    waiter = Waiter(Countersign(url=url), max_wait, progress_every, keep_on_cancel)
    try:
        asyncio.run(serve(command, waiter.gate, name, waiter))
    except OSError as exc:
        print(f"countersign: mcp-proxy: cannot start {command[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        return 3
    return 0
