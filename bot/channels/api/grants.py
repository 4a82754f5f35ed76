"""Routes under /v1/grants (standing grants and suggestions; approver keys only) and the agent's
`POST /v1/approvals/{id}/outcome`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.agent_view import agent_approval
from bot.channels.common.auth import KEYRING
from bot.channels.common.errors import read_model
from bot.errors import Forbidden
from bot.grants import Grant, GrantCreate
from bot.models import OutcomeReport
from bot.runtime import Runtime

RUNTIME = web.AppKey("grants_runtime", Runtime)
routes = web.RouteTableDef()


def _grant_json(grant: Grant, status: int = 200) -> web.Response:
    return web.Response(text=grant.model_dump_json(by_alias=True), status=status, content_type="application/json")


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


@routes.post("/v1/grants")
async def create_grant(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].approver(request)
    body = await read_model(request, GrantCreate)
    grant = await request.app[RUNTIME].trust.create(body, caller.decider)
    return _grant_json(grant, 201)


@routes.get("/v1/grants")
async def list_grants(request: web.Request) -> web.Response:
    request.app[KEYRING].approver(request)
    include_all = request.query.get("all", "") in ("1", "true", "yes")
    grants = await request.app[RUNTIME].trust.grants(include_all)
    return web.Response(
        text="[" + ",".join(g.model_dump_json(by_alias=True) for g in grants) + "]", content_type="application/json"
    )


@routes.get("/v1/grants/suggestions")
async def grant_suggestions(request: web.Request) -> web.Response:
    request.app[KEYRING].approver(request)
    found = await request.app[RUNTIME].trust.suggestions()
    return _json({"items": [suggestion.as_json() for suggestion in found]})


@routes.get("/v1/grants/{id}")
async def get_grant(request: web.Request) -> web.Response:
    request.app[KEYRING].approver(request)
    return _grant_json(await request.app[RUNTIME].trust.get(request.match_info["id"]))


@routes.delete("/v1/grants/{id}")
async def revoke_grant(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].approver(request)
    reason = request.query.get("reason") or None
    grant = await request.app[RUNTIME].trust.revoke(
        request.match_info["id"], caller.decider, reason[:500] if reason else None
    )
    return _grant_json(grant)


@routes.post("/v1/approvals/{id}/outcome")
async def report_outcome(request: web.Request) -> web.Response:
    caller = request.app[KEYRING].caller(request)
    if caller.approver:
        raise Forbidden("only the agent that filed the request reports its outcome")
    body = await read_model(request, OutcomeReport)
    approval = await request.app[RUNTIME].trust.report_outcome(request.match_info["id"], caller.name, body)
    return web.Response(text=agent_approval(approval).model_dump_json(), content_type="application/json")
