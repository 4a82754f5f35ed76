"""The queue and request pages, and the forms that decide from them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.channels.web.decisions import MAX_BATCH, decide_batch, read_args, read_comment, read_outcome
from bot.channels.web.present import (
    SORTS,
    by_urgency,
    context_items,
    diff_rows,
    needs_confirmation,
    sql_segments,
)
from bot.channels.web.queries import AGE_LABELS, parse_filters, to_search
from bot.channels.web.state import WEB, decider_for, page, render, require_session
from bot.channels.web.trust import read_grant_form, trust_form
from bot.clock import to_ms
from bot.display import one_line
from bot.errors import Forbidden, InvalidInput, TooSoon
from bot.models import RISK_LEVELS, Approval, Status
from bot.summary import modify_changes, reason_words, summarize

routes = web.RouteTableDef()
PAGE_SIZE = 50
URGENCY_WINDOW = 500
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def check_id(raw: object) -> str:
    if not isinstance(raw, str) or not 1 <= len(raw) <= 64 or not set(raw) <= _ID_CHARS:
        raise InvalidInput("not a request id", {"id": "not a request id"})
    return raw


def summary(approval: Approval) -> str:
    """The queue's Why: the agent's `why`, else the classification's reasons in words."""
    why = approval.context.get("why")
    line = why if isinstance(why, str) and why.strip() else "; ".join(reason_words(r) for r in approval.risk_reasons)
    line = " ".join(line.split())
    return line if len(line) <= 140 else line[:139] + "…"


@routes.get("/")
@page()
async def queue(request: web.Request) -> web.StreamResponse:
    state = request.app[WEB]
    runtime = state.runtime
    filters = parse_filters(request.query)
    # A cursor belongs to the newest-first walk.
    sort = read_sort(request.query.get("sort") or ("newest" if request.query.get("cursor") else None))
    now = runtime.clock.now()
    next_offset: int | None = None
    search = to_search(filters, now, Status.pending.value)
    if sort == "urgency":
        # The most urgent of the newest URGENCY_WINDOW matches, a page at a time.
        offset = read_offset(request.query.get("offset"))
        result = await runtime.service.search(search, URGENCY_WINDOW, None, count=True)
        ordered = by_urgency(result.items)
        items = ordered[offset : offset + PAGE_SIZE]
        next_offset = offset + PAGE_SIZE if len(ordered) > offset + PAGE_SIZE else None
        result.next_cursor = None
    else:
        result = await runtime.service.search(search, PAGE_SIZE, request.query.get("cursor") or None, count=True)
        items = result.items
    context: dict[str, Any] = {
        "filters": filters,
        "items": items,
        "matched": result.matched,
        "truncated": result.truncated,
        "next_cursor": result.next_cursor,
        "next_offset": next_offset,
        "sort": sort,
        "sorts": SORTS,
        "now": now,
        "upto": to_ms(now),
        "ages": AGE_LABELS,
        "summarize": summarize,
        "summary": summary,
        "levels": RISK_LEVELS,
        "first_page": not request.query.get("cursor") and not request.query.get("offset"),
        "max_batch": MAX_BATCH,
    }
    template = "_queue_rows.html" if request.query.get("partial") == "1" else "queue.html"
    return await render(request, template, context)


def read_sort(raw: str | None) -> str:
    if not raw:
        return "urgency"
    if raw not in SORTS:
        raise InvalidInput("unknown sort order", {"sort": "one of " + ", ".join(SORTS)})
    return raw


def read_offset(raw: str | None) -> int:
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) >= URGENCY_WINDOW:
        raise InvalidInput("not a page offset", {"offset": f"a whole number below {URGENCY_WINDOW}"})
    return int(raw)


async def next_pending(request: web.Request, after: str) -> Approval | None:
    """The most urgent pending request other than `after`: where "next" goes after a decision."""
    state = request.app[WEB]
    runtime = state.runtime
    now = runtime.clock.now()
    result = await runtime.service.search(to_search(parse_filters({}), now, Status.pending.value), URGENCY_WINDOW)
    ordered = by_urgency([a for a in result.items if a.id != after])
    return ordered[0] if ordered else None


@routes.post("/batch")
@page()
async def batch(request: web.Request) -> web.StreamResponse:
    state = request.app[WEB]
    runtime = state.runtime
    session = require_session(request)
    form = await request.post()
    outcome = read_outcome(form.get("outcome"), ("approve", "reject"))
    comment = read_comment(form.get("comment"))
    if form.get("scope") == "all":
        filters = parse_filters(form)
        try:
            upto = int(str(form.get("upto", "")))
        except ValueError:
            raise InvalidInput("the page's time mark is missing", {"upto": "required"}) from None
        # Only what the person could have seen: nothing filed after the page was drawn.
        ids = await runtime.service.search_ids(
            to_search(filters, runtime.clock.now(), Status.pending.value, upto_ms=upto), MAX_BATCH
        )
    else:
        ids = [check_id(v) for v in form.getall("id", [])]
        if len(ids) > MAX_BATCH:
            raise InvalidInput(f"at most {MAX_BATCH} requests at once", {"id": "too many"})
    if not ids:
        raise InvalidInput("select at least one request", {"id": "nothing selected"})
    found = {s.approval.id: s.approval for s in await runtime.store.get_many(ids)}
    labels = {i: (one_line(a.action, 120), a.risk_level.value) for i, a in found.items()}
    if needs_confirmation([a.risk_level for a in found.values()]) and form.get("confirmed") != "1":
        # High or critical in the batch: show the list and ask for a typed reason before acting.
        return await render(
            request,
            "batch_confirm.html",
            {
                "ids": ids,
                "labels": labels,
                "outcome": outcome,
                "comment": comment or "",
                "missing_reason": form.get("confirming") == "1" and not comment,
            },
        )
    if needs_confirmation([a.risk_level for a in found.values()]) and not comment:
        return await render(
            request,
            "batch_confirm.html",
            {"ids": ids, "labels": labels, "outcome": outcome, "comment": "", "missing_reason": True},
            400,
        )
    result = await decide_batch(runtime.service, decider_for(session), ids, outcome, comment)
    return await render(request, "batch_result.html", {"result": result, "labels": labels})


