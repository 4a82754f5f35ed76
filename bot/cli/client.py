"""Client commands: `request` and `pending` for agents (the shell/CI gate), `approve` and `reject` for
approvers (they need an approver key).

They are clients of the HTTP API through the SDK (COUNTERSIGN_URL, COUNTERSIGN_API_KEY), so they
work against any running server. `request` exits 0 approved, 1 rejected, 2 expired or cancelled,
3 on any error, so that `countersign request … && ./deploy.sh` does what it says.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from countersign_sdk import Approval, Countersign

EXIT_APPROVED, EXIT_REJECTED, EXIT_EXPIRED, EXIT_ERROR = 0, 1, 2, 3
DEFAULT_URL = "http://127.0.0.1:3000"
HINT_AFTER_S = 3.0
GRACE_S = 10  # after --timeout, give the server's own expiry this long to land before cancelling


def fail(message: str) -> int:
    print(f"countersign: {message}", file=sys.stderr)
    return EXIT_ERROR


def server_url(args: argparse.Namespace) -> str:
    """--url, else COUNTERSIGN_URL, else a server on this machine (`countersign serve`'s default)."""
    return (getattr(args, "url", None) or os.environ.get("COUNTERSIGN_URL") or DEFAULT_URL).rstrip("/")


def _gate(args: argparse.Namespace) -> Countersign:
    from countersign_sdk import Countersign

    # The SDK logs what the server did not honour (e.g. an ignored --timeout); here that is one stderr line.
    sdk_log = logging.getLogger("countersign_sdk")
    if not sdk_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("countersign: warning: %(message)s"))
        sdk_log.addHandler(handler)
        sdk_log.propagate = False
    return Countersign(url=server_url(args))


@contextmanager
def reach_hint(url: str, after_s: float = HINT_AFTER_S) -> Iterator[None]:
    """While a call to the server has not answered after `after_s`, say once what to check (the SDK goes on
    retrying a refused connection for a while, silently)."""
    hint = threading.Timer(
        after_s,
        lambda: print(
            f"countersign: no answer from {url} yet — is the server running (`countersign serve`)? "
            "Point at another with --url or COUNTERSIGN_URL.",
            file=sys.stderr,
        ),
    )
    hint.daemon = True
    hint.start()
    try:
        yield
    finally:
        hint.cancel()


def _json_object(raw: str | None, flag: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object")
    return value


def _outcome_line(approval: Approval) -> str:
    decision = approval.decision
    by = decision.by.label if decision else "nobody"
    comment = f": {decision.comment}" if decision and decision.comment else ""
    if approval.status == "approved":
        verb = "approved with changes" if decision and decision.outcome == "modify" else "approved"
        return f"{approval.action} {verb} by {by}{comment} ({approval.id})"
    if approval.go_ahead:
        return f"{approval.action} approved by the timeout policy{comment} ({approval.id})"
    return (
        f"{approval.action} {approval.status}{' by ' + by if approval.status == 'rejected' else ''}"
        f"{comment} ({approval.id})"
    )


def exit_code(approval: Approval) -> int:
    # The contract: 0 approved, 1 rejected, 2 expired or cancelled — an expiry exits 2 even where the
    # level's on_timeout is approve (the printed line says so; `--json` still prints the args).
    if approval.status == "approved":
        return EXIT_APPROVED
    if approval.status == "rejected":
        return EXIT_REJECTED
    if approval.status in ("expired", "cancelled"):
        return EXIT_EXPIRED
    return EXIT_ERROR


# -- request -----------------------------------------------------------------------------------------
def cmd_request(args: argparse.Namespace) -> int:
    from bot.durations import parse_duration
    from countersign_sdk import CountersignError

    try:
        call_args = _json_object(args.args, "--args")
        extra_context = _json_object(args.context, "--context")
        timeout_s = int(parse_duration(args.timeout).total_seconds()) if args.timeout else None
    except ValueError as exc:
        return fail(str(exc))
    context = {**extra_context, **{k: v for k, v in (("affected", args.affected),) if v}}
    if args.reversible is not None:
        context["reversible"] = args.reversible == "yes"
    approval = None
    try:
        gate = _gate(args)
        with reach_hint(server_url(args)):
            approval = gate.request(
                args.action,
                call_args,
                why=args.why,
                context=context,
                risk=args.risk,
                sql=args.sql,
                run_id=args.run_id,
                idempotency_key=args.idempotency_key,
                timeout_s=timeout_s,
            )
        if approval.pending:
            print(
                f"waiting for a decision on {approval.action} ({approval.id}): "
                f"{server_url(args)}/requests/{approval.id}",
                file=sys.stderr,
            )
            approval = gate.wait(approval.id, None if timeout_s is None else timeout_s + GRACE_S)
        if approval.pending:
            approval = gate.cancel(approval.id)
    except KeyboardInterrupt:
        if approval is not None and approval.pending:
            try:
                gate.cancel(approval.id)
                print(f"cancelled {approval.id}", file=sys.stderr)
            except CountersignError:
                pass
        return 130
    except CountersignError as exc:
        return fail(str(exc))
    line = _outcome_line(approval)
    if args.json:
        print(line, file=sys.stderr)
        if approval.go_ahead:
            print(json.dumps(approval.final_args))
    else:
        print(line)
    return exit_code(approval)


# -- approve / reject --------------------------------------------------------------------------------
def cmd_decide(args: argparse.Namespace) -> int:
    from countersign_sdk import CountersignError

    try:
        modified = _json_object(args.args, "--args") if getattr(args, "args", None) else None
    except ValueError as exc:
        return fail(str(exc))
    outcome = "reject" if args.command == "reject" else ("modify" if modified is not None else "approve")
    try:
        with reach_hint(server_url(args)):
            approval = _gate(args).decide(args.id, outcome, args.comment, modified)
    except CountersignError as exc:
        return fail(str(exc))
    print(_outcome_line(approval))
    return 0


# -- pending -----------------------------------------------------------------------------------------
def _age(approval: Approval) -> str:
    if approval.created_at is None:
        return "?"
    seconds = int((datetime.now(UTC) - approval.created_at).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def cmd_pending(args: argparse.Namespace) -> int:
    from countersign_sdk import CountersignError

    try:
        with reach_hint(server_url(args)):
            items = _gate(args).list("pending", args.limit)
    except CountersignError as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps([item.model_dump(mode="json") for item in items], indent=2))
        return 0
    if not items:
        print("no pending requests")
        return 0
    width = max(len(item.id) for item in items)
    print(f"{'ID':<{width}}  {'LEVEL':<8} {'AGE':>4}  {'AGENT':<16} ACTION ARGS")
    for item in items:
        shown = json.dumps(item.args, separators=(",", ":"))
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        print(f"{item.id:<{width}}  {item.risk_level:<8} {_age(item):>4}  {item.agent:<16} {item.action} {shown}")
    return 0
