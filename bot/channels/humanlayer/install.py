"""Routes of the HumanLayer-compatible API (bearer: Countersign agent keys; respond: approver keys).

Every call ends in ApprovalService; this module only translates. Lookup by call_id: an agent finds its
own calls through the idempotency key it filed them with; approvers, who answer for every agent, through
an index `humanlayer:<kind>:ids:<sha256(call_id)>` (the set of requests filed with that call_id).

A call_id another agent already used is filed like any other (same answer: no oracle for another agent's
ids); an approver's answer by a call_id that names several requests is refused as ambiguous, so nobody can
draw an answer meant for another agent's call onto a request of their own."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.common.auth import KEYRING, Caller
from bot.channels.common.errors import read_model
from bot.channels.humanlayer import mapping, wire
from bot.errors import Conflict, NotFound
from bot.models import Actor, Approval, ApprovalCreate
from bot.runtime import Runtime

log = logging.getLogger(__name__)
PREFIX = "/humanlayer/v1"
RUNTIME = web.AppKey("humanlayer_runtime", Runtime)
FUNCTION_CALL, HUMAN_CONTACT = "fc", "hc"


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _digest(call_id: str) -> str:
    return hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:32]


def _index_key(runtime: Runtime, kind: str, call_id: str) -> str:
    return runtime.keys.named(f"humanlayer:{kind}:ids:{_digest(call_id)}")


def _legacy_index_key(runtime: Runtime, kind: str, call_id: str) -> str:
    """Before the set: one request id per call_id (still read, until it expires with its request)."""
    return runtime.keys.named(f"humanlayer:{kind}:{_digest(call_id)}")


def _idempotency(kind: str, call_id: str) -> str:
    return call_id if kind == FUNCTION_CALL else mapping.CONTACT_KEY_PREFIX + call_id


async def _holders(runtime: Runtime, kind: str, call_id: str) -> list[Approval]:
    """Every live request filed with this call_id, by any agent."""
    index = _index_key(runtime, kind, call_id)
    ids: set[str] = set(await runtime.redis.smembers(index))  # type: ignore[arg-type]  # a decoding client
    if (legacy := await runtime.redis.get(_legacy_index_key(runtime, kind, call_id))) is not None:
        ids.add(str(legacy))
    holders = []
    for approval_id in sorted(ids):
        try:
            holders.append(await runtime.service.get(approval_id))
        except NotFound:
            await runtime.redis.srem(index, approval_id)  # past retention
    return holders


async def _find(request: web.Request, kind: str, caller: Caller) -> Approval:
    runtime = request.app[RUNTIME]
    call_id = request.match_info["call_id"]
    missing = NotFound(f"no {'function call' if kind == FUNCTION_CALL else 'human contact'} {call_id!r}")
    if not caller.approver:
        raw = await runtime.redis.get(runtime.keys.idempotency(caller.name, _idempotency(kind, call_id)))
        if raw is None:
            raise missing
        approval = await runtime.service.get(str(raw))
        if approval.agent != caller.name:
            raise missing
        return approval
    holders = await _holders(runtime, kind, call_id)
    if not holders:
        raise missing
    if len(holders) > 1:
        listed = ", ".join(f"{h.id} ({h.agent})" for h in holders)
        raise Conflict(
            f"call_id {call_id!r} names requests of several agents: {listed}; "
            "decide the intended one by its id (POST /v1/approvals/{id}/decision)"
        )
    return holders[0]


async def _file(request: web.Request, caller: Caller, kind: str, call_id: str, body: ApprovalCreate) -> Approval:
    runtime = request.app[RUNTIME]
    approval, _created = await runtime.service.submit(
        body, caller.name, "question" if kind == HUMAN_CONTACT else "action"
    )
    index = _index_key(runtime, kind, call_id)
    async with runtime.redis.pipeline(transaction=True) as pipe:
        pipe.sadd(index, approval.id)
        pipe.expire(index, runtime.settings.retention_seconds)
        await pipe.execute()
    return approval


# -- function calls ------------------------------------------------------------------------------------
async def create_function_call(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].caller(request)
    call = await read_model(request, wire.FunctionCall)
    approval = await _file(request, caller, FUNCTION_CALL, call.call_id, mapping.function_call_request(call))
    return _json(mapping.function_call_view(approval))


async def get_function_call(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].caller(request)
    return _json(mapping.function_call_view(await _find(request, FUNCTION_CALL, caller)))


async def respond_function_call(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].approver(request)
    status = await read_model(request, wire.FunctionCallStatus)
    approval = await _find(request, FUNCTION_CALL, caller)
    decider = caller.decider
    decided = await request.app[RUNTIME].service.decide(
        approval.id, decider, "approve" if status.approved else "reject", status.comment
    )
    return _json(mapping.function_call_view(decided))


# -- human contacts ------------------------------------------------------------------------------------
async def create_contact(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].caller(request)
    contact = await read_model(request, wire.HumanContact)
    approval = await _file(request, caller, HUMAN_CONTACT, contact.call_id, mapping.contact_request(contact))
    return _json(mapping.contact_view(approval))


async def get_contact(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].caller(request)
    return _json(mapping.contact_view(await _find(request, HUMAN_CONTACT, caller)))


async def respond_contact(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].approver(request)
    answer = await read_model(request, wire.HumanContactStatus)
    approval = await _find(request, HUMAN_CONTACT, caller)
    decider = caller.decider
    decided = await request.app[RUNTIME].service.answer(approval.id, decider, answer.response)
    return _json(mapping.contact_view(decided))


# -- escalation ----------------------------------------------------------------------------------------
def _escalate(
    kind: str, view: Callable[[Approval], dict[str, Any]]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def escalate(request: web.Request) -> web.Response:
        caller = request.app[KEYRING].caller(request)
        escalation = await read_model(request, wire.Escalation)
        approval = await _find(request, kind, caller)
        if not caller.approver:  # each note grows the audit trail: it counts against the agent's rate
            await request.app[RUNTIME].service.take_agent_rate(caller.name)
        # Escalation steps come from the policy; the agent's request is recorded for the approvers.
        await request.app[RUNTIME].service.record(
            "humanlayer_escalation",
            approval.id,
            Actor(channel="api", id=caller.name, name=caller.name),
            message=escalation.escalation_msg,
            recipients=[r.get("address") for r in escalation.additional_recipients or []],
        )
        return _json(view(approval))

    return escalate


def install(app: web.Application, runtime: Runtime) -> None:
    app[RUNTIME] = runtime
    app.router.add_post(f"{PREFIX}/function_calls", create_function_call)
    app.router.add_get(f"{PREFIX}/function_calls/{{call_id}}", get_function_call)
    app.router.add_post(f"{PREFIX}/agent/function_calls/{{call_id}}/respond", respond_function_call)
    app.router.add_post(
        f"{PREFIX}/agent/function_calls/{{call_id}}/escalate_email",
        _escalate(FUNCTION_CALL, mapping.function_call_view),
    )
    app.router.add_post(f"{PREFIX}/contact_requests", create_contact)
    app.router.add_get(f"{PREFIX}/contact_requests/{{call_id}}", get_contact)
    app.router.add_post(f"{PREFIX}/agent/human_contacts/{{call_id}}/respond", respond_contact)
    app.router.add_post(
        f"{PREFIX}/agent/human_contacts/{{call_id}}/escalate_email", _escalate(HUMAN_CONTACT, mapping.contact_view)
    )
    log.info("HumanLayer-compatible API on %s", PREFIX)
