"""Sub-commands for coding agents and MCP: `mcp` (the approval tools), `mcp-proxy` (approval in front of
any MCP server) and `hook claude-code` (a Claude Code PreToolUse hook). All are clients of the HTTP API
(COUNTERSIGN_URL, COUNTERSIGN_API_KEY) and import only the SDK."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.cli.client import server_url

URL_HELP = "server URL (default: COUNTERSIGN_URL); the key comes from COUNTERSIGN_API_KEY"
EXIT_ERROR = 3


def _fail(message: str) -> int:
    print(f"countersign: {message}", file=sys.stderr)
    return EXIT_ERROR


def _mcp_problem(command: str) -> str | None:
    from countersign_sdk.mcp_wait import mcp_version_problem

    problem = mcp_version_problem()
    return f"{command} {problem}" if problem else None


def cmd_mcp(args: argparse.Namespace) -> int:
    from countersign_sdk import CountersignError

    if problem := _mcp_problem("countersign mcp"):
        return _fail(problem)
    from countersign_sdk.mcp_server import run

    try:
        run(
            url=server_url(args),
            max_wait=args.max_wait,
            progress_every=args.progress_every,
            keep_on_cancel=args.keep_on_cancel,
        )
    except CountersignError as exc:
        return _fail(str(exc))
    return 0


def cmd_mcp_proxy(args: argparse.Namespace) -> int:
    from countersign_sdk import CountersignError

    if problem := _mcp_problem("countersign mcp-proxy"):
        return _fail(problem)
    command = [part for part in args.upstream if part != "--"] if args.upstream[:1] == ["--"] else args.upstream
    if not command:
        return _fail(
            "mcp-proxy needs the upstream server's command after --, e.g. "
            "countersign mcp-proxy -- npx -y @modelcontextprotocol/server-filesystem /tmp"
        )
    from countersign_sdk.mcp_proxy import run

    try:
        return run(
            command,
            url=server_url(args),
            name=args.name,
            max_wait=args.max_wait,
            progress_every=args.progress_every,
            keep_on_cancel=args.keep_on_cancel,
        )
    except CountersignError as exc:
        return _fail(str(exc))


def cmd_hook_claude_code(args: argparse.Namespace) -> int:
    from countersign_sdk.claude_hook import run

    return run(
        sys.stdin.buffer,
        sys.stdout,
        sys.stderr,
        url=server_url(args),
        timeout=args.timeout,
        fail_closed=args.fail_closed,
    )


def _wait_options(parser: argparse.ArgumentParser) -> None:
    from countersign_sdk.mcp_wait import DEFAULT_MAX_WAIT_S, PROGRESS_EVERY_S

    parser.add_argument(
        "--max-wait",
        type=float,
        default=DEFAULT_MAX_WAIT_S,
        help="wait this long for a decision, then answer 'pending' (default %(default)s s, "
        "below the ~60 s MCP clients wait)",
    )
    parser.add_argument(
        "--progress-every",
        type=float,
        default=PROGRESS_EVERY_S,
        help="send notifications/progress this often while waiting (default %(default)s s)",
    )
    parser.add_argument(
        "--keep-on-cancel", action="store_true", help="leave the request pending when the client cancels the call"
    )
    parser.add_argument("--url", help=URL_HELP)


def register(sub: Any) -> None:
    mcp = sub.add_parser("mcp", help="run the stdio MCP server (request_approval, permission_prompt, check_approval)")
    _wait_options(mcp)
    mcp.set_defaults(func=cmd_mcp)

    proxy = sub.add_parser(
        "mcp-proxy",
        help="serve an MCP server's tools with approval before every call",
        usage="countersign mcp-proxy [--name NAME] [--max-wait S] -- COMMAND [ARGS...]",
    )
    proxy.add_argument(
        "--name", help="the server's name in actions (mcp.NAME.tool); default: the upstream's serverInfo.name"
    )
    _wait_options(proxy)
    proxy.add_argument("upstream", nargs=argparse.REMAINDER, help="the upstream MCP server's command")
    proxy.set_defaults(func=cmd_mcp_proxy)

    hook = sub.add_parser("hook", help="agent hooks").add_subparsers(dest="hook_cmd", required=True)
    claude = hook.add_parser("claude-code", help="a Claude Code PreToolUse hook: JSON on stdin, decision on stdout")
    claude.add_argument(
        "--timeout",
        type=float,
        default=540.0,
        help="wait this long for a decision, then answer 'ask' (default %(default)s s; set the "
        "hook's timeout in settings.json a little above it)",
    )
    claude.add_argument(
        "--fail-closed",
        action="store_true",
        help="answer 'deny' instead of 'ask' when the server cannot be reached or no one decides",
    )
    claude.add_argument("--url", help=URL_HELP)
    claude.set_defaults(func=cmd_hook_claude_code)
