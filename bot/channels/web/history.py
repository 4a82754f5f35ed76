"""The history and stats pages, and the audit-trail export for a date range."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta

from aiohttp import web

from bot.channels.web.queries import HISTORY_STATUSES, day_ms, parse_filters, to_search
from bot.channels.web.state import WEB, page, render
from bot.errors import InvalidInput
from bot.models import RISK_LEVELS
from bot.search import DECIDED
from bot.service import time_to_decision
from bot.stats import FAST, FATIGUE_MIN

routes = web.RouteTableDef()
PAGE_SIZE = 50
STATS_WINDOWS = {"1": timedelta(days=1), "7": timedelta(days=7), "30": timedelta(days=30)}


@routes.get("/history")
@page()
async def history(request: web.Request) -> web.StreamResponse:
    state = request.app[WEB]
    runtime = state.runtime
    filters = parse_filters(request.query)
    # By decision time, as the "When" column shows (since/until filter the decision date too).
    search = replace(to_search(filters, runtime.clock.now(), filters.status or DECIDED), by_decision=True)
    result = await runtime.service.search(search, PAGE_SIZE, request.query.get("cursor") or None, count=True)
    rows = [(approval, time_to_decision(approval)) for approval in result.items]
    return await render(
        request,
        "history.html",
        {
            "filters": filters,
            "rows": rows,
            "matched": result.matched,
            "truncated": result.truncated,
            "next_cursor": result.next_cursor,
            "statuses": HISTORY_STATUSES,
            "levels": RISK_LEVELS,
            "today": runtime.clock.now().strftime("%Y-%m-%d"),
        },
    )


@routes.get("/history/export")
@page()
async def export(request: web.Request) -> web.StreamResponse:
    runtime = request.app[WEB].runtime
    filters = parse_filters(request.query)
    fmt = request.query.get("format", "jsonl")
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput("unknown export format", {"format": "csv or jsonl"})
    since = day_ms(filters.since) if filters.since else None
    until = day_ms(filters.until) + 86_400_000 - 1 if filters.until else None
    if since is not None and until is not None and since > until:
        raise InvalidInput("the start date is after the end date", {"since": "after until"})
    buffer = io.StringIO()
    count = await runtime.audit.export(buffer, fmt, since, until, await runtime.service.redactor())
    name = f"countersign-audit-{filters.since or 'start'}-to-{filters.until or 'now'}.{fmt}"
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv" if fmt == "csv" else "application/x-ndjson",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Entries": str(count),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@routes.get("/stats")
@page()
async def stats(request: web.Request) -> web.StreamResponse:
    runtime = request.app[WEB].runtime
    window_key = request.query.get("days", "7")
    if window_key not in STATS_WINDOWS:
        raise InvalidInput("unknown window", {"days": "one of " + ", ".join(STATS_WINDOWS)})
    figures = await runtime.service.stats(runtime.clock.now() - STATS_WINDOWS[window_key])
    return await render(
        request,
        "stats.html",
        {
            "stats": figures,
            "pending": figures.pending,
            "days": window_key,
            "windows": list(STATS_WINDOWS),
            "levels": RISK_LEVELS,
            "capped": figures.capped,
            "fast_seconds": int(FAST.total_seconds()),
            "fatigue_min": FATIGUE_MIN,
        },
    )