@routes.get("/requests/{id}")
@page()
async def request_page(request: web.Request) -> web.StreamResponse:
    return await _request_view(request)


@routes.post("/requests/{id}/reveal")
@page()
async def reveal(request: web.Request) -> web.StreamResponse:
    """An admin's explicit, audited request to see the secret values the page masks."""
    runtime = request.app[WEB].runtime
    session = require_session(request)
    approval = await runtime.service.reveal(check_id(request.match_info["id"]), decider_for(session))
    return await _request_view(request, revealed=approval)


async def _request_view(
    request: web.Request,
    error: InvalidInput | None = None,
    args_text: str | None = None,
    status: int = 200,
    revealed: Approval | None = None,
) -> web.Response:
    runtime = request.app[WEB].runtime
    session = require_session(request)
    approval_id = check_id(request.match_info["id"])
    stored = await runtime.service.get_stored(approval_id)
    # Secret values stay masked (and the editor holds their masks) unless an admin revealed them.
    approval = revealed or await runtime.service.for_humans(stored.approval)
    masked = approval != stored.approval
    refusal = None
    if approval.status == Status.pending:
        refusal = await runtime.service.may_decide(stored, decider_for(session))
    events = await runtime.service.events(approval_id)
    voted = any(v.by.channel == "web" and v.by.id == session.email for v in approval.approvals)
    now = runtime.clock.now()
    decided = request.query.get("decided") in ("1", "vote")
    sql, sql_formatted = sql_segments(approval.sql) if approval.sql else ([], False)
    context = {
        "approval": approval,
        "route": stored.route,
        "events": events,
        "refusal": refusal,
        "voted": voted,
        "facts": summarize(approval, now, stored.route.rules),
        "changes": diff_rows(modify_changes(approval)),
        "sql_segments": sql,
        "sql_formatted": sql_formatted,
        "decided": decided,
        "next": await next_pending(request, approval_id),
        "args_json": json.dumps(approval.args, indent=2, ensure_ascii=False),
        "args_text": args_text if args_text is not None else json.dumps(approval.args, indent=2, ensure_ascii=False),
        "context_items": context_items(approval.context),
        "error": error,
        "now": now,
        "summary": summary,
        "can_reveal": session.admin and masked,
        "trust": await trust_form(request, approval)
        if approval.status == Status.pending and not refusal and approval.kind == "action"
        else None,
        "reason_to_reject": runtime.service.reason_required(stored, "reject"),
    }
    return await render(request, "request.html", context, status)


async def request_error(request: web.Request, exc: InvalidInput | Forbidden) -> web.Response:
    """A refused decision shown on the request page (a missing reason, the rubber-stamp guard…)."""
    error = exc if isinstance(exc, InvalidInput) else InvalidInput(exc.message, exc.fields)
    return await _request_view(request, error, None, 403 if isinstance(exc, Forbidden) else 400)


@routes.post("/requests/{id}/decide")
@page()
async def decide(request: web.Request) -> web.StreamResponse:
    runtime = request.app[WEB].runtime
    session = require_session(request)
    approval_id = check_id(request.match_info["id"])
    form = await request.post()
    args_text = form.get("args") if isinstance(form.get("args"), str) else None
    try:
        outcome = read_outcome(form.get("outcome"))
        comment = read_comment(form.get("comment"))
        args = read_args(args_text) if outcome == "modify" else None
        if form.get("answer") == "1":
            # A question's Answer box: the text is the answer (the service refuses it for an action).
            if outcome != "approve" or not comment:
                raise InvalidInput("write the answer", {"comment": "the answer is required"})
            await runtime.service.answer(approval_id, decider_for(session), comment)
        else:
            await runtime.service.decide(approval_id, decider_for(session), outcome, comment, args)
    except InvalidInput as exc:
        return await _request_view(request, exc, args_text if isinstance(args_text, str) else None, 400)
    except TooSoon as exc:  # the rubber-stamp guard: shown on the page, the same click later works
        return await request_error(request, exc)
    return web.Response(status=303, headers={"Location": f"/requests/{approval_id}?decided=1"})


@routes.post("/requests/{id}/trust")
@page()
async def approve_and_trust(request: web.Request) -> web.StreamResponse:
    """Approve & trust similar…: approve this request and create the grant, in one step."""
    runtime = request.app[WEB].runtime
    session = require_session(request)
    approval_id = check_id(request.match_info["id"])
    approval = await runtime.service.get(approval_id)
    form = await request.post()
    try:
        grant = await read_grant_form(request, approval, form)
        await runtime.trust.approve_and_trust(
            approval_id, decider_for(session), grant, read_comment(form.get("comment"))
        )
    except (InvalidInput, Forbidden) as exc:
        return await request_error(request, exc)
    return web.Response(status=303, headers={"Location": f"/requests/{approval_id}"})
