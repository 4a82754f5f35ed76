"""Sign-in pages: ask for a link by email, open a link (then confirm with a POST), sign out."""

from __future__ import annotations

import asyncio
import logging
import secrets
from urllib.parse import urlsplit

from aiohttp import web
from redis.exceptions import RedisError

from bot.channels.common import DeliveryError
from bot.channels.common.guard import client_address
from bot.channels.web.auth import PRE_COOKIE, SESSION_COOKIE, SESSION_TTL, LinkError, allowed_emails, normalise_email
from bot.channels.web.mail import send_login_link
from bot.channels.web.state import WEB, WebState, message_page, page, render, session_of
from bot.errors import ConfigError
from bot.models import Actor
from bot.ratelimit import WindowLimit

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never an absolute URL (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


async def _pre_token(request: web.Request) -> tuple[str, str | None]:
    """The CSRF token for a signed-out form, and a new pre-session cookie value to set, if any."""
    cookie = request.cookies.get(PRE_COOKIE)
    fresh = None
    if not cookie or len(cookie) > 100:
        cookie = fresh = secrets.token_urlsafe(24)
    return await request.app[WEB].auth.pre_csrf(cookie), fresh


def _set_pre(response: web.StreamResponse, request: web.Request, fresh: str | None) -> None:
    if fresh:
        response.set_cookie(
            PRE_COOKIE, fresh, httponly=True, samesite="Lax", path="/", secure=request.app[WEB].auth.secure_cookies
        )


@routes.get("/login")
@page(login=False)
async def login_form(request: web.Request) -> web.StreamResponse:
    if session_of(request):
        raise web.HTTPSeeOther(_safe_next(request.query.get("next")))
    token, fresh = await _pre_token(request)
    context = {"next": _safe_next(request.query.get("next")), "sent": False}
    context["mail_off"] = not request.app[WEB].runtime.settings.smtp_url
    response = await render(request, "login.html", context, csrf=token)
    _set_pre(response, request, fresh)
    return response


@routes.post("/login")
@page(login=False)
async def login_request(request: web.Request) -> web.StreamResponse:
    state = request.app[WEB]
    runtime = state.runtime
    limit = WindowLimit(runtime.redis, runtime.keys, "login", runtime.settings.countersign_login_per_minute, 60)
    if (retry_after := await limit.hit(client_address(request))) is not None:
        response = await message_page(
            request,
            429,
            "Too many sign-in requests",
            f"Too many sign-in requests came from your address. Wait {retry_after} seconds, then try again.",
        )
        response.headers["Retry-After"] = str(retry_after)
        return response
    form = await request.post()
    raw = form.get("email")
    email = normalise_email(raw) if isinstance(raw, str) and len(raw) <= 320 else None
    token, _ = await _pre_token(request)
    if email is None:
        return await render(
            request,
            "login.html",
            {"sent": False, "error": "Enter an email address.", "next": "/", "mail_off": not runtime.settings.smtp_url},
            status=400,
            csrf=token,
        )
    # Everything that depends on the address happens after the answer, in the background: the page and its
    # timing are the same whether or not the address may sign in, so neither reveals who can.
    task = asyncio.create_task(_send_link(state, email))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
    # Whether mail is on is the server's setting, the same for every address: saying so reveals no one.
    return await render(
        request, "login.html", {"sent": True, "next": "/", "mail_off": not runtime.settings.smtp_url}, csrf=token
    )


async def _send_link(state: WebState, email: str) -> None:
    runtime = state.runtime
    if email not in allowed_emails(runtime.policy, runtime.settings):
        log.info("sign-in link asked for an address that is not an approver or web user")
        return
    smtp_url = runtime.settings.smtp_url
    try:
        if not await state.auth.allow_link_mail(email):
            return
        if not smtp_url:
            log.warning(
                "SMTP_URL is unset: mail is off, so no sign-in link was sent (use `countersign web-login EMAIL`)"
            )
            return
        link = await state.auth.make_link(email, runtime.clock.now())
        await send_login_link(smtp_url, runtime.settings.email_from, email, link)
        await runtime.service.record("web_link_sent", None, Actor(channel="web", id=email, name=email))
    except (OSError, ValueError, ConfigError, DeliveryError, RedisError) as exc:
        log.warning("could not mail a sign-in link: %s", getattr(exc, "message", exc))


@routes.get("/login/{token}")
@page(login=False)
async def login_link(request: web.Request) -> web.StreamResponse:
    # Opening the link changes nothing (mail scanners fetch links): a button POSTs to sign in.
    state = request.app[WEB]
    try:
        email, admin, _ = await state.auth.read_link(request.match_info["token"], state.runtime.clock.now())
    except LinkError as exc:
        return await message_page(request, 400, "Sign-in link not accepted", str(exc))
    token, fresh = await _pre_token(request)
    response = await render(
        request, "login_link.html", {"email": email, "admin": admin, "token": request.match_info["token"]}, csrf=token
    )
    _set_pre(response, request, fresh)
    return response


@routes.post("/login/{token}")
@page(login=False)
async def login_confirm(request: web.Request) -> web.StreamResponse:
    state = request.app[WEB]
    runtime = state.runtime
    try:
        email, admin, nonce = await state.auth.read_link(request.match_info["token"], runtime.clock.now())
    except LinkError as exc:
        return await message_page(request, 400, "Sign-in link not accepted", str(exc))
    if not await state.auth.consume_link(nonce):
        await runtime.service.record("web_link_reused", None, Actor(channel="web", id=email, name=email))
        return await message_page(
            request, 400, "Sign-in link not accepted", "This sign-in link has already been used; ask for a new one."
        )
    cookie, _ = await state.auth.create_session(email, admin)
    actor = Actor(channel="web", id=email, name=email)
    await runtime.service.record("web_signed_in", None, actor, admin=admin)
    response = web.Response(status=303, headers={"Location": "/"})
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="Lax",
        path="/",
        secure=state.auth.secure_cookies,
        max_age=int(SESSION_TTL.total_seconds()),
    )
    response.del_cookie(PRE_COOKIE, path="/")
    return response


@routes.post("/logout")
@page()
async def logout(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    if session:
        await request.app[WEB].auth.end_session(session)
    response = web.Response(status=303, headers={"Location": "/login"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
