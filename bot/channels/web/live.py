"""Server-sent events for live pages, fed by the process's one change-feed subscription."""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web

from bot.channels.web.state import WEB, page

routes = web.RouteTableDef()
KEEPALIVE_S = 15.0
MAX_BACKLOG = 1000


@routes.get("/events")
@page()
async def events(request: web.Request) -> web.StreamResponse:
    state = request.app[WEB]
    changes: asyncio.Queue[tuple[str, str]] = asyncio.Queue(MAX_BACKLOG)

    def on_change(approval_id: str, status: str) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a stalled browser misses events, never the server
            changes.put_nowait((approval_id, status))

    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    stop_listening = state.runtime.feed.listen(on_change)
    closed = asyncio.ensure_future(state.closed.wait())
    getter: asyncio.Future[tuple[str, str]] | None = None
    try:
        await response.write(b"retry: 2000\n\n")
        while True:
            getter = asyncio.ensure_future(changes.get())
            done, _ = await asyncio.wait({getter, closed}, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                if closed in done:
                    break
                await response.write(b": keepalive\n\n")
                continue
            approval_id, status = getter.result()
            data = json.dumps({"id": approval_id, "status": status})
            await response.write(f"event: change\ndata: {data}\n\n".encode())
    except ConnectionResetError:
        pass  # the browser went away
    finally:
        closed.cancel()
        if getter is not None:
            getter.cancel()
        stop_listening()
    return response
