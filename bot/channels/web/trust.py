"""The dashboard's trust pages: Approve & trust similar… on a request page, and the Trust page (standing
grants with Revoke, suggestions from history turned into grants with one click, automatic revocations)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.channels.web.state import WEB, decider_for, page, render, require_session
from bot.errors import Forbidden, InvalidInput
from bot.grants import GrantCreate
from bot.models import Approval
from bot.trust import DURATIONS, parse_grant_body

routes = web.RouteTableDef()
CONDITIONS_MAX = 40


async def trust_form(request: web.Request, approval: Approval) -> dict[str, Any]:
    """What the request page's form starts from: each argument as a condition, and its 30-day coverage."""
    runtime = request.app[WEB].runtime
    session = require_session(request)
    prefill = await runtime.trust.prefill(approval)
    rows = [
        (n, path, json.dumps(condition))
        for n, (path, condition) in enumerate(list(prefill["args"].items())[:CONDITIONS_MAX])
    ]
    covered = await runtime.trust.coverage(parse_grant_body(prefill), decider_for(session))
    return {"rows": rows, "covered": covered, "durations": list(DURATIONS)}


def _grant_body(form: Any, prefill: dict[str, Any]) -> dict[str, Any]:
    conditions: dict[str, Any] = {}
    for n, path in enumerate(list(prefill["args"])[:CONDITIONS_MAX]):
        raw = form.get(f"cond_{n}")
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            conditions[path] = {"exists": True}  # dropped: any value
            continue
        try:
            condition = json.loads(text)
        except ValueError:
            raise InvalidInput(f"args.{path}: not valid JSON", {f"args.{path}": "not valid JSON"}) from None
        conditions[path] = condition if isinstance(condition, dict) else {"eq": condition}
    uses_raw = form.get("max_uses")
    uses_text = uses_raw.strip() if isinstance(uses_raw, str) else ""
    if uses_text and not (uses_text.isdigit() and int(uses_text) >= 1):
        raise InvalidInput("max uses must be a whole number, 1 or more", {"max_uses": "a whole number ≥ 1"})
    return {**prefill, "args": conditions, "max_uses": int(uses_text) if uses_text else None}


async def read_grant_form(request: web.Request, approval: Approval, form: Any) -> GrantCreate:
    """The request page's trust form → a grant body (each condition as edited, empty: any value)."""
    runtime = request.app[WEB].runtime
    duration = DURATIONS.get(str(form.get("duration") or "24h"), DURATIONS["24h"])
    body = _grant_body(form, await runtime.trust.prefill(approval))
    body["expires_at"] = (runtime.clock.now() + duration).isoformat()
    body["reason"] = f"trusted from {approval.id}"
    return parse_grant_body(body)


def conditions_without_values(conditions: dict[str, Any]) -> dict[str, Any]:
    """Each condition with its operators but not its values (`{"eq": "…"}`), for people who are not admins."""
    return {
        path: {op: (value if op == "exists" else "…") for op, value in condition.items()}
        if isinstance(condition, dict)
        else "…"
        for path, condition in conditions.items()
    }


@routes.get("/trust")
@page()
async def trust_page(request: web.Request) -> web.StreamResponse:
    runtime = request.app[WEB].runtime
    session = require_session(request)
    trust = runtime.trust
    context = {
        "grants": await trust.grants(),
        "suggestions": [s.as_json() for s in await trust.suggestions()],
        "revoked": await trust.auto_revoked(),
        "now": runtime.clock.now(),
        # Conditions made through the API may hold values of secret arguments: only admins see the values.
        "shown": (lambda conditions: conditions) if session.admin else conditions_without_values,
    }
    return await render(request, "trust.html", context)


@routes.post("/trust/suggestions")
@page()
async def create_from_suggestion(request: web.Request) -> web.StreamResponse:
    """One click: the suggestion for (agent, action), as computed now, becomes a grant. Admins only: a
    suggestion is not bounded by one request the person may decide."""
    runtime = request.app[WEB].runtime
    session = require_session(request)
    if not session.admin:
        raise Forbidden("only an admin may create a grant from a suggestion; approve & trust a request instead")
    form = await request.post()
    wanted = (form.get("agent"), form.get("action"))
    for suggestion in await runtime.trust.suggestions():
        if (suggestion.agent, suggestion.action) == wanted:
            await runtime.trust.create(parse_grant_body(suggestion.grant), decider_for(session))
            return web.Response(status=303, headers={"Location": "/trust"})
    raise InvalidInput("that suggestion is gone (history changed); reload the Trust page", {"action": "gone"})


@routes.post("/trust/grants/{id}/revoke")
@page()
async def revoke(request: web.Request) -> web.StreamResponse:
    runtime = request.app[WEB].runtime
    session = require_session(request)
    await runtime.trust.revoke(request.match_info["id"], decider_for(session), "revoked on the dashboard")
    return web.Response(status=303, headers={"Location": "/trust"})
