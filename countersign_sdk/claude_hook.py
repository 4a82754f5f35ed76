"""`countersign hook claude-code`: a Claude Code `PreToolUse` command hook. Reads the hook's JSON on
stdin, files the tool call as a request (`claude-code.<tool_name>`), waits for a human and prints
exactly one JSON decision on stdout (exit 0): allow (with `updatedInput` when the approver changed the
input), deny (rejected), or ask (fall back to Claude Code's own prompt: no decision in time, or the
server cannot be reached; `--fail-closed` makes that deny). Bad input on stdin exits 2 with one line on
stderr, which Claude Code shows to the model."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import signal
from dataclasses import dataclass
from typing import IO, Any

from countersign_sdk.action_names import action_part, first_line
from countersign_sdk.client import Countersign
from countersign_sdk.errors import CountersignError
from countersign_sdk.models import Approval
from countersign_sdk.protocol import RetryPolicy

MAX_STDIN_BYTES = 8 * 1024 * 1024  # a Write of a large file fits; beyond this is not a tool call
MAX_DEPTH = 64  # the server refuses more than 32 anyway; this only keeps the parser safe
EXIT_BAD_INPUT = 2
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-]{1,150}$")
# A hook is on the critical path of every tool call: a down server must not cost minutes of retries.
HOOK_RETRY = RetryPolicy(attempts=3, base=0.2, cap=1.0)


class BadHookInput(Exception):
    pass


class Terminated(Exception):
    """SIGTERM while waiting (Claude Code's hook timeout)."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


@dataclass(frozen=True)
class ToolCall:
    tool_name: str
    tool_input: dict[str, Any]
    session_id: str | None
    tool_use_id: str | None
    cwd: str | None


def _depth_ok(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return True


def parse_event(raw: bytes) -> ToolCall:
    if len(raw) > MAX_STDIN_BYTES:
        raise BadHookInput(f"hook input is over {MAX_STDIN_BYTES // (1024 * 1024)} MiB")
    try:
        event = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadHookInput("hook input is not UTF-8") from None
    except RecursionError:
        raise BadHookInput(f"hook input is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise BadHookInput(f"hook input is not JSON ({str(exc).splitlines()[0][:100]})") from None
    if not isinstance(event, dict):
        raise BadHookInput("hook input must be a JSON object")
    if not _depth_ok(event, MAX_DEPTH):
        raise BadHookInput(f"hook input is nested more than {MAX_DEPTH} levels deep")
    if event.get("hook_event_name", "PreToolUse") != "PreToolUse":
        raise BadHookInput("countersign hook claude-code handles PreToolUse events only")
    tool_name, tool_input = event.get("tool_name"), event.get("tool_input", {})
    if not isinstance(tool_name, str) or not tool_name:
        raise BadHookInput("hook input has no tool_name")
    if not isinstance(tool_input, dict):
        raise BadHookInput("tool_input must be a JSON object")
    optional = {name: event.get(name) for name in ("session_id", "tool_use_id", "cwd")}
    for name, value in optional.items():
        if value is not None and not isinstance(value, str):
            raise BadHookInput(f"{name} must be a string")
    return ToolCall(tool_name, tool_input, optional["session_id"], optional["tool_use_id"], optional["cwd"])


def _key(tool_use_id: str | None) -> str | None:
    if not tool_use_id:
        return None
    plain = (
        tool_use_id
        if _PLAIN_ID.match(tool_use_id)
        else hashlib.sha256(tool_use_id.encode("utf-8", "surrogatepass")).hexdigest()
    )
    return f"claude-code-{plain}"


def _answer(decision: str, reason: str, updated_input: dict[str, Any] | None = None) -> dict[str, Any]:
    output: dict[str, Any] = {
        "hookEventName": "PreToolUse",
        "permissionDecision": decision,
        "permissionDecisionReason": reason,
    }
    if updated_input is not None:
        output["updatedInput"] = updated_input
    return {"hookSpecificOutput": output}


def answer_for(approval: Approval, fail_closed: bool, waited: float | None = None) -> dict[str, Any]:
    """`waited` is set when this hook gave up waiting and withdrew the request."""
    decision = approval.decision
    comment = f": {decision.comment}" if decision and decision.comment else ""
    by = decision.by.label if decision else "nobody"
    where = f" (Countersign request {approval.id})"
    if approval.go_ahead:
        modified = decision is not None and decision.outcome == "modify" and decision.args is not None
        verb = "approved with changes" if modified else "approved"
        return _answer("allow", f"{verb} by {by}{comment}{where}", approval.final_args if modified else None)
    if approval.status == "rejected":
        return _answer("deny", f"rejected by {by}{comment}{where}")
    fallback = "deny" if fail_closed else "ask"
    if waited is not None and approval.status in ("pending", "cancelled"):
        state = f"no decision within {waited:g} s; the request was withdrawn"
    elif approval.status == "expired":
        state = "the request expired without a decision"
    else:
        state = f"the request was {approval.status}"
    return _answer(fallback, f"Countersign: {state}{comment}{where}")


def decide(call: ToolCall, gate: Countersign, timeout: float, fail_closed: bool) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if call.cwd:
        context["cwd"] = call.cwd
    description = call.tool_input.get("description") if call.tool_name == "Bash" else None
    why = first_line(description) if isinstance(description, str) else None
    action, key = f"claude-code.{action_part(call.tool_name)}", _key(call.tool_use_id)
    options: dict[str, Any] = {
        "why": why,
        "context": context,
        "idempotency_key": key,
        "run_id": call.session_id[:200] if call.session_id else None,
    }
    approval: Approval | None = None
    try:
        approval = gate.request(action, call.tool_input, **options)
        if approval.pending:
            approval = gate.wait(approval.id, timeout)
    except Terminated:
        # Claude Code stopped the hook (its own `timeout`): nobody will act on this approval. Filed but not
        # yet answered? The same idempotency key finds it.
        with contextlib.suppress(CountersignError, Terminated):
            if approval is None and key is not None:
                approval = gate.request(action, call.tool_input, **options)
            if approval is not None and approval.pending:
                gate.cancel(approval.id)
        raise
    if not approval.pending:
        return answer_for(approval, fail_closed)
    # Nobody will act on an approval after Claude Code has moved on: withdraw it (a decision that landed
    # meanwhile comes back instead, and counts).
    approval = gate.cancel(approval.id)
    return answer_for(approval, fail_closed, None if approval.status == "approved" else timeout)


def run(
    stdin: IO[bytes],
    stdout: IO[str],
    stderr: IO[str],
    *,
    url: str | None = None,
    timeout: float = 540.0,
    fail_closed: bool = False,
) -> int:
    try:
        call = parse_event(stdin.read(MAX_STDIN_BYTES + 1))
    except BadHookInput as exc:
        print(f"countersign hook: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    signal.signal(signal.SIGTERM, _terminate)
    try:
        answer = decide(call, Countersign(url=url, retry=HOOK_RETRY, connect_timeout=5.0), timeout, fail_closed)
    except Terminated:
        return 143
    except CountersignError as exc:
        fallback = "deny" if fail_closed else "ask"
        answer = _answer(fallback, f"Countersign could not be reached or refused the request: {exc}")
    stdout.write(json.dumps(answer) + "\n")
    stdout.flush()
    return 0
