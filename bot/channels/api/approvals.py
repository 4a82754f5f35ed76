"""Routes under /v1/approvals (file, read, long-poll, list, cancel, decide, audit history) and
/v1/questions (file a question; it is then read, waited on and answered like any request)."""

from __future__ import annotations

from aiohttp import web

from bot.agent_view import agent_approval, agent_event
from bot.channels.common.auth import KEYRING, Caller
from bot.channels.common.errors import read_model
from bot.errors import Conflict, InvalidInput, NotFound
from bot.models import Approval, ApprovalCreate, DecisionCreate, QuestionCreate, Status
from bot.service import MAX_WAIT_S, ApprovalService
from bot.summary import with_changes

SERVICE = web.AppKey("service", ApprovalService)
routes = web.RouteTableDef()


def _json(model: object, status: int = 200) -> web.Response:
    return web.Response(
        text=model.model_dump_json(),  # type: ignore[attr-defined]
        status=status,
        content_type="application/json",
    )


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number", {name: "must be a whole number"}) from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be from {low} to {high}", {name: f"must be from {low} to {high}"})
    return value


def _seen_by(caller: Caller, approval: Approval) -> Approval:
    """Approver keys see the full record; an agent sees approvers by name and channel only."""
    return with_changes(approval) if caller.approver else agent_approval(approval)


async def _own(request: web.Request, approval_id: str) -> Caller:
    """Agents see only their own requests; approver keys see all."""
    caller = request.app[KEYRING].caller(request)
    if not caller.approver:
        approval = await request.app[SERVICE].get(approval_id)
        if approval.agent != caller.name:
            raise NotFound(f"no approval {approval_id!r}")
    return caller


@routes.post("/v1/approvals")
async def create_approval(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].caller(request)
    body = await read_model(request, ApprovalCreate)
    # Always an action, whatever the body's context says: only /v1/questions files questions.
    approval, created = await request.app[SERVICE].submit(body, caller.name, "action")
    return _json(_seen_by(caller, approval), 201 if created else 200)


@routes.post("/v1/questions")
async def create_question(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].caller(request)
    body = await read_model(request, QuestionCreate)
    approval, created = await request.app[SERVICE].submit(body.as_request(), caller.name, "question")
    return _json(_seen_by(caller, approval), 201 if created else 200)


@routes.get("/v1/approvals")
async def list_approvals(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].caller(request)
    raw_status = request.query.get("status")
    try:
        status = Status(raw_status) if raw_status else None
    except ValueError:
        raise InvalidInput("unknown status", {"status": "one of " + ", ".join(s.value for s in Status)}) from None
    limit = _int_param(request, "limit", 50, 1, 200)
    cursor = request.query.get("cursor") or None
    try:
        page = await request.app[SERVICE].list_page(
            status=status, agent=None if caller.approver else caller.name, limit=limit, cursor=cursor
        )
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this server issued", {"cursor": "invalid"}) from None
    if not caller.approver:
        page = page.model_copy(update={"items": [agent_approval(item) for item in page.items]})
    return _json(page)


@routes.get("/v1/approvals/{id}")
async def get_approval(request: web.Request) -> web.Response:
    approval_id = request.match_info["id"]
    wait = _int_param(request, "wait", 0, 0, MAX_WAIT_S)
    caller = await _own(request, approval_id)
    return _json(_seen_by(caller, await request.app[SERVICE].wait(approval_id, wait)))


@routes.post("/v1/approvals/{id}/cancel")
async def cancel_approval(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].caller(request)
    approval_id = request.match_info["id"]
    service = request.app[SERVICE]
    try:
        return _json(_seen_by(caller, await service.cancel(approval_id, None if caller.approver else caller.name)))
    except Conflict as exc:  # carries the decided approval
        if isinstance(exc.approval, Approval):
            exc.approval = _seen_by(caller, exc.approval)
        raise


@routes.post("/v1/approvals/{id}/decision")
async def decide_approval(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].approver(request)
    body = await read_model(request, DecisionCreate)
    if body.outcome == "modify" and body.args is None:
        raise InvalidInput("modify needs args", {"args": "required for modify"})
    decider = caller.decider
    approval = await request.app[SERVICE].decide(
        request.match_info["id"], decider, body.outcome, body.comment, body.args
    )
    return _json(approval)


@routes.get("/v1/approvals/{id}/events")
async def approval_events(request: web.Request) -> web.Response:
    approval_id = request.match_info["id"]
    caller = await _own(request, approval_id)
    events = await request.app[SERVICE].events(approval_id)
    if not caller.approver:
        events = [agent_event(event) for event in events]
    return web.Response(text="[" + ",".join(e.model_dump_json() for e in events) + "]", content_type="application/json")
