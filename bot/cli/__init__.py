"""The `countersign` command: its sub-commands and flags, wired here; the commands live in `server`
(serve, worker), `admin` (policy, audit, web-login), `client` (request, pending, approve, reject), `agents`
(mcp, mcp-proxy, hook claude-code) and `grants` (list, create, revoke)."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from bot.cli import admin, agents, client, server
from bot.cli.grants import add_grants
from bot.errors import ConfigError
from bot.models import RISK_LEVELS

URL_HELP = "server URL (default: COUNTERSIGN_URL, else http://127.0.0.1:3000); the key comes from COUNTERSIGN_API_KEY"


def _add_serve_and_worker(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the web service (agent API, Slack, web)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers", default="1", help="server processes sharing the port (default 1; auto: one per core)"
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # set for --workers' children
    serve.set_defaults(func=server.cmd_serve)

    worker = sub.add_parser("worker", help="run the RQ worker (escalations, timeouts, delivery)")
    worker.add_argument("--burst", action="store_true", help="run what is queued, then exit")
    worker.add_argument(
        "--fork",
        action="store_true",
        help="run each job in a forked work horse (isolation; slower) instead of in-process",
    )
    worker.set_defaults(func=server.cmd_worker)


def _add_policy(sub: Any) -> None:
    policy = sub.add_parser("policy", help="check or explain a policy").add_subparsers(dest="policy_cmd", required=True)
    check = policy.add_parser("check", help="validate a policy file")
    check.add_argument("file")
    check.set_defaults(func=admin.cmd_policy_check)
    explain = policy.add_parser("explain", help="show the level, reasons and route for a call")
    explain.add_argument("--action", required=True)
    explain.add_argument("--args", help="the call's arguments as a JSON object")
    explain.add_argument("--sql")
    explain.add_argument("--agent", default="agent")
    explain.add_argument("--risk", help='risk hints as JSON, e.g. {"cost_usd": 250}')
    explain.add_argument("--policy", help="policy file (default: COUNTERSIGN_POLICY or the built-in one)")
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(func=admin.cmd_policy_explain)


def _add_audit(sub: Any) -> None:
    audit = sub.add_parser("audit", help="export or verify the audit trail").add_subparsers(
        dest="audit_cmd", required=True
    )
    export = audit.add_parser("export", help="write the audit log")
    export.add_argument("--since")
    export.add_argument("--until")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--output", "-o")
    export.set_defaults(func=admin.cmd_audit_export)
    verify = audit.add_parser("verify", help="check the hash chain; exit 1 naming the first broken entry")
    verify.add_argument("--file", help="verify a JSONL export or archive offline instead of the chain in Redis")
    verify.set_defaults(func=admin.cmd_audit_verify)
    archive = audit.add_parser("archive", help="write the entries before a date to a file, then trim them from Redis")
    archive.add_argument("--before", required=True, help="ISO 8601 date or time (UTC unless it says otherwise)")
    archive.add_argument("--output", "-o", required=True, help="the JSONL file to create (never overwritten)")
    archive.set_defaults(func=admin.cmd_audit_archive)


def _add_web_login(sub: Any) -> None:
    parser = sub.add_parser("web-login", help="print a one-time dashboard sign-in link (15 minutes)")
    parser.add_argument("email")
    parser.add_argument(
        "--admin", action="store_true", help="the session may decide any request, like an approver API key"
    )
    parser.set_defaults(func=admin.cmd_web_login)


def _add_request(sub: Any) -> None:
    request = sub.add_parser(
        "request", help="ask for approval and wait: exit 0 approved, 1 rejected, 2 expired/cancelled, 3 error"
    )
    request.add_argument("--action", required=True)
    request.add_argument("--args", help="the call's arguments as a JSON object")
    request.add_argument("--why", help="why the agent wants to do this")
    request.add_argument("--affected", help="who or what it affects")
    request.add_argument("--reversible", choices=["yes", "no"])
    request.add_argument("--context", help="more context as a JSON object")
    request.add_argument("--risk", choices=RISK_LEVELS, help="risk level hint")
    request.add_argument("--sql", help="the SQL statement, classified by the policy")
    request.add_argument("--timeout", help="give up after this long, e.g. 30m (the request then expires)")
    request.add_argument("--run-id")
    request.add_argument("--idempotency-key", help="re-running with the same key reuses the request")
    request.add_argument(
        "--json",
        action="store_true",
        help="print the (possibly modified) args as JSON on approval; the outcome goes to stderr",
    )
    request.add_argument("--url", help=URL_HELP)
    request.set_defaults(func=client.cmd_request)


def _add_decide_and_pending(sub: Any) -> None:
    for name, helptext in (
        ("approve", "approve a request (with --args: approve with changes)"),
        ("reject", "reject a request"),
    ):
        decide = sub.add_parser(name, help=helptext + " (needs an approver key)")
        decide.add_argument("id")
        decide.add_argument("--comment", "-m")
        if name == "approve":
            decide.add_argument("--args", help="approve with these arguments instead (a JSON object)")
        decide.add_argument("--url", help=URL_HELP)
        decide.set_defaults(func=client.cmd_decide)

    pending = sub.add_parser("pending", help="list the requests waiting for a decision")
    pending.add_argument("--limit", type=int, default=50)
    pending.add_argument("--json", action="store_true")
    pending.add_argument("--url", help=URL_HELP)
    pending.set_defaults(func=client.cmd_pending)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="countersign", description="Human approval for AI agents' risky calls.")
    sub = parser.add_subparsers(dest="command", required=True)
    # In this order in `countersign --help`.
    for add in (
        _add_serve_and_worker,
        _add_policy,
        _add_audit,
        _add_web_login,
        _add_request,
        _add_decide_and_pending,
        agents.register,
    ):
        add(sub)
    add_grants(sub, URL_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"countersign: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
