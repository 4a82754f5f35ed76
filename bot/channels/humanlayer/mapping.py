"""Pure translation between HumanLayer's calls and contacts and Countersign approvals, both ways.

A function call is an approval of `spec.fn` with `spec.kwargs` as args and `call_id` as idempotency key.
A human contact is a *question*: a request of kind `question` (stored, set by the contact route only) whose
action is QUESTION_ACTION; the human's answer is the decision's comment, returned in `status.response`."""

from __future__ import annotations

import json
from typing import Any

from bot.channels.humanlayer import wire
from bot.clock import iso
from bot.models import Approval, ApprovalCreate, Context, QuestionCreate, Status

QUESTION_ACTION = "human_contact"
CONTACT_KEY_PREFIX = "contact:"


def function_call_request(call: wire.FunctionCall) -> ApprovalCreate:
    spec = call.spec
    return ApprovalCreate.model_validate(
        {
            "action": spec.fn,
            "args": spec.kwargs,
            "run_id": call.run_id,
            "idempotency_key": call.call_id,
            "context": {
                "humanlayer": {
                    "kind": "function_call",
                    "call_id": call.call_id,
                    "channel": spec.channel,
                    "reject_options": spec.reject_options,
                    "state": spec.state,
                }
            },
        }
    )


def contact_request(contact: wire.HumanContact) -> ApprovalCreate:
    """The request a contact files; the route files it with kind `question`."""
    spec = contact.spec
    context = Context.model_validate(
        {
            "why": spec.msg,
            "humanlayer": {
                "kind": "human_contact",
                "call_id": contact.call_id,
                "subject": spec.subject,
                "channel": spec.channel,
                "response_options": spec.response_options,
                "state": spec.state,
            },
        }
    )
    question = QuestionCreate(
        question=spec.msg,
        subject=spec.subject,
        context=context,
        run_id=contact.run_id,
        idempotency_key=CONTACT_KEY_PREFIX + contact.call_id,
    )
    return question.as_request(QUESTION_ACTION)


def is_question(approval: Approval) -> bool:
    return approval.kind == "question"


def _meta(approval: Approval) -> dict[str, Any]:
    meta = approval.context.get("humanlayer")
    return meta if isinstance(meta, dict) else {}


def _call_id(approval: Approval) -> str:
    return str(_meta(approval).get("call_id") or approval.idempotency_key or approval.id)


def function_call_status(approval: Approval) -> dict[str, Any]:
    decision = approval.decision
    status: dict[str, Any] = {
        "requested_at": iso(approval.created_at),
        "responded_at": None,
        "approved": None,
        "comment": None,
        "reject_option_name": None,
        "slack_message_ts": None,
    }
    if approval.status == Status.pending or decision is None:
        return status
    status["responded_at"] = iso(decision.at)
    comment = decision.comment
    if approval.status == Status.approved and decision.outcome == "modify":
        # HumanLayer cannot run a call with other arguments: refuse it, and tell the agent which to use.
        changed = json.dumps(decision.args, sort_keys=True)
        status.update(
            approved=False,
            comment=f"approved only with these arguments: {changed}" + (f" ({comment})" if comment else ""),
        )
    elif approval.status == Status.approved or (approval.status == Status.expired and decision.outcome == "approve"):
        status.update(approved=True, comment=comment)
    else:
        # The SDK needs a comment on every rejection.
        status.update(approved=False, comment=comment or f"request {approval.status.value}")
    return status


def function_call_view(approval: Approval) -> dict[str, Any]:
    meta = _meta(approval)
    return {
        "run_id": approval.run_id or "",
        "call_id": _call_id(approval),
        "spec": {
            "fn": approval.action,
            "kwargs": approval.args,
            "channel": meta.get("channel"),
            "reject_options": meta.get("reject_options"),
            "state": meta.get("state"),
        },
        "status": function_call_status(approval),
    }


def contact_status(approval: Approval) -> dict[str, Any]:
    decision = approval.decision
    status: dict[str, Any] = {
        "requested_at": iso(approval.created_at),
        "responded_at": None,
        "response": None,
        "response_option_name": None,
    }
    if approval.status == Status.pending or decision is None:
        return status
    status["responded_at"] = iso(decision.at)
    if approval.status == Status.approved:
        status["response"] = decision.comment or "approved"
    elif approval.status == Status.rejected:
        status["response"] = decision.comment or "(declined to answer)"
    else:
        # Answer something, or the SDK would poll for ever.
        status["response"] = f"(no answer: the question was {approval.status.value})"
    return status


def contact_view(approval: Approval) -> dict[str, Any]:
    meta = _meta(approval)
    return {
        "run_id": approval.run_id or "",
        "call_id": _call_id(approval),
        "spec": {
            "msg": approval.args.get("message", ""),
            "subject": meta.get("subject"),
            "channel": meta.get("channel"),
            "response_options": meta.get("response_options"),
            "state": meta.get("state"),
        },
        "status": contact_status(approval),
    }
