"""`countersign grants list|create|revoke`: standing grants through the HTTP API (an approver key in
COUNTERSIGN_API_KEY, the server in COUNTERSIGN_URL or --url)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from bot.durations import parse_duration

EXIT_OK, EXIT_ERROR = 0, 3


def _fail(message: str) -> int:
    print(f"countersign: {message}", file=sys.stderr)
    return EXIT_ERROR


def _call(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    import httpx

    url = args.url or os.environ.get("COUNTERSIGN_URL")
    key = os.environ.get("COUNTERSIGN_API_KEY")
    if not url or not key:
        raise ValueError("set COUNTERSIGN_URL (or --url) and COUNTERSIGN_API_KEY (an approver key)")
    response = httpx.request(
        method, url.rstrip("/") + path, json=body, params=params, timeout=30, headers={"Authorization": f"Bearer {key}"}
    )
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"error": {"message": response.text[:300]}}


def _error(status: int, body: Any) -> int:
    error = body.get("error", {}) if isinstance(body, dict) else {}
    fields = "; ".join(f"{k}: {v}" for k, v in (error.get("fields") or {}).items())
    return _fail(f"HTTP {status}: {error.get('message', '')}" + (f" ({fields})" if fields else ""))


def _line(grant: dict[str, Any]) -> str:
    uses = f"{grant.get('uses', 0)}/{grant['max_uses']}" if grant.get("max_uses") else str(grant.get("uses", 0))
    state = "revoked" if grant.get("revoked_at") else "active"
    return (
        f"{grant['id']}  {grant['agent']}  {grant['action']}  ≤{grant['max_level']}  uses {uses}  "
        f"until {grant['expires_at']}  by {grant['created_by'].get('name') or grant['created_by']['id']}  "
        f"{state}"
    )


def cmd_grants_list(args: argparse.Namespace) -> int:
    try:
        status, body = _call(args, "GET", "/v1/grants", params={"all": "1"} if args.all else None)
    except (ValueError, OSError) as exc:
        return _fail(str(exc))
    if status != 200:
        return _error(status, body)
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        for grant in body:
            print(_line(grant))
        if not body:
            print("no active grants")
    return EXIT_OK


def cmd_grants_create(args: argparse.Namespace) -> int:
    try:
        conditions = json.loads(args.args) if args.args else {}
        if not isinstance(conditions, dict):
            raise ValueError('--args must be a JSON object of conditions, e.g. \'{"env": {"eq": "dev"}}\'')
        expires = datetime.now(UTC) + parse_duration(args.duration)
    except ValueError as exc:
        return _fail(str(exc))
    grant: dict[str, Any] = {
        "agent": args.agent,
        "action": args.action,
        "args": conditions,
        "max_level": args.max_level,
        "expires_at": expires.isoformat(),
        "extra_args": args.extra_args,
    }
    if args.max_uses:
        grant["max_uses"] = args.max_uses
    if args.reason:
        grant["reason"] = args.reason
    try:
        status, body = _call(args, "POST", "/v1/grants", grant)
    except OSError as exc:
        return _fail(str(exc))
    if status != 201:
        return _error(status, body)
    print(json.dumps(body, indent=2) if args.json else f"created {_line(body)}")
    return EXIT_OK


def cmd_grants_revoke(args: argparse.Namespace) -> int:
    try:
        status, body = _call(
            args, "DELETE", f"/v1/grants/{args.id}", params={"reason": args.reason} if args.reason else None
        )
    except (ValueError, OSError) as exc:
        return _fail(str(exc))
    if status != 200:
        return _error(status, body)
    print(f"revoked {_line(body)}")
    return EXIT_OK


def add_grants(sub: Any, url_help: str) -> None:
    grants = sub.add_parser("grants", help="standing grants: list, create, revoke (needs an approver key)")
    commands = grants.add_subparsers(dest="grants_cmd", required=True)
    listing = commands.add_parser("list", help="the active grants (--all: expired, revoked, used up too)")
    listing.add_argument("--all", action="store_true")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--url", help=url_help)
    listing.set_defaults(func=cmd_grants_list)
    create = commands.add_parser("create", help="approve future requests like this one without asking")
    create.add_argument("--agent", required=True, help="agent name or glob")
    create.add_argument("--action", required=True, help="action name or glob")
    create.add_argument("--args", help='conditions as JSON, e.g. \'{"env": {"eq": "dev"}}\'')
    create.add_argument("--extra-args", action="store_true", help="match requests with other arguments too")
    create.add_argument("--max-level", required=True, choices=["low", "medium", "high", "critical"])
    create.add_argument("--for", dest="duration", default="24h", help="how long, at most 30d (default 24h)")
    create.add_argument("--max-uses", type=int)
    create.add_argument("--reason")
    create.add_argument("--json", action="store_true")
    create.add_argument("--url", help=url_help)
    create.set_defaults(func=cmd_grants_create)
    revoke = commands.add_parser("revoke", help="revoke a grant now")
    revoke.add_argument("id")
    revoke.add_argument("--reason")
    revoke.add_argument("--url", help=url_help)
    revoke.set_defaults(func=cmd_grants_revoke)
