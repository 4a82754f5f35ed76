"""Tool calls that an agent framework holds for approval: the request each one files, and what the
decision means for the call (run it, run it with the approver's arguments, or tell the model why not).
Shared by the framework adapters (`countersign_sdk.langchain`, `countersign_sdk.openai_agents`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from countersign_sdk.client import build_body, outcome_error
from countersign_sdk.errors import ApprovalRejected
from countersign_sdk.models import Approval
from countersign_sdk.protocol import Plan, Plans

_OPTIONS = frozenset({"risk", "why", "context", "timeout", "action", "sql_arg"})


@dataclass(frozen=True)
class ToolPolicy:
    """How one tool is gated: `True` in a config means all defaults."""

    risk: str | dict[str, Any] | None = None
    why: str | None = None
    context: dict[str, Any] | None = None
    timeout: float | None = None  # cancel the request (and refuse the call) past this many seconds
    action: str | None = None  # the action name approvers see; the tool's name by default
    sql_arg: str | None = None  # an argument holding SQL, sent as `sql` so the policy classifies it

    @classmethod
    def from_config(cls, tool: str, config: bool | Mapping[str, Any] | ToolPolicy) -> ToolPolicy | None:
        """None when the tool is not gated (`False`)."""
        if isinstance(config, ToolPolicy):
            return config
        if config is True:
            return cls()
        if config is False:
            return None
        if not isinstance(config, Mapping):
            raise TypeError(f"interrupt_on[{tool!r}] must be True, False or a dict of {sorted(_OPTIONS)}")
        unknown = set(config) - _OPTIONS
        if unknown:
            raise ValueError(f"interrupt_on[{tool!r}]: unknown option(s) {sorted(unknown)}; use {sorted(_OPTIONS)}")
        return cls(**dict(config))


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: dict[str, Any]
    call_id: str | None
    policy: ToolPolicy


@dataclass(frozen=True)
class ToolVerdict:
    call: ToolCall
    approval: Approval
    run: bool  # the call may run (approved, or expired into approve)
    args: dict[str, Any]  # the arguments to run with (the approver's when they modified them)
    message: str  # for the model when the call does not run

    @property
    def modified(self) -> bool:
        return self.run and self.args != self.call.args


def idempotency_key(call: ToolCall) -> str | None:
    """The framework's tool-call id plus a digest of the call, so a retried call finds its request and a
    reused id (some models and test doubles repeat them) with other arguments is filed anew."""
    if not call.call_id:
        return None
    digest = hashlib.sha256(json.dumps([call.name, call.args], sort_keys=True, default=repr).encode()).hexdigest()
    return f"tool:{call.call_id[:120]}:{digest[:32]}"


def request_body(call: ToolCall) -> dict[str, Any]:
    policy = call.policy
    sql = call.args.get(policy.sql_arg) if policy.sql_arg else None
    return build_body(
        policy.action or call.name,
        call.args,
        why=policy.why,
        context=policy.context,
        risk=policy.risk,
        sql=sql if isinstance(sql, str) else None,
        idempotency_key=idempotency_key(call),
    )


def verdict(call: ToolCall, approval: Approval) -> ToolVerdict:
    error = outcome_error(approval)
    if error is None:
        return ToolVerdict(call, approval, True, dict(approval.final_args), "")
    comment = approval.decision.comment if approval.decision else None
    if isinstance(error, ApprovalRejected):
        message = f"A human rejected {call.name}: {comment or 'no reason given'}"
    else:
        message = f"{call.name} was not approved ({approval.status}): {comment or 'no decision'}"
    return ToolVerdict(call, approval, False, dict(call.args), message)


def decide_all(plans: Plans, calls: list[ToolCall]) -> Plan[list[ToolVerdict]]:
    """File every call first (so approvers see them all at once), then wait for each; a call whose own
    `timeout` passes is cancelled and refused."""
    filed: list[Approval] = []
    for call in calls:
        filed.append((yield from plans.request(request_body(call))))
    verdicts: list[ToolVerdict] = []
    for call, approval in zip(calls, filed, strict=True):
        if approval.pending:
            approval = yield from plans.wait(approval.id, call.policy.timeout)
        if approval.pending:
            approval = yield from plans.cancel(approval.id)
        verdicts.append(verdict(call, approval))
    return verdicts
