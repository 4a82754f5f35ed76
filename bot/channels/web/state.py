"""The dashboard's per-application state and the helpers every page handler shares."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.channels.common.errors import PAGE_TITLE, http_status
from bot.channels.web.auth import PRE_COOKIE, SESSION_COOKIE, Session, WebAuth, same_token
from bot.errors import CountersignError
from bot.runtime import Runtime
from bot.service import Decider

log = logging.getLogger(__name__)
JINJA = web.AppKey("web_jinja", jinja2.Environment)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class WebState:
    runtime: Runtime
    auth: WebAuth
    closed: asyncio.Event = field(default_factory=asyncio.Event)  # set at shutdown: live streams end
    tasks: set[asyncio.Task[None]] = field(default_factory=set)  # mail being sent


WEB = web.AppKey("web_state", WebState)
SESSION = web.RequestKey("web_session", Session)


def session_of(request: web.Request) -> Session | None:
    return request.get(SESSION)


def require_session(request: web.Request) -> Session:
    session = session_of(request)
    if session is None:  # `page()` already answered such a request; this keeps the types honest
        raise web.HTTPSeeOther("/login")
    return session


def decider_for(session: Session) -> Decider:
    return Decider(
        channel="web", id=session.email, name=session.email, identities=frozenset({session.email}), admin=session.admin
    )


async def render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200, csrf: str | None = None
) -> web.Response:
    session = session_of(request)
    values = {"session": session, "csrf": csrf or (session.csrf if session else ""), "path": request.path, **context}
    response = aiohttp_jinja2.render_template(template, request, values, app_key=JINJA, status=status)
    response.headers.update(SECURITY_HEADERS)
    return response


async def message_page(
    request: web.Request, status: int, title: str, text: str, fields: dict[str, str] | None = None
) -> web.Response:
    context = {"title": title, "text": text, "fields": fields or {}}
    return await render(request, "message.html", context, status)


def page(login: bool = True) -> Callable[[Handler], Handler]:  # noqa: C901 -- one wrapper: session, CSRF, errors
    """Wrap a page handler: session (or redirect to sign-in), CSRF on every POST, errors as pages."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            state = request.app[WEB]
            session = await state.auth.load_session(request.cookies.get(SESSION_COOKIE))
            if session is not None:
                request[SESSION] = session
            if login and session is None:
                if request.method == "GET":
                    raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
                return await message_page(request, 403, "Signed out", "Sign in first, then try again.")
            if request.method == "POST":
                try:
                    form = await request.post()
                except web.HTTPRequestEntityTooLarge:
                    return await message_page(request, 413, "Too large", "That form is too large to accept.")
                except (ValueError, AssertionError, HttpProcessingError):  # aiohttp's errors on broken bodies
                    return await message_page(request, 400, "Not accepted", "That form could not be read.")
                given = form.get("csrf") or request.headers.get("X-CSRF-Token")
                pre_cookie = request.cookies.get(PRE_COOKIE)
                if session is not None:
                    expected = session.csrf
                elif pre_cookie:
                    expected = await state.auth.pre_csrf(pre_cookie)
                else:
                    expected = ""  # no form was shown to this browser: nothing can match
                if not expected or not same_token(expected, given if isinstance(given, str) else None):
                    log.info("refused a POST to %s without a valid CSRF token", request.path)
                    return await message_page(
                        request,
                        403,
                        "Refused",
                        "This form is missing its security token or it is stale. Reload the page and try again.",
                    )
            try:
                return await handler(request)
            except CountersignError as exc:
                status = http_status(exc)
                return await message_page(request, status, PAGE_TITLE.get(status, "Error"), exc.message, exc.fields)

        return run

    return wrap
